"""Start a tagger from a pretrained BiLM (Sachan §3.4, Table 3) or from a trained tagger.

One job: resolve what `--init-from` points at and choose which LSTM directions to keep.

A BiLM run directory (`bilm.json` + `model/`) stores its embedder and encoder as a head-less
tagger directory, so the copy itself is `bioner.training.transfer.tagger_from_source`: every
weight but the decoder heads (word embeddings, character encoder, BiLSTM), the source's
vocabularies and architecture. Sachan Table 3's variants are then:

* none    — no `--init-from`;
* LM_f    — `directions="forward"`: the backward LSTM is re-initialised as in a fresh tagger;
* LM_b    — `directions="backward"`: the forward LSTM is re-initialised;
* BiLM    — `directions="both"` (default).

Embeddings and the character encoder are shared by both LMs, so every variant keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from bioner.config import ExperimentConfig
from bioner.data.document import Document
from bioner.errors import BionerError
from bioner.models.registry import resolve_model_path
from bioner.models.tagger import TaggerModel
from bioner.pretraining.bilm import DIRECTIONS, MARKER, Direction
from bioner.tagger import FILES, Tagger


def pretrained_model_dir(path: str | Path) -> Path:
    """The model directory to copy from: `<run>/model` for a BiLM run, else `path` itself
    (a trained tagger's folder or a bundled model's name). Anything else — a file, a
    character LM, a missing path — is refused here, before any training starts."""
    path = Path(path)
    if (path / MARKER).is_file():
        model = path / "model"
        if not (model / "weights.safetensors").is_file():
            raise BionerError(
                f"{path}: the BiLM run has no saved model yet (it is written at the first "
                "held-out evaluation)"
            )
        return model
    if path.is_file():
        raise BionerError(f"{path}: a file; expected a BiLM run or a trained tagger's folder")
    model = resolve_model_path(path)
    missing = [name for name in FILES if not (model / name).is_file()]
    if missing:
        raise BionerError(
            f"{path}: neither a BiLM run ({MARKER}) nor a trained tagger "
            f"(missing {', '.join(missing)})"
        )
    return path


def lstm_direction_keys(model: TaggerModel, direction: str) -> list[str]:
    """State-dict keys of the encoder's LSTM weights for one direction."""
    keys = []
    for key in model.state_dict():
        if not key.startswith("encoder.") or ".lstm." not in key:
            continue
        if key.endswith("_reverse") == (direction == "backward"):
            keys.append(key)
    return keys


def checked_start(path: str | Path, directions: str) -> Path:
    """The model directory to start from, once `directions` is known to be one the source
    trained; a clear error otherwise (callers check before any training starts)."""
    if directions not in DIRECTIONS:
        raise BionerError(f"--init-directions must be one of {DIRECTIONS}, got {directions!r}")
    source_dir = pretrained_model_dir(path)
    trained = _trained_directions(source_dir)
    if directions == "both" and trained not in ("both", None):
        raise BionerError(
            f"{path}: this LM trained only the {trained} direction; use --init-directions {trained}"
        )
    if directions != "both" and trained not in ("both", directions, None):
        raise BionerError(f"{path}: this LM did not train the {directions} direction")
    return source_dir


def tagger_from_pretrained(
    path: str | Path,
    experiment: ExperimentConfig,
    training: Mapping[str, Sequence[Document]],
    *,
    directions: Direction = "both",
    seed: int | None = None,
) -> Tagger:
    """A Tagger whose non-decoder weights come from a BiLM run or a trained tagger at `path`.

    With `directions` "forward" or "backward" only that LSTM direction is kept; the other is
    re-initialised exactly as a freshly built tagger would be (seeded by `seed`, default
    the experiment's training seed).
    """
    from bioner.training.transfer import tagger_from_source

    source_dir = checked_start(path, directions)
    tagger = tagger_from_source(source_dir, experiment, training)
    if directions != "both":
        dropped = "backward" if directions == "forward" else "forward"
        generator_seed = experiment.training.seed if seed is None else seed
        with torch.random.fork_rng():
            torch.manual_seed(generator_seed)
            fresh = TaggerModel(
                tagger.config.model, len(tagger.words), len(tagger.chars), tagger.tags
            )
        fresh_state = fresh.state_dict()
        reset = {key: fresh_state[key] for key in lstm_direction_keys(fresh, dropped)}
        _missing, unexpected = tagger.model.load_state_dict(reset, strict=False)
        assert not unexpected, unexpected
    tagger.meta["init_directions"] = directions
    tagger.meta["init_from"] = str(path)
    return tagger


def _trained_directions(model_dir: Path) -> str | None:
    """The directions a BiLM trained (from its meta.json); None for an ordinary tagger."""
    try:
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # Tagger.load reports the damaged file
    if not isinstance(meta, dict) or meta.get("kind") != "bilm":
        return None
    return meta.get("directions", "both")
