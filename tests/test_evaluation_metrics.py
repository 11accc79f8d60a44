"""Counts and averages by hand, label mapping and type filter, JSON, rich tables, alignment."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from bioner.data.document import Document, Span
from bioner.errors import BionerError
from bioner.evaluation import EvaluationResult, Scores, evaluate_documents
from bioner.evaluation.report import render

WORDS = ["a", "b", "c", "d", "e", "f"]


def doc(tags: list[str], doc_id: str = "d1") -> Document:
    return Document.from_tokens(doc_id, [WORDS], [tags])


def test_scores_by_hand() -> None:
    # X: gold a, c-d; predicted a, c (boundary error) -> TP 1, FP 1, FN 1
    # Y: gold f; predicted e, f -> TP 1, FP 1, FN 0
    gold = doc(["B-X", "O", "B-X", "I-X", "O", "B-Y"])
    pred = doc(["B-X", "O", "B-X", "O", "B-Y", "B-Y"])
    result = evaluate_documents([gold], [pred])
    assert result.per_type["X"] == Scores(tp=1, fp=1, fn=1)
    assert result.per_type["Y"] == Scores(tp=1, fp=1, fn=0)
    assert result.micro == Scores(tp=2, fp=2, fn=1)
    assert result.micro.precision == pytest.approx(0.5)
    assert result.micro.recall == pytest.approx(2 / 3)
    assert result.micro.f1 == pytest.approx(4 / 7)
    assert result.macro.precision == pytest.approx(0.5)
    assert result.macro.recall == pytest.approx((0.5 + 1.0) / 2)
    assert result.macro.f1 == pytest.approx((0.5 + 2 / 3) / 2)
    assert result.weighted.recall == pytest.approx((0.5 * 2 + 1.0 * 1) / 3)
    left = evaluate_documents([gold], [pred], mode="left")
    assert left.per_type["X"] == Scores(tp=2, fp=0, fn=0)


def test_zero_divisions_are_zero() -> None:
    empty = evaluate_documents([doc(["O"] * 6)], [doc(["O"] * 6)])
    assert empty.micro == Scores() and empty.micro.f1 == 0.0 and empty.per_type == {}
    only_fp = evaluate_documents([doc(["O"] * 6)], [doc(["B-X", *["O"] * 5])])
    assert only_fp.micro.precision == 0.0 and only_fp.micro.recall == 0.0


def test_untyped_credits_gold_type() -> None:
    gold = doc(["B-X", "O", "B-X", "O", "O", "O"])
    pred = doc(["B-Y", "O", "O", "O", "B-Y", "O"])
    result = evaluate_documents([gold], [pred], typed=False)
    assert result.per_type == {
        "X": Scores(tp=1, fp=0, fn=1),
        "Y": Scores(tp=0, fp=1, fn=0),
    }
    assert result.micro == Scores(tp=1, fp=1, fn=1)


def test_label_map_and_type_filter() -> None:
    gold = doc(["B-GGP", "O", "B-Chemical", "O", "O", "O"])
    pred = doc(["B-GENE", "O", "B-Chemical", "O", "B-protein", "O"])
    plain = evaluate_documents([gold], [pred])
    assert plain.micro.tp == 1
    mapping = {"GGP": "GENE", "protein": "GENE"}
    mapped = evaluate_documents([gold], [pred], label_map=mapping)
    assert mapped.per_type["GENE"] == Scores(tp=1, fp=1, fn=0)
    assert mapped.label_map == mapping
    only_gene = evaluate_documents([gold], [pred], label_map=mapping, types=["GENE"])
    assert list(only_gene.per_type) == ["GENE"] and only_gene.types == ["GENE"]
    assert only_gene.micro == Scores(tp=1, fp=1, fn=0)


def test_json_round_trip() -> None:
    gold = doc(["B-X", "I-X", "O", "B-Y", "O", "O"])
    pred = doc(["B-X", "O", "O", "B-Y", "O", "B-X"])
    result = evaluate_documents([gold], [pred], mode="overlap", errors=True, train_docs=[gold])
    data = json.loads(result.model_dump_json())
    assert data["mode"] == "overlap" and data["micro"]["tp"] == 2
    assert data["micro"]["precision"] == pytest.approx(2 / 3)
    assert data["errors"]["total"]["fp"]["spurious"] == 1
    assert EvaluationResult.model_validate_json(result.model_dump_json()) == result


def test_render_tables_show_text_literally() -> None:
    words = ["[bold]x", "y", "z"]
    gold = Document.from_tokens("d", [words], [["B-X", "O", "B-Y"]])
    pred = Document.from_tokens("d", [words], [["B-X", "I-X", "O"]])
    result = evaluate_documents([gold], [pred], errors=True, train_docs=[gold])
    console = Console(record=True, width=160, color_system=None)
    console.print(render(result))
    out = console.export_text()
    for expected in ("micro avg", "macro avg", "right_boundary", "[bold]x y", "unseen", "0.00"):
        assert expected in out, expected


def test_alignment_by_id_then_by_order() -> None:
    a = Document.from_tokens("a", [["p53", "binds"]], [["B-G", "O"]])
    b = Document.from_tokens("b", [["Ras", "too"]], [["B-G", "O"]])
    by_id = evaluate_documents([a, b], [b, a])
    assert by_id.micro == Scores(tp=2)
    renamed = [
        Document.from_tokens(f"pred:{i}", [d.sentences[0].words]) for i, d in enumerate([a, b])
    ]
    renamed = [d.with_spans(g.spans) for d, g in zip(renamed, [a, b], strict=True)]
    assert evaluate_documents([a, b], renamed).micro == Scores(tp=2)
    with pytest.raises(BionerError, match="document ids differ"):
        evaluate_documents([a, b], renamed, align="id")
    with pytest.raises(BionerError, match="2 documents but predictions have 1"):
        evaluate_documents([a, b], [a])


def test_text_mismatch_names_document_and_sentence() -> None:
    gold = Document.from_tokens("pmid1", [["one", "two"], ["IL-2", "gene"]], None)
    pred = Document.from_tokens("pmid1", [["one", "two"], ["IL-2", "genes"]], None)
    with pytest.raises(BionerError, match=r"'pmid1'.*sentence 2.*token 2.*'gene'.*'genes'"):
        evaluate_documents([gold], [pred])
    shorter = Document.from_tokens("pmid1", [["one", "two"]], None)
    with pytest.raises(BionerError, match="2 sentences"):
        evaluate_documents([gold], [shorter])
    untokenized = Document(id="pmid1", text="one two\nIL-2 gene")
    changed = Document(id="pmid1", text="one two\nIL-2 Gene")
    with pytest.raises(BionerError, match=r"character 13 \(line 2\)"):
        evaluate_documents([untokenized], [changed])


@pytest.mark.parametrize("copies", [1, 2, 3])
def test_duplicate_predictions_are_false_positives(copies: int) -> None:
    spans = [Span(0, 3, "G")] * copies
    gold = Document.from_tokens("d", [["p53", "x"]], [["B-G", "O"]])
    result = evaluate_documents([gold], [gold.with_spans(spans)])
    assert result.micro == Scores(tp=1, fp=len(spans) - 1)
