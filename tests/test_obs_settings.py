"""The script's settings logic, fast: fdstyle_obs.settings directly, obs_fdstyle.py with a fake obspython."""

from __future__ import annotations

import functools
import glob
import importlib
import re
import sys
import types
from pathlib import Path

import pytest

from fdstyle_core.engine.selection import device_class
from fdstyle_core.engine.styles import default_style
from fdstyle_core.errors import FdstyleError
from fdstyle_core.stabilizers import DEFAULT_MODE, MODES
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_obs import settings
from tests.conftest import require

REPO = Path(__file__).resolve().parent.parent


def test_defaults_come_from_the_core() -> None:
    values = settings.defaults()
    mask = MaskParams()
    for key in settings.MASK_KEY_TYPES:
        assert values[key] == getattr(mask, key), key
        assert type(values[key]) is settings.KEY_TYPES[key], key
    assert values["mode"] == DEFAULT_MODE and values["device"] == "auto" and values["enabled"] is True
    assert set(values) == set(settings.KEY_TYPES)
    cpu, gpu = default_style("cpu"), default_style("gpu")
    assert cpu is not None and gpu is not None and cpu.name != gpu.name
    assert values["style"] == (gpu if device_class("auto", "auto") == "gpu" else cpu).name


def test_a_gpu_machine_starts_with_its_own_default_style(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "device_class", lambda device, engine: "gpu")
    gpu = default_style("gpu")
    assert gpu is not None and settings.defaults()["style"] == gpu.name


def test_every_default_is_within_its_limits() -> None:
    values = settings.defaults()
    for key, (low, high) in settings.LIMITS.items():
        assert low <= values[key] <= high, key


def test_to_worker_config(candy: Path) -> None:
    values = {**settings.defaults(), "style": str(candy), "threshold": 30, "mode": "perframe", "show_mask": True}
    config = settings.to_worker_config(values, max_fps=60)
    assert config.pipeline.mask.threshold == 30 and config.pipeline.mode == "perframe"
    assert config.show_mask and config.max_fps == 60


def test_reference_options_reach_the_mask(candy: Path) -> None:
    changes = {"auto_threshold": True, "feather": 0, "refresh_fraction": 0.25, "crossfade_frames": 6, "skip_work": False}
    values = {**settings.defaults(), "style": str(candy), "mode": "reference", **changes}
    mask = settings.to_worker_config(values, max_fps=30).pipeline.mask
    assert {key: getattr(mask, key) for key in changes} == changes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"style": " "}, "choose a style"),
        ({"dilate_kernel": 4}, "odd"),
        ({"mode": "nope"}, "unknown mode"),
        ({"device": "tpu"}, "unknown device"),
        ({"processing_height": -2}, "processing height"),
    ],
)
def test_bad_values_give_readable_errors(candy: Path, change: dict, message: str) -> None:
    with pytest.raises(FdstyleError, match=message):
        settings.to_worker_config({**settings.defaults(), "style": str(candy), **change}, max_fps=30)


def test_parse_changes_checks_keys_and_types() -> None:
    assert settings.parse_changes({"threshold": 20.0, "enabled": False}) == {"threshold": 20, "enabled": False}
    with pytest.raises(FdstyleError, match="unknown setting"):
        settings.parse_changes({"thresh": 1})
    with pytest.raises(FdstyleError, match="whole number"):
        settings.parse_changes({"threshold": True})
    with pytest.raises(FdstyleError, match="must be a str"):
        settings.parse_changes({"style": 3})


def test_parse_changes_reference_options() -> None:
    changes = {"refresh_fraction": 1, "feather": 8.0, "skip_work": False, "auto_threshold": True}
    parsed = settings.parse_changes(changes)
    assert parsed == changes and type(parsed["refresh_fraction"]) is float and type(parsed["feather"]) is int
    with pytest.raises(FdstyleError, match="must be a number"):
        settings.parse_changes({"refresh_fraction": "half"})
    with pytest.raises(FdstyleError, match="must be a bool"):
        settings.parse_changes({"skip_work": 1})
    with pytest.raises(FdstyleError, match="between 0.05 and 1.0"):
        settings.parse_changes({"refresh_fraction": 0.01})
    with pytest.raises(FdstyleError, match="between 0 and 32"):
        settings.parse_changes({"feather": 33})


class FakeData(dict):
    """Stands in for obs_data_t."""


class FakeProperties:
    """Records what the script adds: key -> (obspython function, its arguments), and tooltips."""

    def __init__(self) -> None:
        self.added: dict[str, tuple[str, tuple]] = {}
        self.tooltips: dict[str, str] = {}
        self.items: dict[str, list[str]] = {}


def fake_obspython() -> types.ModuleType:
    """Enough of obspython for the script's import, defaults, description and properties."""
    obs = types.ModuleType("obspython")
    for kind in ("string", "int", "double", "bool"):
        setattr(obs, f"obs_data_set_default_{kind}", lambda data, key, value: data.setdefault(key, value))
    obs.script_log = lambda level, message: None
    obs.LOG_ERROR = 100
    obs.obs_properties_create = FakeProperties
    obs.obs_enum_sources = lambda: []
    obs.source_list_release = lambda sources: None
    obs.obs_properties_get = lambda props, key: key if key in props.added else None
    obs.obs_property_set_long_description = lambda key, text: None  # replaced per test, see below
    obs.obs_property_list_add_string = lambda prop, name, value: prop.append(value)
    obs.obs_property_list_add_int = lambda prop, name, value: prop.append(value)
    obs.obs_property_set_modified_callback = lambda prop, callback: None

    def add(function: str):  # every obs_properties_add_* records itself
        def record(props: FakeProperties, key: str, *args: object) -> object:
            props.added[key] = (function, args)
            return props.items.setdefault(key, []) if function == "obs_properties_add_list" else key

        return record

    def module_getattr(name: str) -> object:
        if name.startswith("obs_properties_add_"):
            return add(name)
        if name.startswith("OBS_"):
            return name
        raise AttributeError(name)

    obs.__getattr__ = module_getattr  # type: ignore[attr-defined]
    return obs


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.setitem(sys.modules, "obspython", fake_obspython())
    monkeypatch.syspath_prepend(str(REPO))
    sys.modules.pop("obs_fdstyle", None)
    return importlib.import_module("obs_fdstyle")


def test_script_defaults_and_description(script: types.ModuleType) -> None:
    data = FakeData()
    script.script_defaults(data)
    assert data == settings.defaults()
    assert "fdstyle output" in script.script_description()


def test_every_setting_has_a_bounded_property_with_a_tooltip(script: types.ModuleType) -> None:
    tooltips: dict[str, str] = {}
    script.obs.obs_property_set_long_description = lambda key, text: tooltips.__setitem__(key, text)
    props = script.script_properties()
    assert set(settings.KEY_TYPES) <= set(props.added)
    assert set(settings.KEY_TYPES) <= set(tooltips)
    assert props.items["mode"] == list(MODES)
    assert props.items["processing_height"] == [value for _, value in settings.PROCESSING_HEIGHTS]
    assert props.added["processing_height"][1][-1] == "OBS_COMBO_FORMAT_INT"
    for key, (low, high) in settings.LIMITS.items():
        if key == "processing_height":
            continue  # a list of presets (checked above); remote requests are bounded by LIMITS
        function, args = props.added[key]
        kind = "float" if settings.KEY_TYPES[key] is float else "int"
        assert function.startswith(f"obs_properties_add_{kind}") and tuple(args[1:3]) == (low, high), key
    for key in ("dilate_kernel", "dilate_iters"):
        assert "paper mode" in tooltips[key] and "reference mode" in tooltips[key]
    for mode in MODES:
        assert f"{mode}:" in tooltips["mode"]


def test_stored_values_missing_from_a_list_stay_listed(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType) -> None:
    """A camera that is gone for now, a height set remotely: opening the window must not change them."""
    stored = FakeData({**settings.defaults(), "camera_source": "Gone camera", "processing_height": 296, "style": "Candy"})
    monkeypatch.setattr(script, "_session", types.SimpleNamespace(settings=stored, status=lambda: {"text": ""}))
    script.obs.obs_data_get_int = script.obs.obs_data_get_string = lambda data, key: data[key]
    script.obs.obs_data_set_string = lambda data, key, value: None
    props = script.script_properties()
    assert props.items["camera_source"] == ["Gone camera"]
    assert props.items["processing_height"] == [value for _, value in settings.PROCESSING_HEIGHTS] + [296]
    assert props.items["mode"] == list(MODES)
    assert "Candy" not in props.items["style"]  # an editable list shows the stored text in its own field


def test_missing_torch_is_explained_not_raised(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType) -> None:
    monkeypatch.setitem(sys.modules, "fdstyle_core.live.worker", None)  # import of it now fails
    sys.modules.pop("obs_fdstyle", None)
    broken = importlib.import_module("obs_fdstyle")
    assert "install/install.sh" in broken.script_description()
    broken.script_load(FakeData())  # logs the explanation, starts nothing
    broken.script_unload()


def test_a_busy_worker_is_awaited_when_python_exits(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType) -> None:
    """OBS finalizes Python right after unloading the script: a worker still converting a style must end first."""
    stops: list[float] = []

    class BusyWorker:
        def stop(self, timeout: float) -> bool:
            stops.append(timeout)
            return False

    at_exit: list = []
    monkeypatch.setattr(script.atexit, "register", lambda function, *args: at_exit.append(functools.partial(function, *args)))
    monkeypatch.setattr(script.libobs.OutputWriter, "clear", staticmethod(lambda: None))
    session = object.__new__(script.Session)
    session.worker, session.reader = BusyWorker(), types.SimpleNamespace(close=lambda: None)
    session.close()
    assert stops == [script.STOP_TIMEOUT_S] and len(at_exit) == 1
    at_exit[0]()
    assert stops == [script.STOP_TIMEOUT_S, script.EXIT_STOP_TIMEOUT_S]
    session.worker = None  # a worker that finished on its own is freed, not kept for the exit
    at_exit[0]()
    assert len(stops) == 2


def test_venv_lookup(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType, tmp_path: Path) -> None:
    monkeypatch.setenv("FDSTYLE_VENV", str(tmp_path))
    assert script.venv_dir() == tmp_path
    site_packages = tmp_path / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site_packages.mkdir(parents=True)
    assert script.venv_site_packages(tmp_path) == [site_packages]
    monkeypatch.delenv("FDSTYLE_VENV")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert script.venv_dir() == tmp_path / "fdstyle" / "venv"


def test_every_obspython_name_the_script_uses_exists_in_obs() -> None:
    """The fake above accepts any name; OBS's own obspython (from obs-studio) is the check.

    obspython.py holds the SWIG wrappers; OBS's scripting library adds the rest when it loads a
    script (script_log, obs_enum_sources, property callbacks), so their names are in its binary.
    """
    wrappers = glob.glob("/usr/lib/*/obs-scripting/obspython.py") + glob.glob("/usr/lib/obs-scripting/obspython.py")
    loaders = glob.glob("/usr/lib/*/libobs-scripting.so*") + glob.glob("/usr/lib/libobs-scripting.so*")
    require(bool(wrappers and loaders), "obs-studio is not installed (no obspython.py / libobs-scripting)")
    exported = set(re.findall(r"^(?:def )?(\w+)\s*[(=]", Path(wrappers[0]).read_text(), re.MULTILINE))
    loader = Path(loaders[0]).read_bytes()
    used = set(re.findall(r"\bobs\.(\w+)", (REPO / "obs_fdstyle.py").read_text()))
    missing = sorted(name for name in used - exported if b"\0" + name.encode() + b"\0" not in loader)
    assert used and not missing, missing
