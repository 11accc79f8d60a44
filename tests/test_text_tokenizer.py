"""Tokenizer: exact token lists, offset invariants and bounded cost on pathological input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioner.data.document import Document
from bioner.text import Tokenizer, VariantTokenizer

GENERAL = Tokenizer()
VARIANT = Tokenizer(variant_aware=True)


def words(tokenizer: Tokenizer, text: str) -> list[str]:
    return [token.text for token in tokenizer.tokens(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NF-kappa B.", ["NF", "-", "kappa", "B", "."]),
        ("(IL-2)", ["(", "IL", "-", "2", ")"]),
        ("p.Pro246HisfsX13", ["p", ".", "Pro246HisfsX13"]),
        ("c.399_402delAGAG", ["c", ".", "399", "_", "402delAGAG"]),
        (
            "2-(4-chlorophenyl)-1,3-dioxolane",
            ["2", "-", "(", "4", "-", "chlorophenyl", ")", "-", "1", ",", "3", "-", "dioxolane"],
        ),
        ("α-synuclein and NF-κB", ["α", "-", "synuclein", "and", "NF", "-", "κB"]),
        ("IL-1β–induced", ["IL", "-", "1β", "–", "induced"]),
        ("a—b", ["a", "—", "b"]),
        ("3.5% of 1,000", ["3", ".", "5", "%", "of", "1", ",", "000"]),
        ("Parkinson's disease", ["Parkinson", "'", "s", "disease"]),
        ("Na(+)/K(+)", ["Na", "(", "+", ")", "/", "K", "(", "+", ")"]),
        ("[3H]-naloxone", ["[", "3H", "]", "-", "naloxone"]),
        ("e.g. Fig. 2", ["e", ".", "g", ".", "Fig", ".", "2"]),
        ("Müller café", ["Müller", "café"]),
        ("cafe\u0301 x", ["cafe\u0301", "x"]),  # combining accent stays on its letter
        ("a\u00a0b\u2009c\u200ad\te\nf", ["a", "b", "c", "d", "e", "f"]),
        ("G----A", ["G", "-", "-", "-", "-", "A"]),  # the corpora split short runs
    ],
)
def test_general_tokens(text: str, expected: list[str]) -> None:
    assert words(GENERAL, text) == expected


def test_options_keep_decimals_hyphens_and_abbreviations() -> None:
    tokenizer = Tokenizer(keep_decimals=True, keep_hyphenated=True, keep_abbreviations=True)
    assert words(tokenizer, "e.g. IL-2 at 3.5% and 1,000 cells, Fig. 2") == [
        "e.g.", "IL-2", "at", "3.5", "%", "and", "1,000", "cells", ",", "Fig.", "2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # DeepVar §4.1: "(IL-2)" -> "(", "IL-2", ")"
        ("(IL-2)", ["(", "IL-2", ")"]),
        ("p.Pro246HisfsX13", ["p.Pro246HisfsX13"]),
        ("c.399_402delAGAG", ["c.399_402delAGAG"]),
        (
            "(p.V600E), c.123A>G; rs1234.",
            ["(", "p.V600E", ")", ",", "c.123A>G", ";", "rs1234", "."],
        ),
        ("A/G", ["A", "/", "G"]),
        ("IVS2+1G>A:", ["IVS2+1G>A", ":"]),
        ('"c.35delG"', ['"', "c.35delG", '"']),
        ("x=1{a}", ["x", "=", "1", "{", "a", "}"]),
    ],
)
def test_variant_tokens(text: str, expected: list[str]) -> None:
    assert words(VARIANT, text) == expected


def test_variant_paper_exact_strips_once() -> None:
    exact = Tokenizer(variant_aware=True, paper_exact=True)
    assert words(exact, "(p.V600E).") == ["(", "p.V600E", ")", "."]
    assert words(exact, "(p.V600E") == ["(p.V600E"]  # not bracketed: left as is
    assert words(VARIANT, "(p.V600E") == ["(", "p.V600E"]  # the default drops a lone opener
    assert words(exact, "Ala.,") == ["Ala.", ","]  # one trailing character only
    assert words(VARIANT, "Ala.,") == ["Ala", ".", ","]
    assert isinstance(VariantTokenizer(), Tokenizer)


def test_sentences_and_document() -> None:
    text = "BRCA1 (e.g. in Fig. 2) is mutated. The p.V600E variant was 3.5% frequent.\nNext"
    document = GENERAL.to_document(text, "d1")
    assert isinstance(document, Document)
    assert [s.words[0] for s in document.sentences] == ["BRCA1", "The", "Next"]
    assert all(t.text == text[t.start : t.end] for t in document.tokens)


def test_forced_boundaries() -> None:
    text = "A title without a stop An abstract."
    sentences = GENERAL.tokenize(text, boundaries=[len("A title without a stop")])
    assert [s.words[0] for s in sentences] == ["A", "An"]


def test_empty_and_blank_text() -> None:
    assert GENERAL.tokenize("") == []
    assert GENERAL.tokenize(" \n\t\u00a0") == []
    assert VARIANT.tokenize("") == []


#: Zero-width space / non-joiner / joiner, word joiner, byte-order mark, soft hyphen.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def test_invisible_characters_separate_but_are_never_tokens() -> None:
    """Pasted web text hides them inside words; an invisible token must never be tagged."""
    text = "mela\u200bnoma in BRCA1\u200d carriers \u2060\ufeff. onco\u00adgene"
    for tokenizer in (GENERAL, VARIANT, Tokenizer(fine_grained=True)):
        tokens = [t for s in tokenizer.tokenize(text) for t in s.tokens]
        assert [t.text for t in tokens[:3]] == ["mela", "noma", "in"]
        assert [t.text for t in tokens[-2:]] == ["onco", "gene"]
        assert not any(c in INVISIBLE for t in tokens for c in t.text)
    assert GENERAL.tokenize("\u200b\u200b \ufeff") == []
    assert GENERAL.tokenize("\u200b" * 12) == []  # not a "ruler" token either


def _separator(character: str) -> bool:
    return character.isspace() or character in INVISIBLE


def check_invariants(tokenizer: Tokenizer, text: str) -> None:
    sentences = tokenizer.tokenize(text)
    tokens = [t for s in sentences for t in s.tokens]
    covered = 0
    previous_end = 0
    for token in tokens:
        assert token.text == text[token.start : token.end]
        assert token.start >= previous_end  # in order, no overlap
        assert token.end > token.start
        assert not any(_separator(c) for c in token.text)
        assert len(token.text) <= tokenizer.max_token_length
        assert all(_separator(c) for c in text[previous_end : token.start])
        covered += len(token.text)
        previous_end = token.end
    assert all(_separator(c) for c in text[previous_end:])
    assert covered == sum(1 for c in text if not _separator(c))
    assert all(len(s) > 0 for s in sentences)


_BIOISH = st.text(
    alphabet=st.sampled_from(
        list("aZ09.,;:-–—_()[]{}/'\"%+>=*#&$~!? \n\t\u00a0\u2009\u200aαβκé\u200b\u00ad")
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), _BIOISH))
def test_general_invariants(text: str) -> None:
    check_invariants(GENERAL, text)
    check_invariants(Tokenizer(keep_decimals=True, keep_hyphenated=True, max_token_length=8), text)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), _BIOISH))
def test_variant_invariants(text: str) -> None:
    check_invariants(VARIANT, text)
    check_invariants(Tokenizer(variant_aware=True, paper_exact=True, max_token_length=8), text)


JOINING = Tokenizer(keep_decimals=True, keep_hyphenated=True, keep_abbreviations=True)


@pytest.mark.parametrize(
    "tokenizer", [GENERAL, VARIANT, JOINING], ids=["general", "variant", "joining"]
)
def test_one_megabyte_line_is_bounded(tokenizer: Tokenizer) -> None:
    text = "ab1" * 350_000  # ~1 MB, no space, no punctuation
    begin = time.perf_counter()
    sentences = tokenizer.tokenize(text)
    elapsed = time.perf_counter() - begin
    tokens = [t for s in sentences for t in s.tokens]
    assert elapsed < 5
    assert len(tokens) == -(-len(text) // tokenizer.max_token_length)
    assert max(len(s) for s in sentences) <= 1000
    assert "".join(t.text for t in tokens) == text


def test_long_chemical_name() -> None:
    name = "(2S)-2-[(4-{[(2-amino-4-oxo-3,4-dihydropteridin-6-yl)methyl]amino}phenyl)formamido]" * 5
    assert len(name) > 400
    for tokenizer in (GENERAL, VARIANT):
        tokens = tokenizer.tokens(name)
        assert "".join(t.text for t in tokens) == name
        assert all(len(t.text) <= tokenizer.max_token_length for t in tokens)


def test_punctuation_ruler_is_chunked() -> None:
    tokens = GENERAL.tokens("-" * 1000)
    assert len(tokens) == -(-1000 // GENERAL.max_token_length)


def test_joining_options_stay_linear_on_long_runs() -> None:
    # Unbounded joining patterns would rescan a long run from every start: quadratic.
    begin = time.perf_counter()
    tokens = JOINING.tokens("1" * 200_000 + " " + "a-" * 100_000 + " " + "1,000" * 40_000)
    assert time.perf_counter() - begin < 5
    assert all(len(t.text) <= JOINING.max_token_length for t in tokens)
