"""An experiment config: model architecture + training settings + data, loaded from TOML/JSON.

Presets live in `bioner/configs/<name>.toml` (TOML so the paper reference can sit beside
each value as a comment). `load_config("saber-baseline")` finds a preset by name; a path
loads a file. `--set section.key=value` overrides are parsed as TOML values.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from bioner.errors import BionerError
from bioner.models.config import ModelConfig, StrictModel
from bioner.training.config import TrainingConfig, validation_issues


class DataConfig(StrictModel):
    """Where the examples come from. A `corpus` folder supplies whichever splits are unset."""

    corpus: str | None = None
    train: str | None = None
    dev: str | None = None
    test: str | None = None
    format: str | None = None
    dev_fraction: float = Field(
        0.0, ge=0.0, lt=1.0, description="Hold out this share of training documents as dev."
    )
    split_seed: int = 0
    tokenizer: Literal["default", "variant", "fine"] = Field(
        "default",
        description="How raw-text corpora (PubTator, BioC, BRAT) and raw text are tokenized: "
        "default (the corpora's CoNLL tokens), variant (DeepVar §4.1) or fine (tmVar-style).",
    )
    label_map: dict[str, str] = Field(default_factory=dict)
    labels: list[str] | None = Field(None, description="Keep only these entity types.")


class ExperimentConfig(StrictModel):
    name: str = "custom"
    reference: str = ""
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)


def preset_names() -> list[str]:
    folder = resources.files("bioner") / "configs"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BionerError(f"{path}: cannot read config ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise BionerError(f"{path}: not valid UTF-8 ({error.reason})") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw)
    except json.JSONDecodeError as error:
        raise BionerError(f"{path}, line {error.lineno}: invalid JSON ({error.msg})") from None
    except tomllib.TOMLDecodeError as error:
        raise BionerError(f"{path}: invalid TOML ({error})") from None
    if not isinstance(data, dict):  # a JSON array or number: no sections to read
        raise BionerError(f"{path}: a config must be a JSON object, got {type(data).__name__}")
    return data


def _apply_override(data: dict[str, Any], assignment: str) -> tuple[str, ...]:
    """Set one `section.key=value` in `data`; return the key's parts (to blame it later)."""
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise BionerError(f"--set {assignment!r}: expected section.key=value")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare word: take it as a string
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BionerError(f"--set {assignment!r}: {part!r} is not a section")
    node[leaf] = parsed
    return (*parents, leaf)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_config(
    name_or_path: str | Path, seen: tuple[str, ...] = (), referrer: str | None = None
) -> tuple[dict, str]:
    """A config's mapping with its `extends = "preset"` base merged under it, and its source.

    `extends` lets a preset state only how it differs from another (e.g. `deepvar-fine`
    from `deepvar`), so the shared settings live in one file. `referrer` is the config whose
    `extends` named this one, so that a misspelt base names the file to fix.
    """
    path = Path(name_or_path)
    if path.suffix in (".toml", ".json") or path.exists():
        source = str(path)
        data = _read_mapping(path)
    else:
        preset = resources.files("bioner") / "configs" / f"{name_or_path}.toml"
        if not preset.is_file():
            named_by = f"{referrer}: `extends` names " if referrer else ""
            raise BionerError(
                f"{named_by}no config file or preset named {str(name_or_path)!r}; "
                f"presets: {', '.join(preset_names())}"
            )
        source = f"preset {name_or_path}"
        data = tomllib.loads(preset.read_text(encoding="utf-8"))
    base = data.pop("extends", None)
    if base is None:
        return data, source
    if not isinstance(base, str) or base in seen or str(name_or_path) == base:
        raise BionerError(f"{source}: `extends` must name another preset, got {base!r}")
    base_data, _ = _read_config(base, (*seen, str(name_or_path)), source)
    return _deep_merge(base_data, data), source


def load_config(
    name_or_path: str | Path,
    overrides: list[str] | None = None,
    *,
    origins: Mapping[str, str] | None = None,
) -> ExperimentConfig:
    """Load a preset by name or a TOML/JSON file, apply overrides, validate strictly.

    A bad value is blamed on where it came from: the preset or file, or the `--set` that
    gave it (a typo on the command line is not the preset's fault). `origins` names other
    sources of some assignments (a search space's sampled values are not `--set`s).
    """
    data, source = _read_config(name_or_path)
    from_file = copy.deepcopy(data)  # the overrides below edit nested sections in place
    origins = origins or {}
    applied = [
        (_apply_override(data, assignment), origins.get(assignment, f"--set {assignment}"))
        for assignment in overrides or []
    ]
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as error:
        by_origin: dict[str, list[str]] = {}
        for loc, issue in validation_issues(error, model=ExperimentConfig):
            origin = _origin(tuple(str(part) for part in loc), from_file, applied, source)
            by_origin.setdefault(origin, []).append(issue)
        parts = [f"{origin}: {'; '.join(issues)}" for origin, issues in by_origin.items()]
        raise BionerError("; ".join(parts)) from None


def _origin(
    loc: tuple[str, ...],
    from_file: dict[str, Any],
    applied: list[tuple[tuple[str, ...], str]],
    source: str,
) -> str:
    """Who set the value at `loc`: the last `--set` of it (or of a section holding it), else
    the config file; for a section-wide problem that `--set`s inside it may have caused, the
    file together with them (or the `--set`s alone when the file has no such section).
    `applied` pairs each assignment's key path with how to name it."""
    setting = [origin for key, origin in applied if loc[: len(key)] == key]
    if setting:
        return setting[-1]
    inside = [origin for key, origin in applied if key[: len(loc)] == loc]
    if not inside:
        return source
    if _has_path(from_file, loc):
        return f"{source} with {', '.join(inside)}"
    return ", ".join(inside)


def _has_path(data: Any, loc: tuple[str, ...]) -> bool:
    """Whether the nested mapping `data` holds the key path `loc`."""
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True
