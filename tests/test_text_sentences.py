"""Sentence splitter: abbreviations, numbers, variants, parentheses, newlines."""

from __future__ import annotations

import pytest

from bioner.text import SentenceSplitter

SPLITTER = SentenceSplitter()


def sentences(text: str, splitter: SentenceSplitter = SPLITTER) -> list[str]:
    return [text[start:end] for start, end in splitter.split(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Drugs, e.g. Aspirin, help.",
        "That is, i.e. The same.",
        "As Smith et al. Reported before.",
        "Compare A vs. B now.",
        "Shown in Fig. 2 and Figs. 3-4.",
        "It took approx. 5 min.",
        "Growth of E. coli was slow.",
        "The value was 3.5 mM.",
        "The p.V600E and c.35delG variants.",
        "Mice were injected i.p. (10 mg/kg).",
        "The cells (see ref. A. Smith. Nature) died.",
        "Made in the U.S. Army labs.",
    ],
)
def test_no_split(text: str) -> None:
    assert sentences(text) == [text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It failed. The drug works.", ["It failed.", "The drug works."]),
        ("It failed! 5 patients died?  (A) yes.", ["It failed!", "5 patients died?", "(A) yes."]),
        ("It was 3.5. Then more.", ["It was 3.5.", "Then more."]),
        ("Seen in p.V600E. Other ones.", ["Seen in p.V600E.", "Other ones."]),
        ("We found it. mRNA levels rose.", ["We found it.", "mRNA levels rose."]),
        ("Low vitamin D. Patients.", ["Low vitamin D.", "Patients."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("α-synuclein aggregates. β-amyloid too.", ["α-synuclein aggregates.", "β-amyloid too."]),
        ("Title line\nAbstract starts here", ["Title line", "Abstract starts here"]),
        ("lower case. not a break.", ["lower case. not a break."]),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_blank_line_policy() -> None:
    text = "wrapped\nline.\n\nNew paragraph"
    assert sentences(text) == ["wrapped", "line.", "New paragraph"]
    blank_only = SentenceSplitter(newline_breaks=False)
    assert sentences(text, blank_only) == ["wrapped\nline.", "New paragraph"]


def test_initials_option() -> None:
    text = "Work by J. Smith was cited."
    assert len(sentences(text)) == 2
    assert sentences(text, SentenceSplitter(initials=True)) == [text]
    assert sentences("By J. R. Smith here.") == ["By J. R. Smith here."]


def test_custom_abbreviations() -> None:
    splitter = SentenceSplitter(abbreviations={"Tab."})
    assert sentences("See Tab. 1 now.", splitter) == ["See Tab. 1 now."]
    assert len(sentences("See Fig. 1 now.", splitter)) == 2


def test_offsets_and_starts() -> None:
    text = "  One. Two.  \n Three."
    assert SPLITTER.sentence_starts(text) == [2, 7, 15]
    assert SPLITTER.split("") == []


def test_unbalanced_brackets_do_not_block() -> None:
    text = "Open (bracket. Never closed. Next one."
    assert len(sentences(text)) == 3
