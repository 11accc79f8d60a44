"""Resumable training checkpoints written without pickle and replaced atomically.

A checkpoint must let an interrupted run continue bit-identically (model weights, optimizer
moments and step counts, every random generator, the trainer's own counters), and loading
one must never execute code, so nothing here uses pickle or `torch.load`: tensors go to
safetensors files, everything else to JSON.

Layout of `<directory>/<tag>/` (tag "last" or "best"):

    model.safetensors        model parameters and buffers, each copied to the CPU on its own
    optimizer.safetensors    every tensor of `optimizer.state_dict()`
    optimizer.json           the rest of it, tensors replaced by {"__tensor__": name}
    rng.safetensors          torch CPU (and CUDA) generator states
    rng.json                 Python `random` and NumPy legacy generator states
    trainer_state.json       the caller's JSON-able dict (epoch, step, best score, ...)
    checkpoint.json          format marker; written last, so its presence means complete

A new checkpoint is written into a temporary folder beside the old one; the old one is then
renamed to `<tag>.previous`, the new one renamed into place, and only then is the previous
one deleted. A crash at any moment leaves a complete checkpoint under `<tag>` or
`<tag>.previous`, and `load_checkpoint` falls back to the latter.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bioner.errors import BionerError

PathLike = str | os.PathLike[str]
Tag = Literal["last", "best"]

FORMAT = "bioner-checkpoint"
VERSION = 1

MODEL_FILE = "model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
RNG_TENSORS = "rng.safetensors"
RNG_JSON = "rng.json"
TRAINER_STATE = "trainer_state.json"
MARKER = "checkpoint.json"

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__dict_items__"
_DIR_MODE = 0o755


# ---------------------------------------------------------------- nested state <-> JSON + tensors
def _externalize(value: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """JSON-able copy of `value`; tensors are moved into `tensors` and referenced by name."""
    if isinstance(value, torch.Tensor):
        name = path or "tensor"
        tensors[name] = value.detach().to("cpu").contiguous().clone()
        return {_TENSOR: name}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {
                key: _externalize(item, tensors, f"{path}.{key}") for key, item in value.items()
            }
        return {
            _ITEMS: [
                [key, _externalize(item, tensors, f"{path}.{key}")] for key, item in value.items()
            ]
        }
    if isinstance(value, tuple):
        return {_TUPLE: [_externalize(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_externalize(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot checkpoint a {type(value).__name__} at '{path}'")


def _internalize(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `_externalize`."""
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        if set(value) == {_TUPLE}:
            return tuple(_internalize(v, tensors) for v in value[_TUPLE])
        if set(value) == {_ITEMS}:
            return {key: _internalize(item, tensors) for key, item in value[_ITEMS]}
        return {key: _internalize(item, tensors) for key, item in value.items()}
    if isinstance(value, list):
        return [_internalize(v, tensors) for v in value]
    return value


# ---------------------------------------------------------------- random generators
def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda_{index}"] = state
    version, internal, gauss_next = random.getstate()
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    plain = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "kind": kind,
            "keys": [int(k) for k in keys],
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
    }
    return tensors, plain


def _restore_rng(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[f"cuda_{i}"] for i in range(len(tensors)) if f"cuda_{i}" in tensors]
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    python = plain["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy_state = plain["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            np.asarray(numpy_state["keys"], dtype=np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )


# ---------------------------------------------------------------- file helpers
def _fsync(path: Path) -> None:
    """Flush a file or folder to disk (folders: best effort, not on every platform)."""
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    try:
        handle = os.open(path, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def _write_json(path: Path, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(value, stream, ensure_ascii=False, indent=1)
        stream.write("\n")


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise BionerError(f"{path}: unreadable checkpoint file ({error})") from error


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file of the checkpoint; a missing or damaged one is named as such, not
    reported as weights that do not fit."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise BionerError(f"{path}: unreadable checkpoint file ({error})") from None


def _complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _resolve(directory: Path, tag: str) -> Path | None:
    for folder in (directory / tag, directory / f"{tag}.previous"):
        if _complete(folder):
            return folder
    return None


def checkpoint_exists(directory: PathLike, tag: Tag = "last") -> bool:
    """True when `directory` holds a complete `tag` checkpoint (including a crash leftover)."""
    return _resolve(Path(directory), tag) is not None


# ---------------------------------------------------------------- save / load
def cpu_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state as independent CPU tensors, ready for safetensors' `save_file`.
    On CUDA, cuDNN packs an LSTM's weights into one flat buffer of which each parameter is a
    view; safetensors refuses such shared storage (`save_model` does too), so every tensor is
    copied out on its own. Every safetensors writer of model weights goes through here."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def state_dict_misfit(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """Why `state` cannot be loaded into `module` (missing, unexpected, mis-shaped or
    mis-typed tensors, the first three) on one line; None when it fits. torch's own
    `load_state_dict` error spans many lines and casts a wrong dtype silently."""
    expected = module.state_dict()
    problems = [f"missing {name}" for name in expected if name not in state]
    problems += [f"unexpected {name}" for name in state if name not in expected]
    for name, tensor in expected.items():
        found = state.get(name)
        if found is not None and found.shape != tensor.shape:
            problems.append(f"{name} is {list(found.shape)}, expected {list(tensor.shape)}")
        elif found is not None and found.dtype != tensor.dtype:
            problems.append(f"{name} is {found.dtype}, expected {tensor.dtype}")
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


#: What one key of a saved state may hold: a JSON type (`int` a count ≥ 0, never a bool;
#: `float` any number; `None` null), a nested `StateShape` (an object), or a tuple of these.
StateKind: TypeAlias = "type | StateShape | tuple[type | StateShape | None, ...] | None"

_KIND_NAMES = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}


@dataclass(frozen=True)
class StateShape:
    """The keys a caller's JSON state (trainer_state.json, a run's summary) must hold and the
    JSON types of their values; `optional` keys may be absent (older files lack them).

    The state comes from a file that can be damaged or hand-edited, and its values go
    straight into arithmetic and comparisons: a step count that is a string or a list where
    an object belongs failed steps later as a TypeError or KeyError traceback, or resumed a
    run from a negative step. `check` turns that into one line naming the file and the key.
    """

    required: Mapping[str, StateKind]
    optional: Mapping[str, StateKind] = field(default_factory=dict)

    def check(self, path: PathLike, state: Any, prefix: str = "") -> dict[str, Any]:
        """`state`, read from `path`, once it has this shape; else a BionerError naming the
        file and the first bad key (`prefix`: where a nested object sits, e.g. "annealer.")."""
        if not isinstance(state, dict):
            where = f"'{prefix[:-1]}' must be" if prefix else "expected"
            raise BionerError(f"{path}: {where} a JSON object, got {_shown(state)}")
        for key, kind in (*self.required.items(), *self.optional.items()):
            if key not in state:
                if key in self.required:
                    raise BionerError(f"{path}: '{prefix}{key}' is missing")
                continue
            value = state[key]
            kinds = kind if isinstance(kind, tuple) else (kind,)
            shape = next((k for k in kinds if isinstance(k, StateShape)), None)
            if shape is not None and isinstance(value, dict):
                shape.check(path, value, f"{prefix}{key}.")
            elif not any(_is_kind(value, k) for k in kinds):
                expected = " or ".join(_kind_name(k) for k in kinds)
                raise BionerError(
                    f"{path}: '{prefix}{key}' must be {expected}, got {_shown(value)}"
                )
            if int in kinds and _is_kind(value, int) and value < 0:
                raise BionerError(f"{path}: '{prefix}{key}' must be at least 0, got {value}")
        return state


def _is_kind(value: Any, kind: type | StateShape | None) -> bool:
    if kind is None:
        return value is None
    if isinstance(value, bool) or isinstance(kind, StateShape):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _kind_name(kind: type | StateShape | None) -> str:
    if kind is None:
        return "null"
    if isinstance(kind, StateShape):
        return "an object"
    return _KIND_NAMES.get(kind, kind.__name__)


def _shown(value: Any) -> str:
    """A value as JSON spells it, cut short: the message must stay one line."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else f"{text[:37]}..."


def save_checkpoint(
    directory: PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: dict[str, Any],
    *,
    tag: Tag = "last",
) -> Path:
    """Write `<directory>/<tag>/` atomically and return its path.

    `trainer_state` must be JSON-serializable; it comes back from `load_checkpoint` as JSON
    gives it (tuples become lists, dict keys strings).
    """
    if tag not in ("last", "best"):
        raise ValueError(f"tag must be 'last' or 'best', got {tag!r}")
    try:
        state_text = json.dumps(trainer_state, ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as error:
        raise TypeError(f"trainer_state is not JSON-serializable: {error}") from error
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{tag}.*.tmp"):  # left by a crash mid-write
        shutil.rmtree(stale, ignore_errors=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{tag}.", suffix=".tmp", dir=root))
    try:
        os.chmod(temp, _DIR_MODE)
        save_file(cpu_state_dict(model), str(temp / MODEL_FILE))
        if optimizer is not None:
            tensors: dict[str, torch.Tensor] = {}
            plain = _externalize(optimizer.state_dict(), tensors, "optimizer")
            save_file(tensors, str(temp / OPTIMIZER_TENSORS))
            _write_json(temp / OPTIMIZER_JSON, plain)
        rng_tensors, rng_plain = _rng_state()
        save_file(rng_tensors, str(temp / RNG_TENSORS))
        _write_json(temp / RNG_JSON, rng_plain)
        (temp / TRAINER_STATE).write_text(state_text + "\n", encoding="utf-8")
        for file in temp.iterdir():
            _fsync(file)
        _write_json(
            temp / MARKER,
            {"format": FORMAT, "version": VERSION, "tag": tag, "optimizer": optimizer is not None},
        )
        _fsync(temp / MARKER)
        _fsync(temp)
        final, previous = root / tag, root / f"{tag}.previous"
        if final.exists():
            if previous.exists():
                shutil.rmtree(previous)
            os.replace(final, previous)
        os.replace(temp, final)
        _fsync(root)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    shutil.rmtree(root / f"{tag}.previous", ignore_errors=True)
    return final


def load_checkpoint(
    directory: PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    *,
    tag: Tag = "last",
    restore_rng: bool = True,
    shape: StateShape | None = None,
) -> dict[str, Any]:
    """Restore model, optimizer and (unless told not to) RNG states in place; return the
    trainer state, checked against `shape` first when given. Reads only safetensors and
    JSON. Raises BionerError for a missing, incomplete, damaged or mismatching checkpoint.
    """
    root = Path(directory)
    folder = _resolve(root, tag)
    if folder is None:
        raise BionerError(f"{root}: no complete '{tag}' checkpoint")
    marker = _read_json(folder / MARKER)
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise BionerError(f"{folder}: not a bioner checkpoint")
    if marker.get("version") != VERSION:
        raise BionerError(
            f"{folder}: checkpoint format version {marker.get('version')} is not supported "
            f"(this bioner reads version {VERSION})"
        )
    trainer_state = _trainer_state(folder, shape)  # before anything is restored
    weights = _read_tensors(folder / MODEL_FILE)
    misfit = state_dict_misfit(model, weights)
    if misfit is not None:
        raise BionerError(f"{folder / MODEL_FILE}: weights do not fit this model: {misfit}")
    model.load_state_dict(weights, strict=True)
    if optimizer is not None:
        if not marker.get("optimizer"):
            raise BionerError(f"{folder}: checkpoint has no optimizer state")
        tensors = _read_tensors(folder / OPTIMIZER_TENSORS)
        plain = _read_json(folder / OPTIMIZER_JSON)
        try:  # a damaged optimizer.json can hold anything JSON can
            state = _internalize(plain, tensors)
            if not isinstance(state, dict):
                raise TypeError(f"expected a JSON object, got {type(state).__name__}")
            optimizer.load_state_dict(state)
        except (ValueError, KeyError, TypeError) as error:
            raise BionerError(
                f"{folder}: optimizer state does not fit this optimizer ({error})"
            ) from None
    if restore_rng:
        tensors = _read_tensors(folder / RNG_TENSORS)
        plain = _read_json(folder / RNG_JSON)
        try:
            _restore_rng(tensors, plain)
        except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as error:
            raise BionerError(f"{folder}: unreadable random-generator state ({error})") from None
    return trainer_state


def read_trainer_state(
    directory: PathLike, tag: Tag = "last", shape: StateShape | None = None
) -> dict[str, Any]:
    """The trainer state of a complete checkpoint (checked against `shape` when given),
    loading no tensor: enough to check that a run may resume before any weights are touched."""
    folder = _resolve(Path(directory), tag)
    if folder is None:
        raise BionerError(f"{directory}: no complete '{tag}' checkpoint")
    return _trainer_state(folder, shape)


def _trainer_state(folder: Path, shape: StateShape | None) -> dict[str, Any]:
    path = folder / TRAINER_STATE
    return (shape or StateShape({})).check(path, _read_json(path))
