"""Streaming annotation: find inputs, read them lazily, tag them in bounded batches.

One job: turn a list of command-line inputs (literal text, files, folders, stdin) into a
stream of annotated `Document`s while holding only one batch in memory, so that an input of
any size runs in constant memory. Reading is separated from tagging so that a malformed file
costs one reported `Failure` and the rest of the inputs still get annotated.

Memory: inputs are discovered and read one at a time (plain text with `lines=True` one line at
a time); a batch holds at most `batch_size` documents and about `max_batch_chars` characters;
the tokenizer caps tokens (64 characters) and sentences (1000 tokens), so a 1 MB line without
spaces is a bounded number of bounded sentences. One document (a whole plain-text file, one
PubTator or BioC file's parse) is the unit that is held whole.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bioner.data.document import Document
from bioner.data.formats import is_pubtator_title, starts_like_pubtator, suffix_of
from bioner.data.formats.textio import READ_ERRORS, read_failure
from bioner.data.inputs import check_items, describe_non_text, input_document
from bioner.errors import BionerError, InputFormatError

if TYPE_CHECKING:
    from bioner.tagger import Tagger
    from bioner.text import Tokenizer

log = logging.getLogger(__name__)

#: Input formats `bioner annotate` reads: plain text plus every corpus reader.
INPUT_FORMATS: tuple[str, ...] = (
    "text",
    "pubtator",
    "bioc-xml",
    "bioc-json",
    "jsonl",
    "conll",
    "brat",
)
#: File name endings picked up inside folders unless `extensions` says otherwise.
DEFAULT_EXTENSIONS: tuple[str, ...] = (".txt", ".pubtator", ".xml", ".json", ".jsonl")
_SUFFIX_FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".pubtator": "pubtator",
    ".xml": "bioc-xml",
    ".json": "bioc-json",
    ".jsonl": "jsonl",
    ".conll": "conll",
    ".tsv": "conll",
    ".iob": "conll",
    ".iob2": "conll",
    ".bio": "conll",
    ".bioes": "conll",
    ".ann": "brat",
}
STDIN = "-"
SCORE_DIGITS = 4
#: Tokens per tensor batch. A BiLSTM runs one sequential step per token of the longest
#: sentence, so long (capped, 1000-token) sentences are cheaper side by side: a larger budget
#: than evaluation's 4000 means fewer sequential steps. Past 8000 the default tagger's
#: 200-unit steps outgrow the cache: 16,000 was 8 % slower on abstracts and 3 % on full text
#: (one thread, in-process, alternating runs; 2026-12-02).
BATCH_TOKENS = 8_000


@dataclass(frozen=True)
class Source:
    """One input: `kind` is "text" (a literal string), "stdin" or "file"; `fmt` its format."""

    kind: str
    value: str
    fmt: str
    label: str


@dataclass(frozen=True)
class Failure:
    """An input (or part of one) that could not be read: where, which line, what is wrong."""

    source: str
    line: int | None
    problem: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}, line {self.line}"
        return f"{where}: {self.problem}"


# ---------------------------------------------------------------------- input discovery
def normalize_input_format(name: str) -> str:
    """`text` or a corpus format name (aliases as in `bioner.data.formats`)."""
    key = name.strip().lower()
    if key in ("text", "txt", "plain"):
        return "text"
    from bioner.data.formats import normalize_format

    try:
        return normalize_format(key)
    except BionerError:
        raise BionerError(
            f"unknown input format {name!r}: use one of {', '.join(INPUT_FORMATS)}"
        ) from None


def format_of_path(path: Path) -> str:
    """The input format of a file from its name; unknown names are read as plain text.

    A file the name calls plain text whose first line is a PubTator title (`ID|t|...`) is
    read as PubTator: the field's PubTator files are often named `*.txt`, and tagging one as
    a single plain-text document (title lines, tab-separated gold rows and all) is never
    what was meant. `--from text` still reads it as text.
    """
    found = _SUFFIX_FORMATS.get(suffix_of(path), "text")
    if found == "text" and starts_like_pubtator(path):
        return "pubtator"
    return found


def _looks_like_path(argument: str) -> bool:
    """An argument meant as a file name: one word with a slash or a known suffix."""
    if not argument or any(ch.isspace() for ch in argument):
        return False
    if "/" in argument or os.sep in argument:
        return True
    return suffix_of(argument) in _SUFFIX_FORMATS


def _matches(path: Path, extensions: Sequence[str]) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return any(name.endswith(ext) for ext in extensions)


def _walk(folder: Path, extensions: Sequence[str]) -> Iterator[Path]:
    """Files under `folder` whose names end in one of `extensions`, sorted, hidden ones skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and _matches(path, extensions):
                yield path


def resolve_sources(
    arguments: Sequence[str],
    *,
    fmt: str | None = None,
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    on_error: Callable[[Failure], None] | None = None,
) -> Iterator[Source]:
    """Inputs in order: existing paths (folders searched recursively), `-` for stdin, else text.

    An argument that looks like a path (has a slash or a known suffix, no spaces) but does not
    exist is reported through `on_error` rather than annotated as text.
    """
    chosen = normalize_input_format(fmt) if fmt else None
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    literal = 0
    for argument in arguments:
        path = Path(argument)
        if argument == STDIN:
            yield Source("stdin", STDIN, chosen or _stdin_format(), "stdin")
        elif path.is_dir():
            if chosen == "brat" or (chosen is None and any(path.glob("*.ann"))):
                yield Source("file", argument, "brat", argument)
                continue
            found = False
            for file in _walk(path, exts):
                found = True
                yield Source("file", str(file), chosen or format_of_path(file), str(file))
            if not found and on_error is not None:
                on_error(Failure(argument, None, f"no files ending in {', '.join(exts)}"))
        elif path.is_file():
            yield Source("file", argument, chosen or format_of_path(path), argument)
        elif _looks_like_path(argument):
            if on_error is not None:
                on_error(Failure(argument, None, "no such file or directory"))
        else:
            literal += 1
            yield Source("text", argument, "text", f"text-{literal}")


def input_paths(arguments: Sequence[str]) -> list[Path]:
    """The arguments that name existing files or folders (outputs must never overwrite them)."""
    return [Path(a) for a in arguments if a != STDIN and Path(a).exists()]


# ---------------------------------------------------------------------- reading
def _open_binary(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def _decode(data: bytes, source: str, first_line: int = 1) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise InputFormatError(source, line, f"not valid UTF-8 ({error.reason})") from None


def _strip_newline(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def _read_lines(stream: IO[bytes], label: str) -> Iterator[Document]:
    """One document per non-blank line, id `<label>:<line number>`."""
    for number, raw in enumerate(stream, 1):
        text = _strip_newline(_decode(raw, label, number))
        if text.strip():
            yield Document(id=f"{label}:{number}", text=text)


def _read_plain(source: Source, lines: bool) -> Iterator[Document]:
    if source.kind == "text":
        # Bytes of a command-line argument that are not UTF-8 arrive as lone surrogates
        # (surrogateescape); checked like a file's bytes, or no writer could encode them.
        raw = source.value.encode("utf-8", "surrogateescape")
        yield Document(id=source.label, text=_decode(raw, source.label))
        return
    if source.kind == "stdin":
        stream = _stdin_bytes()
        if lines:
            yield from _read_lines(stream, source.label)
        else:
            yield Document(id=source.label, text=_decode(stream.read(), "<stdin>"))
        return
    with _open_binary(source.value) as stream:
        if lines:
            yield from _read_lines(stream, source.label)
        else:
            yield Document(id=source.label, text=_decode(stream.read(), source.label))


#: The wrapper given to a stdin without `peek` (a test runner's BytesIO), kept so that every
#: later read goes through the same buffer as the peek.
_wrapped_stdin: list[tuple[object, io.BufferedReader]] = []


def _stdin_bytes() -> IO[bytes]:
    """Standard input as a byte stream that can `peek` (a real stdin's buffer already can)."""
    raw = sys.stdin.buffer
    if hasattr(raw, "peek"):
        return raw
    if not _wrapped_stdin or _wrapped_stdin[0][0] is not raw:
        _wrapped_stdin[:] = [(raw, io.BufferedReader(raw))]
    return _wrapped_stdin[0][1]


def _stdin_format() -> str:
    """The format of piped input without `--from`, from its first bytes (not consumed).

    A PubTator title line, an XML declaration or `<collection>` (BioC), and a JSON object
    (`{"`, the bioner schema) are unmistakable; anything else is plain text, the default.
    Looser signs (a tab: CoNLL?) are left to `--from`, since plain text may have them too.
    """
    head = _stdin_bytes().peek(8192)[:8192].decode("utf-8", errors="replace")
    head = head.lstrip("\ufeff \t\r\n")
    if is_pubtator_title(head.split("\n", 1)[0]):
        return "pubtator"
    if head.startswith(("<?xml", "<collection")):
        return "bioc-xml"
    if head.startswith('{"'):
        return "jsonl"
    return "text"


@contextlib.contextmanager
def _spooled_stdin() -> Iterator[Path]:
    """Copy stdin to a temporary file in chunks, for readers that need a path."""
    folder = Path(tempfile.mkdtemp(prefix="bioner-stdin-"))
    try:
        path = folder / "stdin"
        with open(path, "wb") as target:
            shutil.copyfileobj(_stdin_bytes(), target, 1 << 20)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_source(source: Source, *, lines: bool = False) -> Iterator[Document]:
    """Documents of one input, lazily; malformed input raises InputFormatError."""
    if source.fmt == "text":
        yield from _read_plain(source, lines)
        return
    from bioner.data.formats import read_documents

    if source.kind == "text":
        raise BionerError(f"literal text can only be read as plain text, not {source.fmt}")
    if source.kind == "file":
        yield from read_documents(source.value, source.fmt)
        return
    yield from read_stdin(source.fmt)


def read_stdin(fmt: str | None = None) -> Iterator[Document]:
    """Documents of a corpus file piped to stdin, lazily; errors name `<stdin>`.

    `fmt` None guesses the format from the content, as for a file without a known suffix.
    """
    from bioner.data.formats import read_documents

    with _spooled_stdin() as path:
        try:
            yield from read_documents(path, fmt or _content_format(path))
        except InputFormatError as error:
            raise InputFormatError("<stdin>", error.line, error.problem) from None


def _content_format(path: Path) -> str:
    """The format of spooled stdin from its first line (the temporary path is not named)."""
    from bioner.data.formats import guess_format

    try:
        return guess_format(path)
    except InputFormatError:
        raise  # bytes that are not UTF-8: reported with their line
    except BionerError:
        raise BionerError("<stdin>: cannot tell the format; name it with --from") from None


def iter_documents(
    sources: Iterable[Source],
    *,
    lines: bool = False,
    on_error: Callable[[Failure], None],
) -> Iterator[Document]:
    """Documents of every source in order; a failing source is reported and skipped.

    Documents read before the failing line of a file are kept (they were already streamed on).
    An input that holds no text at all (an empty file, only blank lines) is not an error, but
    it is named in a warning: "annotated 0 documents" alone does not say which input was empty.
    """
    for source in sources:
        try:
            has_text = False
            for document in read_source(source, lines=lines):
                has_text = has_text or bool(document.text.strip())
                yield document
            if not has_text:
                log.warning("%s: no text to annotate (the input is empty)", source.label)
        except InputFormatError as error:
            on_error(Failure(error.path, error.line, error.problem))
        except BionerError as error:
            on_error(Failure(source.label, None, str(error)))
        except READ_ERRORS as error:
            on_error(Failure(source.label, None, read_failure(error)))


# ---------------------------------------------------------------------- tagging
def batched(
    documents: Iterable[Document], batch_size: int, max_batch_chars: int
) -> Iterator[list[Document]]:
    """Consecutive groups of at most `batch_size` documents and about `max_batch_chars` chars."""
    if batch_size < 1:
        raise BionerError(f"batch size must be at least 1, got {batch_size}")
    batch: list[Document] = []
    chars = 0
    for document in documents:
        batch.append(document)
        chars += len(document.text)
        if len(batch) >= batch_size or chars >= max_batch_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def tokenized(document: Document, tokenizer: Tokenizer) -> Document:
    """The document with sentences (passage ends are forced sentence breaks)."""
    if document.sentences or not document.text:
        return document
    breaks = [p.end for p in document.passages]
    return replace(document, sentences=tokenizer.tokenize(document.text, boundaries=breaks))


def finish(document: Document, types: frozenset[str] | None) -> Document:
    """Keep only spans of the wanted types; round scores so results do not depend on threads."""
    spans = [
        replace(s, score=None if s.score is None else round(s.score, SCORE_DIGITS))
        for s in document.spans
        if types is None or s.label in types
    ]
    return document.with_spans(spans)


def check_types(types: Iterable[str] | None, labels: Iterable[str]) -> frozenset[str] | None:
    """A `types` filter as a set (None: every type); the one check behind every `types` argument.

    `Tagger.predict_documents`, `annotate_stream`, `bioner annotate --types` and the web
    service all call it, so a filter means the same everywhere. Items may hold several names
    separated by commas (`--types Chemical,Disease`). A bare string is a TypeError: iterated,
    `"Disease"` would be the types D, i, s, e, a. A filter that names no type (`[]`, `[","]`)
    is a BionerError, not "all types" nor "none": a caller whose list came out empty must
    hear it, and None already means every type. Names the model does not know are an error.
    """
    if types is None:
        return None
    if isinstance(types, str | bytes):
        raise TypeError(f"types must be a list of entity type names, e.g. [{types!r}], not a str")
    if not isinstance(types, Iterable):
        raise TypeError(f"types must be a list of entity type names; got {type(types).__name__}")
    names: set[str] = set()
    for index, item in enumerate(types):
        if not isinstance(item, str):
            raise TypeError(
                f"types: item {index} is {describe_non_text(item)}; expected an entity type name"
            )
        names.update(name.strip() for name in item.split(",") if name.strip())
    known = sorted(set(labels))
    if not names:
        raise BionerError(
            f"types: name at least one entity type ({', '.join(known)}), "
            "or leave 'types' out for all"
        )
    unknown = sorted(names.difference(known))
    if unknown:
        raise BionerError(
            f"unknown entity type(s) {', '.join(unknown)}: this model tags {', '.join(known)}"
        )
    return frozenset(names)


def model_labels(tagger: Tagger) -> list[str]:
    """Every entity type any head of the model can output, sorted."""
    return tagger.labels()


def annotate_stream(
    tagger: Tagger,
    items: Iterable[str | Document],
    *,
    batch_size: int = 256,
    max_batch_chars: int = 200_000,
    types: Iterable[str] | None = None,
    tokenizer: Tokenizer | str | None = None,
    batch_tokens: int = BATCH_TOKENS,
) -> Iterator[Document]:
    """Annotated documents in input order, tagging one bounded batch at a time.

    The streaming form of `Tagger.annotate`: `items` (any iterable, e.g. a generator over a
    file's lines) is read lazily and only one batch of at most `batch_size` documents and
    about `max_batch_chars` characters is held, so memory stays flat however long the input.
    Each result is a `Document` whose `spans` hold `start`/`end` offsets into its `text`,
    `label` and `score` (rounded to 4 decimals, as every output format writes it).

    Strings become documents `doc1`, `doc2`, ... (numbered from 1 in input order); Documents
    keep their id, passages and metadata. Documents without sentences are tokenized, by
    default as the model's training data was (`Tagger.annotate` does the same), since a
    variant model tags other tokens badly; `tokenizer` overrides it (a `Tokenizer` or a name:
    "default", "variant", "fine"). `types` keeps only those entity types (unknown names,
    or a list that names none, are a BionerError: `check_types`). `batch_tokens` is the
    model's token budget per tensor batch.
    Safe to call from several threads on one tagger (prediction takes the tagger's lock).
    Wrong argument types are a TypeError at the call, not at the first result.
    """
    from bioner.text import make_tokenizer

    check_items(items, "annotate_stream")
    if batch_size < 1:
        raise BionerError(f"batch size must be at least 1, got {batch_size}")
    if tokenizer is None or isinstance(tokenizer, str):
        tokenizer = make_tokenizer(tokenizer or tagger.config.data.tokenizer)
    wanted = check_types(types, model_labels(tagger))
    documents = (input_document(item, number) for number, item in enumerate(items, 1))
    return _annotated_batches(
        tagger, documents, batch_size, max_batch_chars, wanted, tokenizer, batch_tokens
    )


def _annotated_batches(
    tagger: Tagger,
    documents: Iterable[Document],
    batch_size: int,
    max_batch_chars: int,
    wanted: frozenset[str] | None,
    tokenizer: Tokenizer,
    batch_tokens: int,
) -> Iterator[Document]:
    """`annotate_stream`'s generator, separate so that its argument checks run at the call."""
    for batch in batched(documents, batch_size, max_batch_chars):
        prepared = [tokenized(d, tokenizer) for d in batch]
        predicted = tagger.predict_documents(prepared, batch_tokens=batch_tokens, types=wanted)
        for document in predicted:
            yield finish(document, wanted)


__all__ = [
    "DEFAULT_EXTENSIONS",
    "INPUT_FORMATS",
    "Failure",
    "Source",
    "annotate_stream",
    "batched",
    "check_types",
    "format_of_path",
    "input_paths",
    "iter_documents",
    "model_labels",
    "read_source",
    "read_stdin",
    "resolve_sources",
]
