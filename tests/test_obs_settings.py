"""The script's settings logic, fast: fdstyle_obs.settings directly, obs_fdstyle.py with a fake obspython."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

from fdstyle_core.errors import FdstyleError
from fdstyle_core.pipeline import MODES
from fdstyle_core.stabilizer import MaskParams
from fdstyle_obs import settings

REPO = Path(__file__).resolve().parent.parent


def test_defaults_come_from_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    values = settings.defaults()
    mask = MaskParams()
    assert values["threshold"] == int(mask.threshold) and values["erode_iters"] == mask.erode_iters
    assert values["mode"] in MODES and values["device"] == "auto" and values["enabled"] is True
    assert set(values) == set(settings.KEY_TYPES)


def test_to_worker_config(candy: Path) -> None:
    values = {**settings.defaults(), "style": str(candy), "threshold": 30, "mode": "perframe", "show_mask": True}
    config = settings.to_worker_config(values, max_fps=60)
    assert config.pipeline.mask.threshold == 30 and config.pipeline.mode == "perframe"
    assert config.show_mask and config.max_fps == 60


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"style": " "}, "choose a style"),
        ({"dilate_kernel": 4}, "odd"),
        ({"mode": "nope"}, "unknown mode"),
        ({"device": "tpu"}, "unknown device"),
        ({"processing_height": -1}, "processing height"),
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


class FakeData(dict):
    """Stands in for obs_data_t."""


def fake_obspython() -> types.ModuleType:
    """Enough of obspython for the script's import, defaults and description."""
    obs = types.ModuleType("obspython")
    for kind in ("string", "int", "bool"):
        setattr(obs, f"obs_data_set_default_{kind}", lambda data, key, value: data.setdefault(key, value))
    obs.script_log = lambda level, message: None
    obs.LOG_ERROR = 100
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


def test_missing_torch_is_explained_not_raised(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType) -> None:
    monkeypatch.setitem(sys.modules, "fdstyle_core.worker", None)  # import of it now fails
    sys.modules.pop("obs_fdstyle", None)
    broken = importlib.import_module("obs_fdstyle")
    assert "install/install.sh" in broken.script_description()
    broken.script_load(FakeData())  # logs the explanation, starts nothing
    broken.script_unload()


def test_venv_lookup(monkeypatch: pytest.MonkeyPatch, script: types.ModuleType, tmp_path: Path) -> None:
    monkeypatch.setenv("FDSTYLE_VENV", str(tmp_path))
    assert script.venv_dir() == tmp_path
    site_packages = tmp_path / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site_packages.mkdir(parents=True)
    assert script.venv_site_packages(tmp_path) == [site_packages]
    monkeypatch.delenv("FDSTYLE_VENV")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert script.venv_dir() == tmp_path / "fdstyle" / "venv"
