"""Character-level LSTM language models: the source of contextual string embeddings.

Akbik et al. (2018), which BioNerFlair §2.2.1 builds on, embed a word by the hidden states
of a forward and a backward character LM run over the whole sentence. This module trains
such an LM and stores it; `bioner.models.embeddings.contextual` reads hidden states from it.

Training follows Akbik et al.: embedding → LSTM → linear over the character vocabulary,
truncated back-propagation through time over ONE continuous character stream (documents
joined by "\\n", cut into `batch_size` parallel rows) with the LSTM state carried from one
batch to the next; the backward LM reads the same stream reversed. Bits per character (BPC)
are measured on documents held out by a hash of their text, so they are never trained on.

Written here rather than taken from Flair: Flair stores LMs with `torch.save` (pickle), and
the LM itself is a few dozen lines of torch. A trained LM is ONE safetensors file whose
metadata holds the architecture and the character vocabulary (no pickle, nothing executed
on load); training state goes through `bioner.training.checkpoints`, so `--resume`
continues bit-identically (the carried LSTM state is a buffer of the checkpointed module).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import lzma
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from bioner.data.atomic import atomic_write
from bioner.data.formats.textio import read_failure
from bioner.errors import BionerError, InputFormatError
from bioner.models.config import StrictModel
from bioner.pretraining.progress import ProgressCallback, progress_bars
from bioner.pretraining.text_source import (
    DIGIT_PLACEHOLDER,
    UnlabeledSource,
    resolve_source,
)
from bioner.text import Tokenizer
from bioner.training.checkpoints import (
    StateShape,
    checkpoint_exists,
    cpu_state_dict,
    load_checkpoint,
    save_checkpoint,
    state_dict_misfit,
)
from bioner.training.config import format_validation_error
from bioner.training.metrics_log import MetricsLog
from bioner.training.seeding import configure_threads, seed_everything, select_device

Direction = Literal["forward", "backward"]

LM_FILE = "lm.safetensors"
FORMAT = "bioner-charlm"
FORMAT_VERSION = "1"
UNK_CHAR = "<unk>"  # id 0; a multi-character string, so no real character collides with it
DOCUMENT_SEPARATOR = "\n"  # precedes every document of the stream (and every embedded sentence)
ALWAYS_KEPT = ("\n", " ")  # the separator and the token joiner are in every vocabulary


# ---------------------------------------------------------------- character vocabulary
class CharVocabulary:
    """Characters ⇄ ids; id 0 is UNK (characters rarer than the training minimum)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.items: list[str] = [UNK_CHAR]
        for char in chars:
            if char == UNK_CHAR or len(char) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {char!r}")
            if char not in self.items:
                self.items.append(char)
        self.index = {char: i for i, char in enumerate(self.items)}
        # Sorted code points for vectorized encoding (np.searchsorted instead of a dict lookup
        # per character: a few million characters encode in well under a second).
        points = np.array([ord(c) for c in self.items[1:]], dtype=np.int64)
        order = np.argsort(points)
        self._points = points[order]
        self._ids = (order + 1).astype(np.int64)

    @classmethod
    def from_text(cls, text: str, min_count: int = 1) -> CharVocabulary:
        """Characters seen at least `min_count` times, most frequent first (ties by code)."""
        counts = Counter(text)
        kept = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )
        return cls([*kept, *(c for c in ALWAYS_KEPT if c not in kept)])

    def __len__(self) -> int:
        return len(self.items)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids of every character of `text` (unknown characters → 0)."""
        if not text:
            return np.zeros(0, dtype=np.int64)
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if len(self._points) == 0:
            return np.zeros(len(points), dtype=np.int64)
        where = np.searchsorted(self._points, points).clip(max=len(self._points) - 1)
        return np.where(self._points[where] == points, self._ids[where], 0)

    def to_json(self) -> list[str]:
        return list(self.items[1:])

    @classmethod
    def from_json(cls, chars: Sequence[str]) -> CharVocabulary:
        return cls(chars)


# ---------------------------------------------------------------- the model
class CharLMSpec(StrictModel):
    """The architecture of one LM: everything needed to rebuild it before loading weights."""

    num_chars: int = Field(ge=2)
    embedding_dim: int = Field(100, ge=1)
    hidden: int = Field(ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    direction: Direction = "forward"


class CharLM(nn.Module):
    """Embedding → LSTM → (dropout) → linear over the characters; `batch_first` throughout."""

    def __init__(self, spec: CharLMSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embedding = nn.Embedding(spec.num_chars, spec.embedding_dim)
        self.lstm = nn.LSTM(
            spec.embedding_dim,
            spec.hidden,
            spec.layers,
            batch_first=True,
            dropout=spec.dropout if spec.layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(spec.dropout)
        self.decoder = nn.Linear(spec.hidden, spec.num_chars)

    @property
    def hidden_size(self) -> int:
        return self.spec.hidden

    def hidden_states(
        self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Top-layer hidden state after each character, [B, L, H], and the final (h, c)."""
        output, new_state = self.lstm(self.dropout(self.embedding(ids)), state)
        return output, new_state

    def forward(
        self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits for the NEXT character at every position, [B, L, V], and the final state."""
        output, new_state = self.hidden_states(ids, state)
        return self.decoder(self.dropout(output)), new_state


# ---------------------------------------------------------------- LM files
@dataclass
class LoadedCharLM:
    lm: CharLM
    chars: CharVocabulary
    metadata: dict[str, Any]


def save_charlm(
    path: str | Path, lm: CharLM, chars: CharVocabulary, info: dict[str, Any] | None = None
) -> Path:
    """One safetensors file: weights, plus architecture and characters in its metadata."""
    target = Path(path)
    if len(chars) != lm.spec.num_chars:
        raise ValueError(f"vocabulary has {len(chars)} characters, the LM {lm.spec.num_chars}")
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "spec": lm.spec.model_dump_json(),
        "chars": json.dumps(chars.to_json(), ensure_ascii=False),
        "info": json.dumps(info or {}, ensure_ascii=False),
    }
    state = cpu_state_dict(lm)
    target.parent.mkdir(parents=True, exist_ok=True)
    # safetensors writes by path, so the temp-file-and-rename is done here, not by atomic_write.
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        save_file(state, temp, metadata=metadata)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def bundled_charlm_names() -> list[str]:
    folder = resources.files("bioner") / "resources" / "charlm"
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".safetensors")
        for p in folder.iterdir()
        if p.name.endswith(".safetensors")
    )


def resolve_charlm_path(name_or_path: str | Path) -> Path:
    """An LM file: a path to it, a folder holding `lm.safetensors`, or a bundled LM's name."""
    path = Path(name_or_path)
    if path.is_dir() and (path / LM_FILE).is_file():
        return path / LM_FILE
    if path.is_file():
        return path
    bundled = resources.files("bioner") / "resources" / "charlm" / f"{name_or_path}.safetensors"
    if bundled.is_file():
        return Path(str(bundled))
    names = ", ".join(bundled_charlm_names()) or "none"
    raise BionerError(
        f"no character LM at {str(name_or_path)!r} (expected a {LM_FILE} file or a folder "
        f"holding one, written by `bioner pretrain charlm`; bundled LMs: {names})"
    )


def charlm_from_parts(spec: dict[str, Any] | CharLMSpec, chars: Sequence[str]) -> LoadedCharLM:
    """An LM with fresh weights from a stored spec and character list (weights load later).

    Both come from a file (LM metadata, a tagger's vocab.json), so a wrong type is a
    BionerError, not a TypeError from inside the vocabulary."""
    try:
        parsed = spec if isinstance(spec, CharLMSpec) else CharLMSpec.model_validate(spec)
    except ValidationError as error:
        raise BionerError(
            format_validation_error(error, "character LM spec", model=CharLMSpec)
        ) from None
    vocabulary = _stored_vocabulary(chars)
    if len(vocabulary) != parsed.num_chars:
        raise BionerError(
            f"character LM spec says {parsed.num_chars} characters, its vocabulary has "
            f"{len(vocabulary)}"
        )
    return LoadedCharLM(CharLM(parsed), vocabulary, {})


def _stored_vocabulary(chars: Any) -> CharVocabulary:
    """The vocabulary of a stored character list (LM metadata, vocab.json, a run's
    chars.json): anything but a list of single characters is a BionerError."""
    if not isinstance(chars, list) or not all(isinstance(char, str) for char in chars):
        raise BionerError("the character LM's characters must be a JSON list of strings")
    try:
        return CharVocabulary.from_json(chars)
    except ValueError as error:
        raise BionerError(f"the character LM's characters are damaged ({error})") from None


def load_charlm(name_or_path: str | Path) -> LoadedCharLM:
    """Read an LM file written by `save_charlm` (safetensors + JSON metadata only)."""
    path = resolve_charlm_path(name_or_path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise BionerError(f"{path}: unreadable character LM ({error})") from None
    if metadata.get("format") != FORMAT:
        raise BionerError(f"{path}: not a bioner character LM (no '{FORMAT}' metadata)")
    if metadata.get("version") != FORMAT_VERSION:
        raise BionerError(f"{path}: character LM format {metadata.get('version')} unsupported")
    try:
        spec = json.loads(metadata["spec"])
        chars = json.loads(metadata["chars"])
        info = json.loads(metadata.get("info", "{}"))
    except (KeyError, ValueError) as error:
        raise BionerError(f"{path}: damaged character LM metadata ({error})") from None
    if not isinstance(info, dict):
        raise BionerError(f"{path}: damaged character LM metadata ('info' is not an object)")
    try:
        loaded = charlm_from_parts(spec, chars)
    except BionerError as error:  # name the file the spec and characters came from
        raise BionerError(f"{path}: {error}") from None
    misfit = state_dict_misfit(loaded.lm, tensors)
    if misfit is not None:
        raise BionerError(f"{path}: weights do not fit the stored architecture: {misfit}")
    loaded.lm.load_state_dict(tensors, strict=True)
    loaded.lm.eval()
    loaded.metadata = info
    return loaded


# ---------------------------------------------------------------- text
Transform = Callable[[str], str] | None


def tokenized_text(line: str, tokenizer: Tokenizer) -> str:
    """A raw document as the embedder will see sentences: tokens joined by single spaces."""
    if DIGIT_PLACEHOLDER in line:  # SumPubMed's digit runs (see text_source)
        line = line.replace(DIGIT_PLACEHOLDER, "0")
    return " ".join(" ".join(s.words) for s in tokenizer.tokenize(line) if s.tokens)


def source_documents(spec: str, *, tokenized: bool) -> tuple[str, Iterable[str], Transform]:
    """(name, raw documents, transform applied to the documents that are kept) of a source
    folder: unlabeled `*.txt.gz` (one document per line) or a corpus folder, whose TRAINING
    split alone is read (`text_source.resolve_source` guarantees that)."""
    source = resolve_source(spec)
    if isinstance(source, UnlabeledSource):
        tokenizer = source.tokenizer
        transform = (lambda line: tokenized_text(line, tokenizer)) if tokenized else None
        return source.name, source.lines(), transform
    joined = (" ".join(" ".join(s) for s in doc) for doc in source.documents())
    return source.name, joined, None


def _held_out_bucket(text: str) -> float:
    """A fixed pseudo-random number in [0, 1) per document text (independent of order)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class TextSplits:
    """Training stream and held-out streams, each a sequence of "\\n"-prefixed documents."""

    train: str
    valid: str
    test: str
    stats: dict[str, Any]


#: The `progress` stage of `prepare_text`, counted in training characters.
READING_STAGE = "reading text (training characters)"


def prepare_text(
    sources: Sequence[tuple[str, Iterable[str], Transform]],
    max_chars: int,
    *,
    heldout_chars: int = 100_000,
    heldout_fraction: float = 0.01,
    progress: ProgressCallback | None = None,
) -> TextSplits:
    """Interleave the sources so each contributes about the same number of characters, and
    put every document whose hash bucket is below `heldout_fraction` into the validation
    (first half of the bucket range) or test (second half) stream, never into training.

    Reading stops when training has `max_chars` characters and both held-out streams have
    `heldout_chars` (or the sources run out); the last document of each stream is cut to fit.
    The held-out documents therefore do not depend on `max_chars`. `progress(stage, done,
    total)` hears of the training characters read so far, every 100 documents.
    """
    if max_chars < 1:
        raise BionerError("max_chars must be positive")
    streams = {"train": [], "valid": [], "test": []}
    budget = {"train": max_chars, "valid": heldout_chars, "test": heldout_chars}
    used = dict.fromkeys(streams, 0)
    per_source: dict[str, dict[str, int]] = {}
    heap: list[tuple[int, int, str, Iterator[str]]] = []
    transforms: dict[str, Transform] = {}
    for order, (name, documents, transform) in enumerate(sources):
        per_source[name] = {"documents_read": 0, "train_chars": 0, "heldout_documents": 0}
        transforms[name] = transform
        heap.append((0, order, name, iter(documents)))
    heapq.heapify(heap)
    read = 0
    while heap and any(used[k] < budget[k] for k in streams):
        consumed, order, name, documents = heapq.heappop(heap)
        document = next(documents, None)
        if document is None:
            continue
        per_source[name]["documents_read"] += 1
        bucket = _held_out_bucket(document)
        if bucket < heldout_fraction:
            split = "valid" if bucket < heldout_fraction / 2 else "test"
            per_source[name]["heldout_documents"] += 1
        else:
            split = "train"
        room = budget[split] - used[split]
        transform = transforms[name]
        text = transform(document) if room > 1 and transform is not None else document
        if room > 1 and text:
            piece = DOCUMENT_SEPARATOR + text[: room - 1]
            streams[split].append(piece)
            used[split] += len(piece)
            if split == "train":
                per_source[name]["train_chars"] += len(piece)
        heapq.heappush(heap, (consumed + len(document), order, name, documents))
        read += 1
        if progress is not None and read % 100 == 0:
            progress(READING_STAGE, min(used["train"], max_chars), max_chars)
    if progress is not None:
        progress(READING_STAGE, min(used["train"], max_chars), max_chars)
    texts = {k: "".join(v) for k, v in streams.items()}
    if not texts["train"]:
        raise BionerError("no training text: the sources are empty")
    if not texts["valid"] or not texts["test"]:
        raise BionerError(
            "no held-out text: the sources have too few documents for heldout_fraction "
            f"{heldout_fraction}; raise it"
        )
    stats = {
        "train_chars": len(texts["train"]),
        "valid_chars": len(texts["valid"]),
        "test_chars": len(texts["test"]),
        "train_documents": len(streams["train"]),
        "valid_documents": len(streams["valid"]),
        "test_documents": len(streams["test"]),
        "sources": per_source,
    }
    return TextSplits(texts["train"], texts["valid"], texts["test"], stats)


SPLIT_FILES = {"train": "train.txt.xz", "valid": "valid.txt.xz", "test": "test.txt.xz"}
SPLIT_STATS = "stats.json"


def write_text_splits(
    splits: TextSplits, folder: str | Path, progress: ProgressCallback | None = None
) -> None:
    """Store prepared splits (xz text + stats.json), so the text can be read and tokenized on
    one machine and an LM trained on another (a GPU lease) from exactly the same streams.
    `progress` hears of each split compressed (xz at preset 9 takes minutes on 300 M
    characters)."""
    out = Path(folder)
    for done, (name, file) in enumerate(SPLIT_FILES.items()):
        if progress is not None:
            progress("compressing splits", done, len(SPLIT_FILES))
        with atomic_write(out / file, binary=True) as stream:
            stream.write(lzma.compress(getattr(splits, name).encode("utf-8"), preset=9))
    if progress is not None:
        progress("compressing splits", len(SPLIT_FILES), len(SPLIT_FILES))
    _write_json(out / SPLIT_STATS, splits.stats)


def read_text_splits(folder: str | Path) -> TextSplits:
    """Splits stored by `write_text_splits`."""
    path = Path(folder)
    texts = {}
    for name, file in SPLIT_FILES.items():
        try:
            data = lzma.decompress((path / file).read_bytes())
            texts[name] = data.decode("utf-8")
        except FileNotFoundError:
            raise BionerError(
                f"{path / file}: missing (prepare the text with `bioner pretrain charlm "
                f"{path} --prepare`)"
            ) from None
        except OSError as error:  # --text names a file, or a split is a folder
            raise InputFormatError(path / file, None, read_failure(error)) from None
        except lzma.LZMAError as error:
            raise InputFormatError(path / file, None, f"not xz-compressed ({error})") from None
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise InputFormatError(path / file, line, f"not valid UTF-8 ({error.reason})") from None
    stats = StateShape({}).check(path / SPLIT_STATS, _read_run_json(path / SPLIT_STATS))
    return TextSplits(texts["train"], texts["valid"], texts["test"], stats)


# ---------------------------------------------------------------- training
class CharLMTrainingConfig(StrictModel):
    """Every setting of an LM training run (written to OUT/config.json, checked on resume)."""

    direction: Direction = "forward"
    embedding_dim: int = Field(100, ge=1, description="Akbik et al./Flair: 100.")
    hidden: int = Field(512, ge=1, description="Akbik et al.: 2048 (news); small builds: 256.")
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Flair's LM trainer default.")
    seq_len: int = Field(250, ge=2, description="Truncated-BPTT length (Akbik et al.: 250).")
    batch_size: int = Field(32, ge=1, description="Parallel rows of the character stream.")
    epochs: int = Field(1, ge=1, description="Passes over the training stream.")
    max_steps: int | None = Field(None, ge=1, description="Stop (resumably) after N updates.")
    max_minutes: float | None = Field(
        None,
        gt=0.0,
        description="Stop (resumably) after this many minutes of training in this invocation "
        "(a time-limited GPU lease); the best-validation LM so far is kept.",
    )
    max_chars: int = Field(2_000_000, ge=1000, description="Training characters to read.")
    heldout_chars: int = Field(100_000, ge=1000, description="Characters per held-out split.")
    heldout_fraction: float = Field(0.01, gt=0.0, lt=0.5)
    min_char_count: int = Field(3, ge=1, description="Rarer characters map to UNK.")
    sources: list[str] = Field(
        default_factory=list,
        description="Folders: unlabeled *.txt.gz (one document per line) or corpus folders "
        "(their training split only).",
    )
    prepared_text: str | None = Field(
        None,
        description="Folder written by `write_text_splits` (`pretrain charlm --prepare`): "
        "train on exactly that text instead of reading `sources` (whose budget and held-out "
        "settings are then the ones it was prepared with).",
    )
    tokenized: bool = Field(
        True,
        description="Train on tokens joined by single spaces, the form in which the tagger "
        "embeds sentences (it has tokens, not raw text); False: raw text as Flair's LMs.",
    )
    optimizer: Literal["sgd", "adam"] = "sgd"
    learning_rate: float | None = Field(None, gt=0.0, description="Default: sgd 20, adam 2e-3.")
    anneal_factor: float = Field(0.25, gt=0.0, le=1.0, description="Flair: 0.25 on plateau.")
    anneal_patience: int = Field(2, ge=0, description="Evaluations without improvement.")
    clip_grad_norm: float = Field(0.25, gt=0.0, description="Akbik et al./Flair: 0.25.")
    eval_every: int = Field(0, ge=0, description="Validate every N updates (0: per epoch).")
    checkpoint_every: int = Field(50, ge=1, description="Checkpoint every N updates.")
    eval_rows: int = Field(8, ge=1, description="Parallel rows when measuring held-out BPC.")
    seed: int = Field(42, ge=0, lt=2**32)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = Field(None, ge=1)

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 20.0 if self.optimizer == "sgd" else 2e-3

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the original (not epochs/steps); a
        source folder named by another path to the same place is the same source."""
        settings = self.model_dump(
            exclude={"epochs", "max_steps", "max_minutes", "device", "num_threads"}
        )
        settings["sources"] = [str(Path(source).resolve()) for source in self.sources]
        if self.prepared_text is not None:
            settings["prepared_text"] = str(Path(self.prepared_text).resolve())
        return settings


class _StreamState(nn.Module):
    """The LM plus the LSTM state carried between batches, so checkpoints include it."""

    def __init__(self, lm: CharLM, rows: int) -> None:
        super().__init__()
        self.lm = lm
        shape = (lm.spec.layers, rows, lm.spec.hidden)
        self.register_buffer("carry_h", torch.zeros(shape))
        self.register_buffer("carry_c", torch.zeros(shape))

    def reset(self) -> None:
        self.carry_h.zero_()
        self.carry_c.zero_()


def stream_rows(ids: np.ndarray, rows: int) -> Tensor:
    """The stream cut into `rows` contiguous rows (the remainder is dropped), [rows, N]."""
    columns = len(ids) // rows
    if columns < 2:
        raise BionerError(f"{len(ids)} characters are too few for {rows} parallel rows")
    return torch.from_numpy(np.ascontiguousarray(ids[: rows * columns].reshape(rows, columns)))


def stream_ids(text: str, chars: CharVocabulary, direction: Direction) -> np.ndarray:
    ids = chars.encode(text)
    return np.ascontiguousarray(ids[::-1]) if direction == "backward" else ids


@torch.no_grad()
def bits_per_character(lm: CharLM, data: Tensor, seq_len: int) -> float:
    """Mean −log2 p(next char) over a [rows, N] stream, state carried across chunks."""
    was_training = lm.training
    lm.eval()
    total, count = 0.0, 0
    state = None
    try:
        for start in range(0, data.size(1) - 1, seq_len):
            chunk = data[:, start : start + seq_len + 1]
            logits, state = lm(chunk[:, :-1], state)
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1), reduction="sum"
            )
            total += float(loss)
            count += chunk[:, 1:].numel()
    finally:
        lm.train(was_training)
    return total / count / math.log(2)


def read_training_text(
    config: CharLMTrainingConfig, progress: ProgressCallback | None = None
) -> TextSplits:
    """The splits a run trains on: its prepared text, or its sources read and tokenized."""
    if config.prepared_text is not None:
        return read_text_splits(config.prepared_text)
    if not config.sources:
        raise BionerError("no text sources: give at least one folder")
    sources = [source_documents(spec, tokenized=config.tokenized) for spec in config.sources]
    return prepare_text(
        sources,
        config.max_chars,
        heldout_chars=config.heldout_chars,
        heldout_fraction=config.heldout_fraction,
        progress=progress,
    )


def _write_json(path: Path, value: Any) -> None:
    with atomic_write(path) as stream:
        json.dump(value, stream, ensure_ascii=False, indent=1)
        stream.write("\n")


def train_charlm(
    config: CharLMTrainingConfig,
    output: str | Path,
    *,
    resume: bool = False,
    show_progress: bool = True,
    log: Callable[[dict[str, Any]], None] | None = None,
    splits: TextSplits | None = None,
) -> dict[str, Any]:
    """Train (or resume) an LM into `output`; returns the summary also written to
    OUT/metrics.json. `splits` replaces reading the config's text (tests, benchmarks).

    OUT holds config.json, chars.json, checkpoints/last (resumable), metrics.jsonl (one line
    per validation), metrics.json (summary) and lm.safetensors (the best-validation LM).
    """
    out = Path(output)
    config_path, chars_path = out / "config.json", out / "chars.json"
    checkpoints = out / "checkpoints"
    resuming = resume and checkpoint_exists(checkpoints)
    if resume and not resuming:
        raise BionerError(f"{out}: nothing to resume (no checkpoint under {checkpoints})")
    if not resume and checkpoint_exists(checkpoints):
        raise BionerError(f"{out} holds a run already; pass --resume or choose another folder")
    if not resume and (out / LM_FILE).exists():  # training would replace it
        raise BionerError(
            f"{out} already holds a character LM ({out / LM_FILE}); choose another folder "
            "rather than replace it"
        )
    if resuming:
        try:
            saved_config = CharLMTrainingConfig.model_validate(_read_run_json(config_path))
        except ValidationError as error:  # a damaged or hand-edited run file
            raise BionerError(
                format_validation_error(error, str(config_path), model=CharLMTrainingConfig)
            ) from None
        if saved_config.identity() != config.identity():
            changed = sorted(
                k for k, v in config.identity().items() if saved_config.identity().get(k) != v
            )
            raise BionerError(
                f"{out}: the run was started with other settings ({', '.join(changed)})"
            )
        finished = _finished_summary(out)
        if finished is not None:  # nothing left to train: no need to read the text again
            if finished["epochs_completed"] < config.epochs:
                raise BionerError(
                    f"{out}: the run finished after {finished['epochs_completed']} epoch(s); "
                    f"a finished run cannot be extended to {config.epochs} (train into a new "
                    "folder)"
                )
            return finished

    configure_threads(config.num_threads)
    device = select_device(config.device)
    started = time.perf_counter()
    if splits is None:
        with progress_bars(show_progress) as progress:
            splits = read_training_text(config, progress)
    if resuming:
        try:
            chars = _stored_vocabulary(_read_run_json(chars_path))
        except BionerError as error:
            raise BionerError(f"{chars_path}: {error}") from None
    else:
        chars = CharVocabulary.from_text(splits.train, config.min_char_count)
    seed_everything(config.seed)
    spec = CharLMSpec(
        num_chars=len(chars),
        embedding_dim=config.embedding_dim,
        hidden=config.hidden,
        layers=config.layers,
        dropout=config.dropout,
        direction=config.direction,
    )
    lm = CharLM(spec)
    state_module = _StreamState(lm, config.batch_size).to(device)
    if config.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(lm.parameters(), lr=config.lr)
    else:
        optimizer = torch.optim.Adam(lm.parameters(), lr=config.lr)

    train = stream_rows(stream_ids(splits.train, chars, config.direction), config.batch_size)
    valid = stream_rows(stream_ids(splits.valid, chars, config.direction), config.eval_rows)
    test = stream_rows(stream_ids(splits.test, chars, config.direction), config.eval_rows)
    train, valid, test = train.to(device), valid.to(device), test.to(device)
    unk_share = float((train == 0).float().mean())

    state: dict[str, Any] = {
        "epoch": 1,
        "position": 0,
        "step": 0,
        "best_valid_bpc": None,
        "bad_evals": 0,
        "seconds": 0.0,
        "finished": False,
    }
    if resuming:
        state = load_checkpoint(checkpoints, state_module, optimizer, shape=_RUN_STATE)
    else:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(config_path, config.model_dump())
        _write_json(chars_path, chars.to_json())
    metrics = MetricsLog(
        out / "metrics.jsonl",
        fresh=not resuming,
        keep_until_step=state["step"] if resuming else None,
    )
    lm_path = out / LM_FILE
    info_base = {
        "direction": config.direction,
        "data": {k: v for k, v in splits.stats.items() if k != "sources"},
        "unk_share_train": unk_share,
    }
    clock = time.perf_counter()

    def elapsed() -> float:
        return state["seconds"] + time.perf_counter() - clock

    deadline = None if config.max_minutes is None else clock + 60.0 * config.max_minutes

    def out_of_time() -> bool:
        return deadline is not None and time.perf_counter() >= deadline

    def validated_here() -> bool:
        """Whether this step is an `eval_every` validation step."""
        return bool(config.eval_every) and state["step"] % config.eval_every == 0

    def checkpoint() -> None:
        save_checkpoint(checkpoints, state_module, optimizer, {**state, "seconds": elapsed()})

    def validate(train_loss: float | None) -> dict[str, Any]:
        bpc = bits_per_character(lm, valid, config.seq_len)
        best = state["best_valid_bpc"]
        improved = best is None or bpc < best
        if improved:
            state["best_valid_bpc"], state["bad_evals"] = bpc, 0
            save_charlm(lm_path, lm, chars, {**info_base, "step": state["step"], "valid_bpc": bpc})
        else:
            state["bad_evals"] += 1
            if state["bad_evals"] > config.anneal_patience:
                for group in optimizer.param_groups:
                    group["lr"] *= config.anneal_factor
                state["bad_evals"] = 0
        record = {
            "epoch": state["epoch"],
            "step": state["step"],
            "train_bpc": None if train_loss is None else train_loss / math.log(2),
            "valid_bpc": bpc,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "elapsed_seconds": elapsed(),
        }
        metrics.append(record)
        if log is not None:
            log(record)
        return record

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = train.size(1)
    steps_per_epoch = math.ceil((columns - 1) / config.seq_len)
    stopped = False
    running, running_n = 0.0, 0
    lm.train()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    ) as progress:
        while not state["finished"] and state["epoch"] <= config.epochs:
            if state["position"] == 0:
                state_module.reset()
            task = progress.add_task(
                f"{config.direction} LM epoch {state['epoch']}",
                total=steps_per_epoch,
                completed=math.ceil(state["position"] / config.seq_len),
                info="",
            )
            for start in range(state["position"], columns - 1, config.seq_len):
                chunk = train[:, start : start + config.seq_len + 1]
                carried = (state_module.carry_h, state_module.carry_c)
                logits, (h, c) = lm(chunk[:, :-1], carried)
                loss = nn.functional.cross_entropy(
                    logits.reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1)
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(lm.parameters(), config.clip_grad_norm)
                optimizer.step()
                with torch.no_grad():
                    state_module.carry_h.copy_(h)
                    state_module.carry_c.copy_(c)
                state["step"] += 1
                state["position"] = start + config.seq_len
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise BionerError(
                        f"training diverged at step {state['step']} (loss {value}); lower the "
                        "learning rate or the gradient clip"
                    )
                running, running_n = running + value, running_n + 1
                progress.update(task, advance=1, info=f"bpc {value / math.log(2):.3f}")
                if validated_here():
                    validate(running / running_n)
                    running, running_n = 0.0, 0
                    lm.train()
                if state["step"] % config.checkpoint_every == 0:
                    checkpoint()
                if config.max_steps is not None and state["step"] >= config.max_steps:
                    stopped = True
                    break
                if out_of_time():  # validate the last updates, so the best LM is kept
                    if not validated_here():
                        validate(running / running_n if running_n else None)
                    stopped = True
                    break
            progress.remove_task(task)
            if stopped:
                break
            if not validated_here():
                validate(running / running_n if running_n else None)
                running, running_n = 0.0, 0
                lm.train()
            state["epoch"] += 1
            state["position"] = 0
            if state["epoch"] > config.epochs:
                state["finished"] = True
            checkpoint()
    if stopped:
        checkpoint()

    # Report: the best-validation LM on both held-out splits, and the current weights.
    if not lm_path.is_file():  # stopped before any validation
        save_charlm(lm_path, lm, chars, {**info_base, "step": state["step"], "valid_bpc": None})
    best = load_charlm(lm_path).lm.to(device)
    summary = {
        "direction": config.direction,
        "finished": state["finished"],
        "steps": state["step"],
        "epochs_completed": state["epoch"] - 1,
        "best_step": json.loads(_lm_info(lm_path)).get("step"),
        "valid_bpc": bits_per_character(best, valid, config.seq_len),
        "test_bpc": bits_per_character(best, test, config.seq_len),
        "last_valid_bpc": bits_per_character(lm, valid, config.seq_len),
        "parameters": sum(p.numel() for p in lm.parameters()),
        "vocabulary_size": len(chars),
        "unk_share_train": unk_share,
        "data": splits.stats,
        "train_seconds": elapsed(),
        "total_seconds": time.perf_counter() - started,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "config": config.model_dump(),
        "history": metrics.read(),
    }
    _write_json(out / "metrics.json", summary)
    return summary


#: The training state `train_charlm` checkpoints (checked on resume: the file can be damaged).
_RUN_STATE = StateShape(
    {
        "epoch": int,
        "position": int,
        "step": int,
        "best_valid_bpc": (float, None),
        "bad_evals": int,
        "seconds": float,
        "finished": bool,
    }
)
#: What a resume reads (and the command prints) of a finished run's OUT/metrics.json.
_FINISHED_SUMMARY = StateShape(
    {
        "epochs_completed": int,
        "steps": int,
        "valid_bpc": float,
        "test_bpc": float,
        "train_seconds": float,
    }
)


def _finished_summary(out: Path) -> dict[str, Any] | None:
    """The summary a finished run left in OUT/metrics.json, else None."""
    path = out / "metrics.json"
    if not path.is_file():
        return None
    summary = StateShape({}, optional={"finished": bool}).check(path, _read_run_json(path))
    return _FINISHED_SUMMARY.check(path, summary) if summary.get("finished") else None


def _read_run_json(path: Path) -> Any:
    """One of a run folder's JSON files; a missing or damaged one is a clear error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BionerError(f"{path}: unreadable ({error})") from None


def _lm_info(path: Path) -> str:
    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get("info", "{}")


__all__ = [
    "READING_STAGE",
    "CharLM",
    "CharLMSpec",
    "CharLMTrainingConfig",
    "CharVocabulary",
    "LoadedCharLM",
    "TextSplits",
    "bits_per_character",
    "load_charlm",
    "prepare_text",
    "read_text_splits",
    "read_training_text",
    "resolve_charlm_path",
    "save_charlm",
    "source_documents",
    "train_charlm",
    "write_text_splits",
]
