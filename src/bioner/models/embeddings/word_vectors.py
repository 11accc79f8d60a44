"""Pretrained word vectors: loading word2vec / GloVe files and building an embedding matrix.

One job: get pretrained vectors (Saber Table 2: Wiki-PubMed-PMC word2vec; DeepVar: BioW2V;
Lyu: several sources, frozen vs fine-tuned) into the rows of the model's word vocabulary.
Files are read with gensim's ``KeyedVectors.load_word2vec_format`` (``no_header=True`` for
GloVe). gensim does not check text files line by line (a short line is silently broadcast),
so text files get a cheap structural pass first and a malformed file is reported as
`InputFormatError(path, line, problem)`, never a traceback. gensim also keeps NaN and
infinite values and turns a repeated word into a `None` key with a zero row, so the loaded
vectors are checked for both; binary files, which have no lines, name the vector instead.
Words must be UTF-8: a replaced byte would silently never match a vocabulary word. A UTF-8
byte-order mark at the start of a file (Windows editors write one) is skipped.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Literal

import numpy as np
import torch
from torch import Tensor, nn

from bioner.data.formats.textio import READ_ERRORS, read_failure, reading
from bioner.errors import BionerError, InputFormatError

VectorFormat = Literal["auto", "word2vec-text", "word2vec-binary", "glove"]
_FORMATS = ("auto", "word2vec-text", "word2vec-binary", "glove")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, eq=False)
class WordVectors:
    """Pretrained vectors: ``words[i]`` has row ``vectors[i]`` (float32 `[V, dim]`)."""

    words: list[str]
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def index(self) -> dict[str, int]:
        """Word → row (the first occurrence wins)."""
        index: dict[str, int] = {}
        for i, word in enumerate(self.words):
            index.setdefault(word, i)
        return index


def _open_raw(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _starts_with_bom(path: Path) -> bool:
    """Whether the file (decompressed) starts with a UTF-8 byte-order mark."""
    with _open_raw(path) as fh:
        return fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8


def _open_binary(path: Path) -> IO[bytes]:
    """The file's bytes after its byte-order mark, if any: the mark is not part of the
    word2vec header (a file with one was read as GloVe) nor of a GloVe file's first word."""
    fh = _open_raw(path)
    try:
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return fh


def _header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _is_vector_line(line: bytes) -> bool:
    """A word and numbers: any count of them, so that a text file whose rows disagree with
    its header is still read as text and the row is reported, not the whole file as binary."""
    fields = line.split()
    if len(fields) < 2:
        return False
    try:
        for value in fields[1:]:
            float(value)
    except ValueError:
        return False
    return True


def detect_format(path: str | Path) -> VectorFormat:
    """word2vec binary / word2vec text (a ``count dim`` header) / GloVe (no header)."""
    path = Path(path)
    with _open_binary(path) as fh:
        first = fh.readline(1 << 16)
        header = _header(first)
        if header is None:
            return "word2vec-binary" if path.suffix == ".bin" and first else "glove"
        # A text file's second line is a word and numbers; a binary one has raw bytes.
        second = fh.readline(64 + 32 * header[1])
    return "word2vec-text" if _is_vector_line(second) else "word2vec-binary"


def _text_lines(path: Path) -> Iterator[bytes]:
    with _open_binary(path) as fh:
        yield from fh


def _check_text(path: Path, has_header: bool, limit: int | None) -> None:
    """Structural pass over a text file: header, field counts, blank lines, vector count."""
    lines = _text_lines(path)
    expected_count: int | None = None
    dim: int | None = None
    offset = 1
    if has_header:
        first = next(lines, b"")
        header = _header(first)
        if header is None:
            raise InputFormatError(path, 1, "expected a word2vec header '<count> <dimension>'")
        expected_count, dim = header
        if dim < 1:
            raise InputFormatError(path, 1, "the header announces vectors of dimension 0")
        offset = 2
    wanted = expected_count if limit is None else min(limit, expected_count or limit)
    count = 0
    for number, raw in enumerate(lines, start=offset):
        if wanted is not None and count >= wanted:
            if count == expected_count and raw.strip():  # gensim would drop the rest unread
                raise InputFormatError(
                    path, number, f"more vectors than the {expected_count} the header announces"
                )
            break
        fields = raw.rstrip().split(b" ")
        if fields == [b""]:
            raise InputFormatError(path, number, "blank line (expected a word and its vector)")
        if dim is None:
            dim = len(fields) - 1
            if dim < 1:
                raise InputFormatError(path, number, "a word with no vector values")
        if len(fields) != dim + 1:
            raise InputFormatError(
                path,
                number,
                f"expected a word and {dim} values separated by single spaces, "
                f"found {len(fields) - 1} values",
            )
        count += 1
    if count == 0:
        raise InputFormatError(path, None, "no word vectors in the file")
    if expected_count is not None and count < (wanted or 0):
        raise InputFormatError(
            path,
            None,
            f"the header announces {expected_count} vectors but the file holds only {count}",
        )


def _locate_bad_value(path: Path, has_header: bool) -> tuple[int, str] | None:
    """Line number and problem of the first value that is not a number (error path only)."""
    for number, raw in enumerate(_text_lines(path), start=1):
        if has_header and number == 1:
            continue
        for value in raw.rstrip().split(b" ")[1:]:
            try:
                float(value)
            except ValueError:
                shown = value.decode("utf-8", "replace")[:40]
                return number, f"{shown!r} is not a number"
    return None


def _binary_words(path: Path) -> Iterator[bytes]:
    """The words of a binary file, in order (error path only: locates a bad word)."""
    with _open_binary(path) as fh:
        count, dim = _header(fh.readline(1 << 16)) or (0, 0)
        for _ in range(count):
            word = bytearray()
            while (byte := fh.read(1)) not in (b" ", b""):
                word += byte
            yield bytes(word).lstrip(b"\n")  # as gensim reads it
            fh.read(4 * dim)


def _first_row_line(fmt: str) -> int:
    """The line of a text file's first vector (one vector per line; blank lines are refused)."""
    return 2 if fmt == "word2vec-text" else 1


def _rows(path: Path, fmt: str) -> Iterator[tuple[int | None, int, bytes]]:
    """(line or None for binary, 1-based vector number, word) of each vector, in order."""
    if fmt == "word2vec-binary":
        for number, word in enumerate(_binary_words(path), start=1):
            yield None, number, word
        return
    offset = _first_row_line(fmt)
    lines = _text_lines(path)
    if offset == 2:
        next(lines, None)
    for number, raw in enumerate(lines, start=1):
        yield number + offset - 1, number, raw.rstrip().split(b" ")[0]


def _at(path: Path, line: int | None, number: int, problem: str) -> InputFormatError:
    """An error at a text file's line, or at a binary file's vector (it has no lines)."""
    if line is not None:
        return InputFormatError(path, line, problem)
    return InputFormatError(path, None, f"vector {number}: {problem}")


def _duplicate(path: Path, fmt: str) -> InputFormatError:
    """The error for the first word that comes twice (gensim keeps only the first)."""
    first: dict[bytes, str] = {}
    for line, number, word in _rows(path, fmt):
        if word in first:
            shown = word.decode("utf-8", "replace")
            problem = f"the word {shown!r} comes again (first at {first[word]})"
            return _at(path, line, number, problem)
        first[word] = f"line {line}" if line is not None else f"vector {number}"
    return InputFormatError(path, None, "a word comes more than once")


def _binary_undecodable(path: Path, error: UnicodeDecodeError) -> InputFormatError:
    """The error for a binary file's first word that is not UTF-8."""
    problem = f"the word is not valid UTF-8 ({error.reason})"
    for line, number, word in _rows(path, "word2vec-binary"):
        try:
            word.decode("utf-8")
        except UnicodeDecodeError:
            return _at(path, line, number, problem)
    return InputFormatError(path, None, problem)


def load_word_vectors(
    path: str | Path,
    *,
    format: VectorFormat = "auto",
    limit: int | None = None,
    vocabulary: set[str] | None = None,
) -> WordVectors:
    """Read word2vec (text or binary) or GloVe vectors with gensim.

    ``limit`` reads only the first ``limit`` vectors (files are usually frequency-sorted);
    ``vocabulary`` keeps only those words (after reading; see `lookup_keys` for the forms
    `build_embedding_matrix` looks up). ``format="auto"`` uses `detect_format`.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if format not in _FORMATS:
        raise BionerError(f"unknown word-vector format {format!r}; expected one of {_FORMATS}")
    if not path.is_file():
        raise InputFormatError(path, None, "word-vector file not found")
    if limit is not None and limit < 1:
        raise BionerError(f"limit must be a positive number of vectors, got {limit}")
    with reading(path):  # a bad or truncated .gz, an unreadable file
        fmt = detect_format(path) if format == "auto" else format
        # gensim decodes line by line: "utf-8-sig" drops the mark where it decodes the first.
        encoding = "utf-8-sig" if _starts_with_bom(path) else "utf-8"
        binary = fmt == "word2vec-binary"
        if binary:
            with _open_binary(path) as fh:
                header = _header(fh.readline(1 << 16))
            if header is None:
                raise InputFormatError(path, 1, "expected a word2vec header '<count> <dimension>'")
            if header[1] < 1:
                raise InputFormatError(path, 1, "the header announces vectors of dimension 0")
        else:
            _check_text(path, has_header=fmt == "word2vec-text", limit=limit)
    try:
        # Text: `reading` names the line of the first byte that is not UTF-8.
        with contextlib.nullcontext() if binary else reading(path):
            kv = KeyedVectors.load_word2vec_format(
                str(path),
                binary=binary,
                no_header=fmt == "glove",
                limit=limit,
                encoding=encoding,
                unicode_errors="strict",
            )
    except EOFError as exc:
        raise InputFormatError(
            path, None, "the file ends before the number of vectors its header announces"
        ) from exc
    except UnicodeDecodeError as exc:
        raise _binary_undecodable(path, exc) from None
    except ValueError as exc:
        located = None if binary else _locate_bad_value(path, fmt == "word2vec-text")
        if located is not None:
            raise InputFormatError(path, located[0], located[1]) from exc
        raise InputFormatError(path, None, f"not a valid {fmt} file ({exc})") from exc
    except READ_ERRORS as exc:
        raise InputFormatError(path, None, read_failure(exc)) from None
    words = list(kv.index_to_key)
    if len(kv.key_to_index) != len(words):  # gensim left a None key for each repeat
        raise _duplicate(path, fmt)
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    # A float64 row sum cannot overflow from float32 values but keeps any NaN or infinity,
    # and needs one number per row instead of a boolean copy of the whole matrix.
    finite = np.isfinite(vectors.sum(axis=1, dtype=np.float64))
    if not finite.all():
        row = int(np.argmin(finite))
        raise _at(
            path,
            None if binary else row + _first_row_line(fmt),
            row + 1,
            f"the vector of {words[row]!r} holds NaN, infinity or a number too large for float32",
        )
    if vocabulary is not None:
        keep = [i for i, w in enumerate(words) if w in vocabulary]
        words = [words[i] for i in keep]
        vectors = vectors[keep]
    return WordVectors(words, np.ascontiguousarray(vectors))


def normalize_word(word: str, lowercase: bool, digits: bool) -> str:
    """Optionally lower-case and map every digit to '0' (Lample; Lyu map numbers to NUM)."""
    if lowercase:
        word = word.lower()
    if digits:
        word = _DIGIT.sub("0", word)
    return word


def _candidates(word: str, lowercase: bool, digits: bool) -> tuple[str, str, str]:
    return word, word.lower(), normalize_word(word, lowercase, digits)


def lookup_keys(word: str, lowercase: bool, digits: bool) -> list[str]:
    """Forms tried for a vocabulary word, in order: exact, lower-cased, normalised.

    The union over a vocabulary is the ``vocabulary`` to pass to `load_word_vectors`.
    """
    return list(dict.fromkeys(_candidates(word, lowercase, digits)))


@dataclass(frozen=True)
class EmbeddingCoverage:
    """How many vocabulary words (padding excluded) found a pretrained vector, and how."""

    total: int
    exact: int = 0
    lowercased: int = 0
    normalised: int = 0

    @property
    def found(self) -> int:
        return self.exact + self.lowercased + self.normalised

    @property
    def missing(self) -> int:
        return self.total - self.found

    @property
    def ratio(self) -> float:
        return self.found / self.total if self.total else 0.0


def build_embedding_matrix(
    vocab_words: Sequence[str],
    vectors: WordVectors | None,
    dim: int | None = None,
    lowercase: bool = False,
    digits: bool = False,
    seed: int = 0,
    *,
    padding_idx: int | None = 0,
    init: Literal["uniform", "normal"] = "uniform",
) -> tuple[Tensor, EmbeddingCoverage]:
    """A `[len(vocab_words), dim]` float32 matrix and its pretrained coverage.

    ``dim`` defaults to the vectors' dimension (required without vectors). Row i is the
    pretrained vector of the first of `lookup_keys` found, else random:
    uniform in ±sqrt(3 / dim) or normal with std 1 / sqrt(dim) (variance 1 / dim either
    way), from a generator seeded with ``seed``. The padding row is zero.
    """
    if dim is None:
        if vectors is None:
            raise ValueError("build_embedding_matrix needs dim when there are no vectors")
        dim = vectors.dim
    if vectors is not None and vectors.dim != dim:
        raise BionerError(
            f"word vectors have dimension {vectors.dim} but the embedding dimension is {dim}"
        )
    if init not in ("uniform", "normal"):
        raise ValueError(f"unknown init {init!r}; expected 'uniform' or 'normal'")
    generator = torch.Generator().manual_seed(seed)
    size = (len(vocab_words), dim)
    if init == "uniform":
        bound = math.sqrt(3.0 / dim)
        matrix = torch.rand(size, generator=generator) * (2 * bound) - bound
    else:
        matrix = torch.randn(size, generator=generator) / math.sqrt(dim)
    counts = [0, 0, 0]  # exact, lower-cased, normalised
    if vectors is not None:
        index = vectors.index
        rows: list[int] = []
        sources: list[int] = []
        for i, word in enumerate(vocab_words):
            if i == padding_idx:
                continue
            for kind, key in enumerate(_candidates(word, lowercase, digits)):
                found = index.get(key)
                if found is not None:
                    rows.append(i)
                    sources.append(found)
                    counts[kind] += 1
                    break
        if rows:
            matrix[torch.tensor(rows)] = torch.from_numpy(vectors.vectors[sources]).float()
    if padding_idx is not None:
        matrix[padding_idx] = 0.0
    total = len(vocab_words) - (1 if padding_idx is not None else 0)
    return matrix, EmbeddingCoverage(total, *counts)


class WordEmbedding(nn.Module):
    """Word lookup `[...]` → `[..., dim]` initialised from ``weights`` `[num_words, dim]`.

    ``weights`` typically comes from `build_embedding_matrix`. Lyu et al. compare frozen and
    fine-tuned pretrained embeddings; ``freeze=True`` sets ``requires_grad = False`` on the
    weight (it still lives in the state dict). The padding row gets no gradient.
    out_dim = dim.
    """

    def __init__(
        self, weights: Tensor, *, freeze: bool = False, padding_idx: int | None = 0
    ) -> None:
        super().__init__()
        if weights.dim() != 2:
            raise ValueError(f"weights must be [num_words, dim], got {tuple(weights.shape)}")
        self.embedding = nn.Embedding(weights.shape[0], weights.shape[1], padding_idx=padding_idx)
        with torch.no_grad():
            self.embedding.weight.copy_(weights)
        self.embedding.weight.requires_grad_(not freeze)
        self.out_dim = int(weights.shape[1])

    @property
    def frozen(self) -> bool:
        return not self.embedding.weight.requires_grad

    def forward(self, word_ids: Tensor) -> Tensor:
        return self.embedding(word_ids)
