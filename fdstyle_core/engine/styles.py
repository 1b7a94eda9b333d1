"""Finding style models and loading them safely.

Style files are traded between people, so they are untrusted: they are read with
``torch.load(weights_only=True)`` and must be a flat mapping of parameter names to tensors
that matches one of the style networks (``engine.network``) exactly (old files' instance-norm
running statistics, which the network never uses, are dropped).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from fdstyle_core.engine.manifest import read_entries
from fdstyle_core.engine.network import StyleNet, architecture_from_state_dict, build_network
from fdstyle_core.errors import StyleError
from fdstyle_core.io.paths import user_data_dir

PROJECT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
USER_STYLES_ENV = "FDSTYLE_STYLES"
_IGNORED_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
log = logging.getLogger("fdstyle")
VARIANT_LABELS = {"full": " (full, for GPUs)", "lite": " (lite, fastest on CPUs)"}


@dataclass(frozen=True)
class Style:
    name: str
    path: Path
    display_name: str
    is_default: bool = False
    default_for: tuple[str, ...] = ()  # the device classes that start with this style
    variant: str | None = None  # "fast" (slim, for CPUs), "lite" (fastest on CPUs) or "full"; None where no manifest says
    variant_of: str | None = None  # a full or lite variant: the name of the style it is another network of

    @property
    def label(self) -> str:
        """The name a style list shows: a full or a lite variant says so."""
        return self.display_name + VARIANT_LABELS.get(self.variant or "", "")


def user_styles_dir() -> Path:
    """Where users drop their own ``.pth`` files (``$FDSTYLE_STYLES`` overrides)."""
    return user_data_dir("styles", USER_STYLES_ENV)


def find_styles(extra_dirs: list[Path] | None = None) -> list[Style]:
    """All styles in the project's ``models/``, the user folder and ``extra_dirs``, first name wins."""
    found: dict[str, Style] = {}
    for folder in [PROJECT_MODELS_DIR, user_styles_dir(), *(extra_dirs or [])]:
        if not folder.is_dir():
            continue
        try:
            manifest = read_entries(folder)
        except StyleError as exc:  # a damaged manifest costs its display names, never the styles
            log.warning("%s; listing its styles without it", exc)
            manifest = {}
        for path in sorted(folder.glob("*.pth")):
            name = path.stem
            if name in found:
                continue
            entry = manifest.get(name, {})
            found[name] = Style(
                name=name,
                path=path,
                display_name=entry.get("display_name", name.replace("_", " ").title()),
                is_default=bool(entry.get("default", False)),
                default_for=tuple(entry.get("default_for", ())),
                variant=entry.get("variant"),
                variant_of=entry.get("variant_of"),
            )
    return sorted(found.values(), key=lambda s: (not s.is_default, s.display_name.lower()))


def default_style(device_class: str = "cpu") -> Style | None:
    """The style a machine of ``device_class`` starts with: the manifest's for that class, else the default, else the first."""
    styles = find_styles()
    for candidates in ([s for s in styles if device_class in s.default_for], [s for s in styles if s.is_default], styles):
        if candidates:
            return candidates[0]
    return None


def variant_for(name_or_path: str, device_class: str) -> str:
    """The style to run when ``name_or_path`` is picked on a machine of ``device_class``.

    On a GPU a style's full variant, where one is installed: there the full network is live and
    paints finer.  Elsewhere, for a path, and for a full variant picked by its own name, the pick itself.
    """
    if device_class != "gpu":
        return name_or_path
    styles = find_styles()
    picked = next((s for s in styles if name_or_path in (s.name, s.display_name)), None)
    if picked is None or picked.variant == "full":
        return name_or_path
    full = next((s for s in styles if s.variant == "full" and s.variant_of == picked.name), None)
    return full.name if full else name_or_path


def resolve_style(name_or_path: str) -> Path:
    """A path to an existing file, or the name of a style found by :func:`find_styles`."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    for style in find_styles():
        if style.name == name_or_path or style.display_name == name_or_path:
            return style.path
    if candidate.suffix == ".pth" or os.sep in name_or_path:
        raise StyleError(f"style file not found: {name_or_path}")
    known = ", ".join(s.name for s in find_styles()) or "none installed"
    raise StyleError(f"unknown style '{name_or_path}' (known: {known}); pass a path to a .pth file")


def _describe_keys(keys: set[str], limit: int = 4) -> str:
    shown = sorted(keys)[:limit]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load and validate a style file; returns float32 tensors with the network's exact keys."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"style file not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types, with advice to load unsafely, for corrupt or unsafe files
        raise StyleError(
            f"cannot read style file {path.name}: not a PyTorch .pth of tensors (damaged, another format, "
            "or holding Python objects, which are refused because loading them could run code)"
        ) from None
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in raw.items()
    ):
        raise StyleError(f"{path.name} is not a state dict (a flat mapping of names to tensors)")
    state = {k: v for k, v in raw.items() if not k.endswith(_IGNORED_SUFFIXES)}
    try:
        architecture = architecture_from_state_dict(state)
    except ValueError as exc:
        raise StyleError(f"{path.name} is not a fast_neural_style model: {exc}") from None
    expected = build_network(architecture).state_dict()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_describe_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected {_describe_keys(unexpected)}")
        raise StyleError(f"{path.name} is not a fast_neural_style model: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise StyleError(
                f"{path.name}: {key} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}"
            )
        if not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise StyleError(f"{path.name}: {key} holds non-finite or non-float values")
    return {k: v.float() for k, v in state.items()}


def load_network(path: Path) -> StyleNet:
    """A ready-to-run network (eval mode, no gradients) from a style file."""
    state = read_state_dict(path)
    net = build_network(architecture_from_state_dict(state))
    net.load_state_dict(state)
    net.eval().requires_grad_(False)
    return net
