"""A folder's ``styles.json``: read by ``styles.find_styles``, written by training.

Training writes one entry per style: display name, the painting and its licence, and exactly how
the network was trained, so a shipped style can be reproduced and its licence checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Collection
from typing import Any

from fdstyle_core.errors import StyleError
from fdstyle_core.io.atomic import replaced_on_success

MANIFEST_NAME = "styles.json"

# Entries must say all of this; tests of shipped styles check it.
REQUIRED_FIELDS = (
    "name", "display_name", "painting", "title", "artist", "year", "licence",
    "loss_network", "content_layer", "style_layers", "weights", "steps", "images_seen", "data",
    "width", "variant", "minutes", "images_per_second", "machine", "default_for",
)
DEVICE_CLASSES = ("cpu", "gpu")  # which style a machine starts with: "default_for" lists the classes


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"styles": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StyleError(f"style manifest {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("styles", []), list):
        raise StyleError(f"style manifest {path} has no 'styles' list")
    data.setdefault("styles", [])
    return data


def read_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """``folder``'s manifest entries by style name (entries that are not objects with a name are skipped)."""
    entries = _load(folder / MANIFEST_NAME)["styles"]
    return {entry["name"]: entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)}


def find_entry(folder: Path, name: str) -> dict[str, Any] | None:
    """The manifest entry for ``name`` in ``folder``, if there is one."""
    return read_entries(folder).get(name)


def record_entry(folder: Path, entry: dict[str, Any], default_for: Collection[str] = ()) -> Path:
    """Add or replace ``entry`` (by name) in ``folder``'s manifest.  It stays the default, and the
    style machines of some classes start with, where the entry it replaces was; ``default_for``
    adds classes (the others lose them), and every class makes it the default style."""
    path = folder / MANIFEST_NAME
    data = _load(path)
    is_entry = [isinstance(e, dict) and e.get("name") == entry["name"] for e in data["styles"]]
    previous = next((e for e, same in zip(data["styles"], is_entry) if same), {})
    styles = [e for e, same in zip(data["styles"], is_entry) if not same]
    everywhere = set(default_for) >= set(DEVICE_CLASSES)
    for other in styles:
        if isinstance(other, dict) and default_for:
            other["default_for"] = [c for c in other.get("default_for", []) if c not in default_for]
            other["default"] = other.get("default", False) and not everywhere
    kept = set(default_for) | set(previous.get("default_for", []))
    classes = [c for c in DEVICE_CLASSES if c in kept]
    styles.append({**entry, "default": everywhere or bool(previous.get("default", False)), "default_for": classes})
    data["styles"] = sorted(styles, key=lambda e: str(e.get("name", "")) if isinstance(e, dict) else "")
    with replaced_on_success(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
