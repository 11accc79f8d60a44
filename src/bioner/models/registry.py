"""Finds a model directory from a path or the name of a model bundled with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bioner.errors import BionerError


def bundled_model_names() -> list[str]:
    folder = resources.files("bioner") / "resources" / "models"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def resolve_model_path(path_or_name: str | Path) -> Path:
    """A model directory path, or the bundled model of that name."""
    path = Path(path_or_name)
    if path.is_dir():
        return path
    bundled = resources.files("bioner") / "resources" / "models" / str(path_or_name)
    if bundled.is_dir():
        return Path(str(bundled))
    names = ", ".join(bundled_model_names()) or "none"
    raise BionerError(
        f"no model directory {str(path_or_name)!r} and no bundled model of that name "
        f"(bundled: {names})"
    )
