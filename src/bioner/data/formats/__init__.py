"""Corpus readers and writers behind two calls: `read_documents` and `write_documents`.

One module per format (`conll`, `pubtator`, `bioc_format`, `brat`, `jsonl`); this module
names the formats, guesses one from a path, and routes every write through an atomic file
write that refuses to overwrite the command's own inputs (`write_stream` writes the same
text to an open stream: stdout for `--output -`).

Format names: `conll`, `pubtator`, `bioc-xml`, `bioc-json`, `brat`, `jsonl`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bioner.data.atomic import PathLike, refuse_inputs
from bioner.data.document import Document
from bioner.data.inputs import checked_documents, describe_non_text
from bioner.errors import BionerError

FORMATS: tuple[str, ...] = ("conll", "pubtator", "bioc-xml", "bioc-json", "brat", "jsonl")

#: The corpus format each file suffix stands for (see `suffix_of`).
SUFFIX_FORMATS = {
    ".tsv": "conll",
    ".conll": "conll",
    ".iob": "conll",
    ".iob2": "conll",
    ".bio": "conll",
    ".bioes": "conll",
    ".pubtator": "pubtator",
    ".xml": "bioc-xml",
    ".json": "bioc-json",
    ".jsonl": "jsonl",
    ".ann": "brat",
}
_PUBTATOR_TITLE = re.compile(r"^[^|\t]+\|t\|")


def normalize_format(name: str) -> str:
    """Accept case and `_` variants (`BioC_XML` → `bioc-xml`); reject unknown names."""
    if not isinstance(name, str):
        raise TypeError(
            f"a format is a name such as 'conll' ({', '.join(FORMATS)}); got {type(name).__name__}"
        )
    key = name.strip().lower().replace("_", "-")
    aliases = {"bioc": "bioc-xml", "json-lines": "jsonl", "iob": "conll", "standoff": "brat"}
    key = aliases.get(key, key)
    if key not in FORMATS:
        raise BionerError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}")
    return key


def _first_line(path: Path) -> str:
    from bioner.data.formats.textio import open_input, reading

    with reading(path), open_input(path) as stream:
        for line in stream:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def suffix_of(path: PathLike) -> str:
    """A file name's suffix, lower-cased, with a final `.gz` ignored (`x.PubTator.gz` →
    `.pubtator`): compressed inputs are read and named as their content."""
    name = Path(path).name
    name = name[:-3] if name.lower().endswith(".gz") else name
    return Path(name).suffix.lower()


def is_pubtator_title(line: str) -> bool:
    """Whether `line` is a PubTator title line (`ID|t|Title`)."""
    return bool(_PUBTATOR_TITLE.match(line))


def starts_like_pubtator(path: PathLike) -> bool:
    """Whether a file's first non-empty line is a PubTator title line (`ID|t|Title`).

    PubTator releases are often named `*.txt` (NCBItrainset_corpus.txt, test.PubTator.txt),
    so a reader choosing by suffix alone would take them for plain text. A file that cannot
    be read is not PubTator here; its reader reports the problem.
    """
    try:
        return is_pubtator_title(_first_line(Path(path)))
    except (BionerError, OSError, UnicodeDecodeError):
        return False


def guess_format(path: PathLike) -> str:
    """The format of a path: a folder with `.ann` files is BRAT; else suffix, then content."""
    source = Path(path)
    if source.is_dir():
        if any(source.glob("*.ann")):
            return "brat"
        raise BionerError(f"{path}: a folder is read as BRAT, but it holds no .ann files")
    if not source.exists():
        raise BionerError(f"{path}: no such file")
    suffix = suffix_of(source)
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix == ".txt" and source.with_suffix(".ann").is_file():
        return "brat"
    line = _first_line(source)
    if is_pubtator_title(line):
        return "pubtator"
    if line.startswith("<"):
        return "bioc-xml"
    if line.startswith("{"):
        return "jsonl"
    if "\t" in line:
        return "conll"
    raise BionerError(f"{path}: cannot tell the format; name it (e.g. --from conll)")


def read_documents(path: PathLike, fmt: str | None = None, **options: Any) -> Iterator[Document]:
    """Documents of a file (or BRAT folder), lazily; the format is guessed when None.

    Options go to the format's reader, e.g. `scheme`, `strict`, `tag_column` for CoNLL.
    A `path` that is not a str or `os.PathLike` (None, bytes, an open file) is a TypeError.
    """
    _check_path(path, "read_documents: path")
    name = normalize_format(fmt) if fmt else guess_format(path)
    if name == "conll":
        from bioner.data.formats.conll import read_conll

        return read_conll(path, **options)
    _no_options(name, options)
    if name == "pubtator":
        from bioner.data.formats.pubtator import read_pubtator

        return read_pubtator(path)
    if name in ("bioc-xml", "bioc-json"):
        from bioner.data.formats.bioc_format import read_bioc

        return read_bioc(path, name)
    if name == "brat":
        from bioner.data.formats.brat import read_brat

        return read_brat(path)
    from bioner.data.formats.jsonl import read_jsonl

    return read_jsonl(path)


def _check_path(path: object, name: str) -> None:
    """Refuse what pathlib would refuse with a message that names neither caller nor argument."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or os.PathLike; got {describe_non_text(path)}")


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise BionerError(f"options {sorted(options)} do not apply to the {name} format")


def write_documents(
    documents: Iterable[Document],
    path: PathLike,
    fmt: str,
    *,
    inputs: Iterable[PathLike] = (),
    **options: Any,
) -> int:
    """Write documents atomically (BRAT: into a folder); returns how many were written.

    `inputs` are the files the documents are read from: writing over one is refused.
    Options go to the writer, e.g. `scheme` and `docstart` for CoNLL, `newline` for PubTator.
    Anything but an iterable of Documents (a single Document, strings), a `path` that is not
    a str or `os.PathLike`, or a bare path for `inputs` is a TypeError naming it.
    """
    from bioner.data.formats.textio import open_output

    documents = checked_documents(documents, "write_documents")
    _check_path(path, "write_documents: path")
    name = normalize_format(fmt)
    if isinstance(inputs, str | os.PathLike):
        # Iterated, "in.tsv" is the paths i, n, ., ...: "." refused every output beside it.
        raise TypeError(
            f"write_documents: inputs must be a list of paths, e.g. [{str(inputs)!r}], not one"
        )
    inputs = list(inputs)
    for index, source in enumerate(inputs):
        _check_path(source, f"write_documents: inputs item {index}")
    refuse_inputs(path, inputs)
    if name == "brat":
        from bioner.data.formats.brat import write_brat

        _no_options(name, options)
        return write_brat(documents, path, inputs=inputs)
    with open_output(path, inputs) as stream:
        return _write_stream(documents, stream, name, **options)


def write_stream(documents: Iterable[Document], stream: TextIO, fmt: str, **options: Any) -> int:
    """Write documents to an open text stream, as `write_documents` writes them to a file.

    For `--output -` (stdout), so that it gives exactly what a file would hold. BRAT is a
    folder of files and has no single stream to go to. Misused arguments are a TypeError, as
    for `write_documents`.
    """
    return _write_stream(checked_documents(documents, "write_stream"), stream, fmt, **options)


def _write_stream(documents: Iterable[Document], stream: TextIO, fmt: str, **options: Any) -> int:
    """`write_stream` for documents already checked."""
    name = normalize_format(fmt)
    if name == "brat":
        raise BionerError("BRAT output is a folder of files; it cannot go to one stream")
    if name == "conll":
        from bioner.data.formats.conll import write_conll

        return write_conll(documents, stream, **options)
    if name == "pubtator":
        from bioner.data.formats.pubtator import write_pubtator

        return write_pubtator(documents, stream, **options)
    _no_options(name, options)
    if name in ("bioc-xml", "bioc-json"):
        from bioner.data.formats.bioc_format import write_bioc

        return write_bioc(documents, stream, name)
    from bioner.data.formats.jsonl import write_jsonl

    return write_jsonl(documents, stream)


__all__ = [
    "FORMATS",
    "guess_format",
    "normalize_format",
    "read_documents",
    "write_documents",
    "write_stream",
]
