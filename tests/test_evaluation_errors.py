"""Error analysis (every category by hand, after Lyu et al.'s examples) and seen/unseen recall."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioner.data.document import Document, Span
from bioner.evaluation import ErrorCategory, Scores, classify_error, evaluate_documents

# token, gold tag, predicted tag
ROWS = [
    ("many", "B-DNA", "O"),
    ("B", "I-DNA", "B-DNA"),
    ("lineage", "I-DNA", "I-DNA"),
    ("genes", "I-DNA", "O"),
    ("and", "O", "O"),
    ("cytosol", "O", "B-protein"),
    ("estradiol", "B-protein", "I-protein"),
    ("receptors", "I-protein", "I-protein"),
    ("bind", "O", "B-protein"),
    ("NF-kappa", "B-protein", "B-protein"),
    ("B", "I-protein", "O"),
    ("and", "O", "O"),
    ("IRF1", "B-DNA", "B-protein"),
    ("in", "O", "B-cell_line"),
    ("T", "B-cell_type", "I-cell_line"),
    ("cells", "I-cell_type", "O"),
    ("with", "O", "O"),
    ("EZH2", "B-protein", "O"),
]
WORDS = [word for word, _, _ in ROWS]
GOLD_TAGS = [gold for _, gold, _ in ROWS]
PRED_TAGS = [pred for _, _, pred in ROWS]
GOLD = Document.from_tokens("doc1", [WORDS], [GOLD_TAGS])
PRED = Document.from_tokens("doc1", [WORDS], [PRED_TAGS])

C = ErrorCategory


def test_every_category_by_hand() -> None:
    result = evaluate_documents([GOLD], [PRED], errors=True, max_examples=10)
    assert (result.micro.tp, result.micro.fp, result.micro.fn) == (0, 6, 6)
    errors = result.errors
    assert errors is not None
    assert errors.total.fp == {
        C.TYPE: 1,  # IRF1 [protein] vs gold IRF1 [DNA]
        C.LEFT_BOUNDARY: 1,  # "cytosol estradiol receptors" vs "estradiol receptors"
        C.RIGHT_BOUNDARY: 1,  # "NF-kappa" vs "NF-kappa B"
        C.BOTH_BOUNDARIES: 1,  # "B lineage" vs "many B lineage genes"
        C.TYPE_AND_BOUNDARY: 1,  # "in T" [cell_line] vs "T cells" [cell_type]
        C.SPURIOUS: 1,  # "bind"
    }
    assert errors.total.fn == {
        C.TYPE: 1,
        C.LEFT_BOUNDARY: 1,
        C.RIGHT_BOUNDARY: 1,
        C.BOTH_BOUNDARIES: 1,
        C.TYPE_AND_BOUNDARY: 1,
        C.MISSING: 1,  # "EZH2"
    }
    # FP under the predicted type, FN under the gold type.
    assert errors.per_type["protein"].fp[C.TYPE] == 1
    assert errors.per_type["DNA"].fn[C.TYPE] == 1
    assert errors.per_type["cell_line"].fp[C.TYPE_AND_BOUNDARY] == 1
    assert errors.per_type["cell_type"].fn[C.TYPE_AND_BOUNDARY] == 1
    assert errors.per_type["protein"].fn[C.MISSING] == 1
    assert list(errors.per_type) == sorted(errors.per_type)
    texts = {(e.side, e.category): (e.text, e.other_text) for e in errors.examples}
    assert texts[("FP", C.LEFT_BOUNDARY)] == ("cytosol estradiol receptors", "estradiol receptors")
    assert texts[("FN", C.BOTH_BOUNDARIES)] == ("many B lineage genes", "B lineage")
    assert texts[("FP", C.SPURIOUS)] == ("bind", None)
    assert texts[("FN", C.MISSING)] == ("EZH2", None)
    assert texts[("FP", C.TYPE_AND_BOUNDARY)] == ("in T", "T cells")


def test_relaxed_modes_turn_boundary_errors_into_hits() -> None:
    right = evaluate_documents([GOLD], [PRED], mode="right", errors=True)
    assert right.micro.tp == 1  # the left-boundary error now matches
    assert right.errors is not None and right.errors.total.fp[C.LEFT_BOUNDARY] == 0
    untyped = evaluate_documents([GOLD], [PRED], typed=False, errors=True)
    assert untyped.micro.tp == 1  # the type error now matches
    assert untyped.errors is not None and untyped.errors.total.fn[C.TYPE] == 0
    overlap = evaluate_documents([GOLD], [PRED], mode="overlap", typed=False)
    assert (overlap.micro.tp, overlap.micro.fp, overlap.micro.fn) == (5, 1, 1)


def test_example_cap_keeps_counts() -> None:
    gold = Document.from_tokens("d", [["a", "b", "c"]], [["B-X", "B-X", "B-X"]])
    pred = gold.with_spans([])
    result = evaluate_documents([gold], [pred], errors=True, max_examples=2)
    assert result.errors is not None
    assert result.errors.total.fn[C.MISSING] == 3
    assert len(result.errors.examples) == 2


@pytest.mark.parametrize(
    ("error", "other", "category"),
    [
        (Span(0, 5, "X"), Span(0, 5, "Y"), C.TYPE),
        (Span(0, 5, "X"), Span(2, 5, "X"), C.LEFT_BOUNDARY),
        (Span(0, 5, "X"), Span(0, 3, "X"), C.RIGHT_BOUNDARY),
        (Span(0, 5, "X"), Span(1, 4, "X"), C.BOTH_BOUNDARIES),
        (Span(0, 5, "X"), Span(2, 5, "Y"), C.TYPE_AND_BOUNDARY),
    ],
)
def test_classify_error_single_counterpart(error: Span, other: Span, category: C) -> None:
    assert classify_error(error, [other], false_positive=True) is category
    assert classify_error(error, [other], false_positive=False) is category


def test_classify_error_without_overlap() -> None:
    touching = [Span(5, 8, "X")]
    assert classify_error(Span(0, 5, "X"), touching, false_positive=True) is C.SPURIOUS
    assert classify_error(Span(0, 5, "X"), touching, false_positive=False) is C.MISSING


def test_classify_error_priority() -> None:
    # Same offsets with another type beats a same-type boundary neighbour.
    others = [Span(2, 5, "X"), Span(0, 5, "Y")]
    assert classify_error(Span(0, 5, "X"), others, false_positive=True) is C.TYPE


def test_seen_unseen_recall() -> None:
    train = Document.from_tokens(
        "t", [["Estradiol", "receptors", "and", "EZH2"]], [["B-protein", "I-protein", "O", "B-X"]]
    )
    result = evaluate_documents([GOLD], [PRED], mode="overlap", train_docs=[train])
    seen = result.seen_unseen
    assert seen is not None
    # Gold: "many B lineage genes", "estradiol receptors", "NF-kappa B", "IRF1", "T cells",
    # "EZH2". Case-sensitive: only "EZH2" was seen, and it was missed.
    assert (seen.seen.total, seen.seen.found) == (1, 0)
    # Typed overlap: IRF1 and "T cells" got the wrong type, so 3 of the 5 unseen were found.
    assert (seen.unseen.total, seen.unseen.found) == (5, 3)
    assert seen.unseen.recall == pytest.approx(0.6)
    lower = evaluate_documents(
        [GOLD], [PRED], mode="overlap", train_docs=[train], lowercase_seen=True
    ).seen_unseen
    assert lower is not None and lower.lowercase
    assert (lower.seen.total, lower.seen.found) == (2, 1)
    assert (lower.unseen.total, lower.unseen.found) == (4, 2)


def test_seen_unseen_distinct_texts() -> None:
    gold = Document.from_tokens("g", [["p53", "p53", "Ras"]], [["B-G", "B-G", "B-G"]])
    pred = Document.from_tokens("g", [["p53", "p53", "Ras"]], [["B-G", "O", "O"]])
    train = Document.from_tokens("t", [["p53"]], [["B-G"]])
    seen = evaluate_documents([gold], [pred], train_docs=[train]).seen_unseen
    assert seen is not None
    assert (seen.seen.total, seen.seen.found) == (2, 1)
    assert (seen.seen_distinct.total, seen.seen_distinct.found) == (1, 1)
    assert (seen.unseen_distinct.total, seen.unseen_distinct.found) == (1, 0)
    assert seen.distinct_training_mentions == 1


def test_untyped_errors_are_boundary_errors_not_type_errors() -> None:
    """Untyped scoring ignores types, so its error report must too: "IL-2" [protein] against
    "IL-2 gene" [GENE] was reported as `type_and_boundary` although only the end differs."""
    gold = Document.from_tokens("d", [["IL-2", "gene", "x"]], [["B-GENE", "I-GENE", "O"]])
    pred = gold.with_spans([Span(0, 4, "protein")])
    untyped = evaluate_documents([gold], [pred], typed=False, errors=True).errors
    assert untyped is not None
    assert untyped.total.fp[C.RIGHT_BOUNDARY] == 1 and untyped.total.fn[C.RIGHT_BOUNDARY] == 1
    assert untyped.total.fp[C.TYPE_AND_BOUNDARY] == 0 and untyped.total.fn[C.TYPE_AND_BOUNDARY] == 0
    typed = evaluate_documents([gold], [pred], errors=True).errors
    assert typed is not None and typed.total.fp[C.TYPE_AND_BOUNDARY] == 1
    shorter = [Span(2, 5, "Y")]
    assert classify_error(Span(0, 5, "X"), shorter, false_positive=True, typed=False) is (
        C.LEFT_BOUNDARY
    )
    assert classify_error(Span(0, 5, "X"), shorter, false_positive=True) is C.TYPE_AND_BOUNDARY


def test_a_duplicate_is_spurious_not_a_type_error() -> None:
    """A second copy of a matched prediction has the same type: it was counted as `type`."""
    gold = Document.from_tokens("d", [["p53", "x"]], [["B-G", "O"]])
    pred = gold.with_spans([Span(0, 3, "G"), Span(0, 3, "G")])
    result = evaluate_documents([gold], [pred], errors=True)
    assert result.micro == Scores(tp=1, fp=1)
    assert result.errors is not None
    assert result.errors.total.fp[C.SPURIOUS] == 1 and result.errors.total.fp[C.TYPE] == 0
    twin = [Span(0, 5, "X")]
    assert classify_error(Span(0, 5, "X"), twin, false_positive=False) is C.MISSING
    assert classify_error(Span(0, 5, "X"), twin, false_positive=False, typed=False) is C.MISSING


_spans = st.lists(
    st.builds(
        lambda start, length, label: Span(start, start + length, label),
        st.integers(0, 20),
        st.integers(1, 5),
        st.sampled_from("AB"),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_spans, _spans), min_size=1, max_size=3),
    st.sampled_from(["exact", "right", "left", "overlap"]),
    st.booleans(),
)
def test_error_categories_sum_to_fp_and_fn(documents, mode: str, typed: bool) -> None:
    gold = [Document(id=f"d{i}", text="x" * 30, spans=g) for i, (g, _) in enumerate(documents)]
    pred = [d.with_spans(p) for d, (_, p) in zip(gold, documents, strict=True)]
    result = evaluate_documents(gold, pred, mode=mode, typed=typed, errors=True)
    errors = result.errors
    assert errors is not None
    assert sum(errors.total.fp.values()) == result.micro.fp
    assert sum(errors.total.fn.values()) == result.micro.fn
    for label, tally in errors.per_type.items():
        assert sum(tally.fp.values()) == result.per_type[label].fp
        assert sum(tally.fn.values()) == result.per_type[label].fn
    if not typed:
        for counts in (errors.total.fp, errors.total.fn):
            assert counts[C.TYPE] == counts[C.TYPE_AND_BOUNDARY] == 0
