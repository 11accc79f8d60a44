"""JSON Lines (bioner's schema): round trip with scores, ids and tokens; schema errors by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioner.data.document import Document, Span
from bioner.data.formats import read_documents, write_documents
from bioner.errors import InputFormatError


def test_round_trip_keeps_everything_in_the_schema(fixtures_dir: Path, tmp_path: Path) -> None:
    documents = list(read_documents(fixtures_dir / "formats" / "docstart.tsv"))
    documents.append(
        Document("raw", "BRCA1 é", spans=[Span(0, 5, "Gene", score=0.5, concept_id="672")])
    )
    target = tmp_path / "out.jsonl"
    write_documents(documents, target, "jsonl")
    again = list(read_documents(target))
    assert [(d.id, d.text, d.spans) for d in again] == [(d.id, d.text, d.spans) for d in documents]
    assert [[s.words for s in d.sentences] for d in again] == [
        [s.words for s in d.sentences] for d in documents
    ]
    record = json.loads(target.read_text(encoding="utf-8").splitlines()[-1])
    assert record == {
        "id": "raw",
        "text": "BRCA1 é",
        "spans": [{"start": 0, "end": 5, "label": "Gene", "score": 0.5, "concept_id": "672"}],
    }


@pytest.mark.parametrize(
    ("second_line", "problem"),
    [
        ('{"id": "b", "text": "xy", "spans": [', "bad JSON"),
        ('{"id": "b", "text": "xy", "spans": [{"start": 0, "end": 9, "label": "X"}]}', "outside"),
        ('{"id": "b", "text": "xy", "spans": [{"start": "0", "end": 1, "label": "X"}]}', "integer"),
        ('{"id": "b", "text": "xy", "colour": 1}', "unknown keys"),
        ('{"id": "b", "text": "xy", "sentences": [[[1, 2], [0, 1]]]}', "out of order"),
        ("[1, 2]", "JSON object"),
        (
            '{"id": "b", "text": "xy", "spans": [{"start": 0, "end": 1, "label": "X", '
            '"score": NaN}]}',
            "finite number",
        ),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, second_line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "ok", "spans": []}\n' + second_line + "\n")
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    message = str(caught.value)
    assert "bad.jsonl, line 2:" in message and problem in message


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('{"id": "b", "text": "x\\ud800y"}', "text holds a lone surrogate \\ud800"),
        ('{"id": "\\udfff", "text": "xy"}', "id holds a lone surrogate \\udfff"),
        (
            '{"id": "b", "text": "xy", "spans": [{"start": 0, "end": 1, "label": "X", '
            '"extra": ["\\udc00"]}]}',
            "span 1 extra holds a lone surrogate \\udc00",
        ),
    ],
)
def test_lone_surrogate_escapes_name_file_and_line(
    tmp_path: Path, record: str, problem: str
) -> None:
    """A `\\ud800` escape was read, and writing failed later with no file or line."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "\\ud83d\\ude00 paired", "spans": []}\n' + record + "\n")
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    assert str(caught.value).startswith(f"{path}, line 2: {problem} (not a character)")


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "a", "text": "ok", "spans": []}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(InputFormatError, match=r"latin1\.jsonl, line 2: not valid UTF-8"):
        list(read_documents(path))
