"""bioner's own JSON Lines format: one document per line, exact and easy to produce elsewhere.

Schema (documented in docs/formats.md)::

    {"id": str, "text": str,
     "spans": [{"start": int, "end": int, "label": str,
                "score"?: float, "concept_id"?: str, "extra"?: [str, ...]}, ...],
     "sentences"?: [[[start, end], ...], ...]}   # one list of token offsets per sentence

Offsets are character offsets into `text`, end-exclusive. Passages, relations and metadata are
not part of the schema. Written with the standard `json` module; the checks (types, offsets
inside the text, tokens inside one sentence in order) are ours so that an error names the line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from bioner.data.atomic import PathLike
from bioner.data.document import Document, Sentence, Span, Token
from bioner.data.formats.textio import lone_surrogate, open_input, reading
from bioner.errors import InputFormatError


class _SchemaError(ValueError):
    """A schema violation inside one line (turned into InputFormatError with the line)."""


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _SchemaError(f"{what} must be an integer, found {value!r}")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _SchemaError(f"{what} must be a string, found {value!r}")
    problem = lone_surrogate(value)
    if problem is not None:
        raise _SchemaError(f"{what} holds {problem}")
    return value


def _span(raw: Any, text: str, index: int) -> Span:
    if not isinstance(raw, dict):
        raise _SchemaError(f"span {index} must be an object")
    unknown = set(raw) - {"start", "end", "label", "score", "concept_id", "extra"}
    if unknown:
        raise _SchemaError(f"span {index} has unknown keys {sorted(unknown)}")
    start = _integer(raw.get("start"), f"span {index} start")
    end = _integer(raw.get("end"), f"span {index} end")
    label = _string(raw.get("label"), f"span {index} label")
    if not 0 <= start < end <= len(text):
        raise _SchemaError(
            f"span {index} [{start}, {end}) is outside the text of {len(text)} characters"
        )
    if not label:
        raise _SchemaError(f"span {index} has an empty label")
    score = raw.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
    ):
        # json.loads accepts NaN and Infinity, which strict JSON readers elsewhere reject.
        raise _SchemaError(f"span {index} score must be a finite number, found {score!r}")
    concept = raw.get("concept_id")
    if concept is not None:
        _string(concept, f"span {index} concept_id")
    extra = raw.get("extra", [])
    if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
        raise _SchemaError(f"span {index} extra must be a list of strings")
    for item in extra:
        _string(item, f"span {index} extra")
    return Span(start, end, label, None if score is None else float(score), concept, tuple(extra))


def _sentences(raw: Any, text: str) -> list[Sentence]:
    if not isinstance(raw, list):
        raise _SchemaError("sentences must be a list of lists of [start, end]")
    sentences = []
    previous_end = 0
    for number, tokens in enumerate(raw, 1):
        if not isinstance(tokens, list) or not tokens:
            raise _SchemaError(f"sentence {number} must be a non-empty list of [start, end]")
        built = []
        for pair in tokens:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _SchemaError(
                    f"sentence {number}: a token must be [start, end], found {pair!r}"
                )
            start = _integer(pair[0], f"sentence {number} token start")
            end = _integer(pair[1], f"sentence {number} token end")
            if not previous_end <= start < end <= len(text):
                raise _SchemaError(
                    f"sentence {number}: token [{start}, {end}) is out of order or outside the text"
                )
            built.append(Token(text[start:end], start, end))
            previous_end = end
        sentences.append(Sentence(built))
    return sentences


def _document(record: Any) -> Document:
    if not isinstance(record, dict):
        raise _SchemaError("each line must be a JSON object")
    unknown = set(record) - {"id", "text", "spans", "sentences"}
    if unknown:
        raise _SchemaError(f"unknown keys {sorted(unknown)}")
    doc_id = _string(record.get("id"), "id")
    text = _string(record.get("text"), "text")
    spans_raw = record.get("spans", [])
    if not isinstance(spans_raw, list):
        raise _SchemaError("spans must be a list")
    spans = [_span(raw, text, index) for index, raw in enumerate(spans_raw, 1)]
    sentences = _sentences(record["sentences"], text) if "sentences" in record else []
    return Document(id=doc_id, text=text, sentences=sentences, spans=spans)


def read_jsonl(path: PathLike) -> Iterator[Document]:
    """Documents of a JSON Lines file; blank lines are allowed and skipped."""
    with reading(path), open_input(path) as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield _document(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputFormatError(path, number, f"bad JSON: {error.msg}") from None
            except _SchemaError as error:
                raise InputFormatError(path, number, str(error)) from None


def document_record(document: Document) -> dict[str, Any]:
    """The JSON object for one document (also what the HTTP service can return)."""
    spans = []
    for span in document.spans:
        item: dict[str, Any] = {"start": span.start, "end": span.end, "label": span.label}
        if span.score is not None:
            item["score"] = span.score
        if span.concept_id is not None:
            item["concept_id"] = span.concept_id
        if span.extra:
            item["extra"] = list(span.extra)
        spans.append(item)
    record: dict[str, Any] = {"id": document.id, "text": document.text, "spans": spans}
    if document.sentences:
        record["sentences"] = [
            [[token.start, token.end] for token in sentence.tokens]
            for sentence in document.sentences
        ]
    return record


#: Line ends for `str.splitlines` that `json.dumps(ensure_ascii=False)` writes raw (it escapes
#: the C0 ones): a reader splitting the file with `splitlines` would cut a record there.
_RAW_LINE_ENDS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _line(record: Any) -> str:
    """One JSON Lines record: UTF-8 text as is, except the line ends `str.splitlines` knows.

    They can only occur inside strings, where their escapes read back as the same text.
    """
    return json.dumps(record, ensure_ascii=False).translate(_RAW_LINE_ENDS) + "\n"


def write_jsonl(documents: Iterable[Document], stream: TextIO) -> int:
    written = 0
    for document in documents:
        stream.write(_line(document_record(document)))
        written += 1
    return written
