"""Writing a stream of annotated documents: JSON, the corpus formats, or the terminal view.

One job: pick the output format (from `--to`, the output's name, or whether stdout is a
terminal) and write documents as they arrive. Files are written atomically and never over an
input (`bioner.data.atomic`); stdout is written as a stream. JSON is this module's own
reader-friendly view (each span with its text); every other format is the project's writer,
so the result reads back with `bioner.data.formats.read_documents`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from bioner.data.atomic import PathLike
from bioner.data.document import Document
from bioner.data.formats import suffix_of
from bioner.errors import BionerError

#: Output formats of `bioner annotate`.
OUTPUT_FORMATS: tuple[str, ...] = (
    "terminal",
    "json",
    "jsonl",
    "pubtator",
    "bioc-xml",
    "bioc-json",
    "brat",
    "conll",
)
_BY_SUFFIX = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".pubtator": "pubtator",
    ".xml": "bioc-xml",
    ".conll": "conll",
    ".tsv": "conll",
    ".iob": "conll",
    ".iob2": "conll",
}


def normalize_output_format(name: str) -> str:
    """An output format name; `bioc` means BioC XML."""
    key = name.strip().lower().replace("_", "-")
    key = {"bioc": "bioc-xml", "pretty": "terminal", "tty": "terminal"}.get(key, key)
    if key not in OUTPUT_FORMATS:
        raise BionerError(f"unknown output format {name!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    return key


def choose_format(to: str | None, output: PathLike | None, stdout_is_tty: bool) -> str:
    """`--to` if given; else from the output's suffix (none: a BRAT folder); else tty/JSONL."""
    if to:
        return normalize_output_format(to)
    if output is None:
        return "terminal" if stdout_is_tty else "jsonl"
    return format_of_output_name(output, _BY_SUFFIX)


def format_of_output_name(output: PathLike, by_suffix: Mapping[str, str]) -> str:
    """The format `output`'s name asks for: its suffix in `by_suffix` (`.gz` ignored), a BRAT
    folder when it has no suffix or is a folder; anything else asks for `--to` rather than
    writing one format under another's name."""
    suffix = suffix_of(output)
    if suffix in by_suffix:
        return by_suffix[suffix]
    if not suffix or Path(output).is_dir():
        return "brat"
    raise BionerError(f"cannot tell the output format of {output}; name it with --to")


def span_view(document: Document) -> list[dict[str, Any]]:
    """Spans as JSON objects: offsets into the original text, the text, label and score."""
    return [
        {
            "start": span.start,
            "end": span.end,
            "text": document.text[span.start : span.end],
            "label": span.label,
            "score": span.score,
        }
        for span in document.spans
    ]


def document_view(document: Document) -> dict[str, Any]:
    """One document as the JSON output and the HTTP service show it."""
    return {"id": document.id, "text": document.text, "spans": span_view(document)}


def write_json(documents: Iterable[Document], stream: TextIO, *, single: bool) -> int:
    """One JSON object when `single`, else an array written element by element."""
    written = 0
    if single:
        for document in documents:
            if written:
                raise BionerError("JSON output of one document got several")
            stream.write(json.dumps(document_view(document), ensure_ascii=False, indent=1))
            written += 1
        stream.write("\n")
        return written
    stream.write("[")
    for document in documents:
        stream.write(",\n" if written else "\n")
        stream.write(json.dumps(document_view(document), ensure_ascii=False))
        written += 1
    stream.write("\n]\n" if written else "]\n")
    return written


def _to_stream(documents: Iterable[Document], stream: TextIO, fmt: str) -> int:
    """`formats.write_stream`, flushing after each document of a line-based format (a pipe
    sees results early) and with CoNLL's `-DOCSTART-` lines (annotate's documents)."""
    from bioner.data.formats import write_stream

    if fmt == "bioc-xml" or fmt == "bioc-json":  # one tree, written whole at the end
        return write_stream(documents, stream, fmt)
    options: dict[str, Any] = {"docstart": True} if fmt == "conll" else {}
    return write_stream(_flushing(documents, stream), stream, fmt, **options)


def _flushing(documents: Iterable[Document], stream: TextIO) -> Iterator[Document]:
    """Flush the stream before waiting for each next document, so pipes see results early."""
    for document in documents:
        yield document
        stream.flush()


def write_output(
    documents: Iterable[Document],
    fmt: str,
    *,
    output: PathLike | None,
    stream: TextIO,
    inputs: Sequence[PathLike] = (),
    single: bool = False,
    labels: Sequence[str] = (),
) -> int:
    """Write the stream in `fmt` to `output` (atomically) or to `stream`; returns the count."""
    if fmt == "terminal":
        if output is not None:
            raise BionerError("the terminal view is for the screen; choose a format with --to")
        from bioner.annotation.terminal import print_documents

        return print_documents(documents, labels=labels, stream=stream)
    if output is None:
        if fmt == "json":
            return write_json(_flushing(documents, stream), stream, single=single)
        if fmt == "brat":
            raise BionerError("BRAT output is a folder of files; give it with --output")
        return _to_stream(documents, stream, fmt)
    if fmt == "json":
        from bioner.data.formats.textio import open_output

        with open_output(output, inputs) as target:
            return write_json(documents, target, single=single)
    from bioner.data.formats import write_documents

    options: dict[str, Any] = {"docstart": True} if fmt == "conll" else {}
    return write_documents(documents, output, fmt, inputs=inputs, **options)


__all__ = [
    "OUTPUT_FORMATS",
    "choose_format",
    "document_view",
    "format_of_output_name",
    "normalize_output_format",
    "span_view",
    "write_json",
    "write_output",
]
