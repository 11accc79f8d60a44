"""Tag schemes: lossless IOB1 ⇄ IOB2 ⇄ BIOES, and decoding equal to seqeval (the oracle)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, IOBES, Entities

from bioner.data.tagging import TagScheme, chunks_from_tags, convert_tags, tags_from_chunks

LABELS = ["A", "B"]


@st.composite
def chunk_sequences(draw) -> tuple[list[tuple[str, int, int]], int]:
    """Well-formed input: non-overlapping chunks (adjacent ones of one type included)."""
    length = draw(st.integers(0, 12))
    chunks, position = [], 0
    while position < length:
        if draw(st.booleans()):
            end = draw(st.integers(position + 1, length))
            chunks.append((draw(st.sampled_from(LABELS)), position, end))
            position = end
        else:
            position += 1
    return chunks, length


def _any_tags(prefixes: str) -> st.SearchStrategy[list[str]]:
    tag = st.one_of(
        st.just("O"),
        st.builds(lambda p, t: f"{p}-{t}", st.sampled_from(prefixes), st.sampled_from(LABELS)),
    )
    return st.lists(tag, max_size=12)


@settings(max_examples=200, deadline=None)
@given(chunk_sequences())
def test_schemes_are_lossless_on_well_formed_sequences(case) -> None:
    chunks, length = case
    encoded = {s: tags_from_chunks(chunks, length, s) for s in TagScheme}
    for scheme, tags in encoded.items():
        assert chunks_from_tags(tags, scheme) == chunks
        for target in TagScheme:
            assert convert_tags(tags, scheme, target) == encoded[target]


def _seqeval_strict(tags: list[str], scheme) -> list[tuple[str, int, int]]:
    entities = Entities([tags], scheme).entities[0]
    return sorted((e.tag, e.start, e.end) for e in entities)


@settings(max_examples=200, deadline=None)
@given(_any_tags("BI"))
def test_strict_iob2_equals_seqeval_strict(tags: list[str]) -> None:
    assert sorted(chunks_from_tags(tags, "IOB2", strict=True)) == _seqeval_strict(tags, IOB2)


@settings(max_examples=200, deadline=None)
@given(_any_tags("BIES"))
def test_strict_bioes_equals_seqeval_strict(tags: list[str]) -> None:
    assert sorted(chunks_from_tags(tags, "BIOES", strict=True)) == _seqeval_strict(tags, IOBES)


@settings(max_examples=200, deadline=None)
@given(_any_tags("BIES"))
def test_lenient_equals_seqeval_default(tags: list[str]) -> None:
    expected = [(label, start, end + 1) for label, start, end in get_entities(tags)]
    assert chunks_from_tags(tags, "BIOES", strict=False) == expected


def test_examples_of_each_rule() -> None:
    tags = ["O", "I-A", "I-A", "B-B", "I-A"]
    assert chunks_from_tags(tags, "IOB2", strict=True) == [("B", 3, 4)]
    assert chunks_from_tags(tags, "IOB2", strict=False) == [("A", 1, 3), ("B", 3, 4), ("A", 4, 5)]
    assert tags_from_chunks([("A", 0, 1), ("A", 1, 2)], 2, "IOB1") == ["I-A", "B-A"]


@settings(max_examples=200, deadline=None)
@given(_any_tags("BI"))
def test_iob1_both_rules_equal_seqeval_default(tags: list[str]) -> None:
    expected = [(label, start, end + 1) for label, start, end in get_entities(tags)]
    assert chunks_from_tags(tags, "IOB1", strict=True) == expected
    assert chunks_from_tags(tags, "IOB1", strict=False) == expected
