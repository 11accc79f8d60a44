"""Span majority vote: who wins, scores, order checks and errors."""

from __future__ import annotations

import pytest

from bioner.data.document import Document, Span
from bioner.ensemble import vote_spans
from bioner.errors import BionerError

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
