"""Span majority vote: who wins, scores, order checks and errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.data.document import Document, Span
from bioner.data.formats import read_documents
from bioner.ensemble import vote_spans
from bioner.errors import BionerError
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]

TEXT = "the c.1517A>G and p.Asp506Gly variants"


def doc(*spans: Span, id: str = "d") -> Document:
    return Document(id=id, text=TEXT, spans=list(spans))


DNA = Span(4, 13, "DNAMutation", score=0.9)
DNA_SHORT = Span(6, 13, "DNAMutation", score=0.5)
PROTEIN = Span(18, 29, "ProteinMutation", score=0.8)
PROTEIN_AS_DNA = Span(18, 29, "DNAMutation", score=0.4)


def test_strict_majority_keeps_agreed_spans_with_mean_scores() -> None:
    predictions = [
        [doc(DNA, PROTEIN)],
        [doc(DNA_SHORT, PROTEIN)],
        [doc(DNA, PROTEIN_AS_DNA)],
    ]
    (voted,) = vote_spans(predictions)
    assert [s.key for s in voted.spans] == [DNA.key, PROTEIN.key]
    assert voted.spans[0].score == pytest.approx(0.9) and voted.spans[1].score == pytest.approx(0.8)
    # A lower bar keeps every span that any model predicted.
    (anyone,) = vote_spans(predictions, min_votes=1)
    assert len(anyone.spans) == 4
    (everyone,) = vote_spans(predictions, min_votes=3)
    assert everyone.spans == []


def test_duplicate_span_from_one_model_is_one_vote() -> None:
    (voted,) = vote_spans([[doc(DNA, DNA)], [doc()], [doc()]])
    assert voted.spans == []


def test_scores_missing_and_documents_kept_in_order() -> None:
    plain = Span(4, 13, "DNAMutation")
    voted = vote_spans([[doc(plain), doc(id="e")], [doc(plain), doc(id="e")]])
    assert [d.id for d in voted] == ["d", "e"]
    assert voted[0].spans[0].score is None and voted[0].text == TEXT


def test_mismatched_predictions_are_errors() -> None:
    with pytest.raises(BionerError, match="at least one model"):
        vote_spans([])
    with pytest.raises(BionerError, match="different numbers"):
        vote_spans([[doc()], [doc(), doc(id="e")]])
    with pytest.raises(BionerError, match="same order"):
        vote_spans([[doc(id="a")], [doc(id="b")]])
    with pytest.raises(BionerError, match="between 1 and 2"):
        vote_spans([[doc()], [doc()]], min_votes=3)


def test_predict_votes_across_models(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": EXAMPLE}) + "\n")
    _register_commands()

    def predict(*models: Path, extra: tuple[str, ...] = ()) -> object:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.jsonl"
        args = ["predict", str(source), "-o", str(out), *extra]
        for model in models:
            args += ["-m", str(model)]
        result = CliRunner().invoke(app, args)
        return result if result.exit_code else [s.key for d in read_documents(out) for s in d.spans]

    single = predict(tiny_model)
    assert single, "the tiny model tags the example"
    assert predict(tiny_model, tiny_model, tiny_model) == single
    assert predict(tiny_model, tiny_model, extra=("--min-votes", "2")) == single
    too_many = predict(tiny_model, tiny_model, extra=("--min-votes", "3"))
    assert "--min-votes must be between 1 and 2" in str(too_many.exception)
    fine = tmp_path / "fine-model"
    shutil.copytree(tiny_model, fine)
    config = json.loads((fine / "config.json").read_text())
    config["data"]["tokenizer"] = "fine"
    (fine / "config.json").write_text(json.dumps(config))
    mixed = predict(tiny_model, fine)
    assert "different tokenizers (default, fine)" in str(mixed.exception)
    assert predict(tiny_model, fine, extra=("--tokenizer", "default")) == single
