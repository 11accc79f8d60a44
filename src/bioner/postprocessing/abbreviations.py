"""Abbreviation definitions (`long form (SF)`) in a document, after Schwartz & Hearst (2003).

Why: a tagger sees one sentence at a time, so an abbreviation defined in one sentence
(`glyceryl trinitrate (GTN)`) and used bare in the next ones is often missed there; knowing
the definitions lets the document rules (`bioner.postprocessing.document_rules`) carry the
long form's type to every use. Written by hand: the algorithm is a dozen lines over
character offsets, and the libraries that ship it (scispacy) bring a whole NLP pipeline and
its own tokenization, while here the offsets must be the project's own.

The algorithm: inside a sentence, a parenthesised text of at most two words and 2–10
characters (up to a `;` or `,`) that starts with a letter or digit and holds a letter is a
short form. Its long form is searched in the at most min(|SF| + 5, 2·|SF|) words before the
bracket: the short form's letters and digits are matched right to left, each to the nearest
equal character (case ignored) further left, the first one at the start of a word; the long
form starts at the word of that last match. The long form must be longer than the short form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bioner.data.document import Document

_BRACKETED = re.compile(r"\(([^()]*)\)")
_WORD = re.compile(r"\S+")
_CUT = re.compile(r"[;,]")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """A short form and the long form it abbreviates, in document character offsets."""

    short_start: int
    short_end: int
    long_start: int
    long_end: int


def is_short_form(text: str) -> bool:
    """Schwartz & Hearst's short-form test: 2–10 characters, ≤ 2 words, a letter, alnum first."""
    return (
        2 <= len(text) <= 10
        and len(text.split()) <= 2
        and text[0].isalnum()
        and any(c.isalpha() for c in text)
    )


def long_form_start(short: str, candidate: str) -> int | None:
    """Where in `candidate` the long form of `short` starts, or None if the letters do not fit."""
    s_index = len(short) - 1
    l_index = len(candidate) - 1
    while s_index >= 0:
        wanted = short[s_index].lower()
        if not wanted.isalnum():
            s_index -= 1
            continue
        while l_index >= 0 and (
            candidate[l_index].lower() != wanted
            or (s_index == 0 and l_index > 0 and candidate[l_index - 1].isalnum())
        ):
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
        s_index -= 1
    return candidate.rfind(" ", 0, l_index + 1) + 1


@dataclass(frozen=True, slots=True)
class ShortForm:
    """A bracketed text that passes the short-form test, and where its sentence starts."""

    start: int
    end: int
    bracket: int
    sentence_start: int


def bracketed_short_forms(document: Document) -> Iterator[ShortForm]:
    """Every `(SF)` (cut at `;` or `,`) inside a sentence whose SF passes `is_short_form`."""
    text = document.text
    for sentence in document.sentences:
        for bracket in _BRACKETED.finditer(text, sentence.start, sentence.end):
            inner = _CUT.split(bracket.group(1), maxsplit=1)[0]
            short = inner.strip()
            if is_short_form(short):
                start = bracket.start(1) + inner.index(short)
                yield ShortForm(start, start + len(short), bracket.start(), sentence.start)


def find_abbreviations(document: Document) -> list[Abbreviation]:
    """Every `long form (SF)` definition inside one of the document's sentences, in text order."""
    found: list[Abbreviation] = []
    text = document.text
    for short in bracketed_short_forms(document):
        length = short.end - short.start
        words = list(_WORD.finditer(text, short.sentence_start, short.bracket))
        if not words:
            continue
        window = words[-min(length + 5, 2 * length) :]
        long_end = window[-1].end()
        candidate = text[window[0].start() : long_end]
        offset = long_form_start(text[short.start : short.end], candidate)
        if offset is None or long_end - (window[0].start() + offset) <= length:
            continue
        found.append(Abbreviation(short.start, short.end, window[0].start() + offset, long_end))
    return found
