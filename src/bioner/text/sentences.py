"""Sentence boundaries for biomedical abstracts, as character offsets.

One job: say where sentences start in a raw text. Written by hand because general-domain
splitters break at "e.g.", "et al.", "Fig. 2", "vs." and inside parenthetical remarks, and
biomedical text adds its own traps (numbers such as 3.5, variant names such as p.V600E,
species names such as E. coli, sentences that start with a digit or a bracket).

The rule: a sentence ends after `.`, `!` or `?` (plus any closing quotes or brackets) that is
followed by white space and then an upper-case letter, a digit or an opening bracket/quote,
unless the word before the full stop is a known abbreviation, or the stop sits inside a short
parenthetical that closes later in the same paragraph. A line break always ends a sentence
(or only a blank line, with ``newline_breaks=False``). The work is done with `re.finditer`
over candidate positions only, so time is linear in the text length.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

#: Words (lower-cased, without their final full stop) after which a full stop does not end
#: a sentence. Single-letter initials are handled separately.
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "e.g", "i.e", "et al", "al", "vs", "v", "viz", "cf", "fig", "figs", "tab", "approx",
        "ca", "resp", "no", "nos", "vol", "vols", "eq", "eqs", "ref", "refs", "dr", "mr",
        "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp", "dept", "univ",
        "sp", "spp", "subsp", "ssp", "var", "cv", "esp", "incl", "pp", "ed", "eds", "suppl",
        "chap", "sect", "ph.d", "m.d", "u.s", "u.k", "a.m", "p.m",
    }
)  # fmt: skip

# A terminal mark, optional closers, white space, then what may start a sentence: an opening
# bracket or quote, an upper-case letter or digit ([^\W_a-z] also admits non-ASCII letters of
# any case: Greek sentence starts), or a lower-case word that is really a symbol: "mRNA",
# "cTnI", "beta4", "alpha-Synuclein" (the corpora start sentences there).
_CANDIDATE = re.compile(
    r"[.!?]+[\"'”’)\]]*(?=\s+(?:[(\[\"'“‘]|[^\W_a-z]|[a-z]{1,8}[A-Z0-9]"
    r"|(?:alpha|beta|gamma|delta|kappa)-))"
)
_NEWLINE_ANY = re.compile(r"\n|\r\n?|\u2028|\u2029")
_NEWLINE_BLANK = re.compile(r"(?:\r?\n|\r)[^\S\r\n]*(?:\r?\n|\r)")
_BRACKETS = re.compile(r"[()\[\]]")
_WORD_BEFORE = re.compile(r"(?:\S*?)([^\s(\[\"'“]*)$")
_NON_SPACE = re.compile(r"\S")
_INITIAL_NEXT = re.compile(r"[^\S\n]{1,3}[^\W\d_]\.")


class SentenceSplitter:
    """Finds sentence starts in raw text; configurable abbreviations and newline policy."""

    def __init__(
        self,
        abbreviations: Iterable[str] = ABBREVIATIONS,
        *,
        newline_breaks: bool = True,
        max_parenthetical: int = 300,
        initials: bool = False,
    ) -> None:
        """`newline_breaks`: every line break ends a sentence (else only blank lines do).

        `max_parenthetical`: a stop inside brackets that close within this many characters
        does not end a sentence. `initials`: a single upper-case letter before the stop
        ("J. Smith") blocks a break — off by default, since "vitamin D. The" and
        "hepatitis B. Patients" end sentences far more often in abstracts.
        """
        self.abbreviations = frozenset(a.lower().rstrip(".") for a in abbreviations)
        self.newline_breaks = newline_breaks
        self.max_parenthetical = max_parenthetical
        self.initials = initials
        self._newline = _NEWLINE_ANY if newline_breaks else _NEWLINE_BLANK

    def boundaries(self, text: str) -> list[int]:
        """Offsets where a sentence ends (the end of its last character), sorted, unique."""
        cuts: set[int] = {m.start() for m in self._newline.finditer(text)}
        inside = self._parentheticals(text)
        starts = [a for a, _ in inside]
        for match in _CANDIDATE.finditer(text):
            end = match.end()
            if match.group().startswith(".") and self._is_abbreviation(text, match.start()):
                continue
            if inside:
                index = bisect_right(starts, match.start()) - 1
                # Intervals are nested or disjoint; the innermost open one before the stop
                # decides, but any enclosing one also covers it, so check back a few.
                covered = False
                while index >= 0:
                    open_at, close_at = inside[index]
                    if open_at < match.start() < close_at:
                        covered = True
                        break
                    if match.start() - open_at > self.max_parenthetical:
                        break
                    index -= 1
                if covered:
                    continue
            cuts.add(end)
        return sorted(cuts)

    def sentence_starts(self, text: str) -> list[int]:
        """Offsets of the first non-space character of every sentence."""
        starts: list[int] = []
        previous = -1
        for cut in [0, *self.boundaries(text)]:
            found = _NON_SPACE.search(text, cut)
            if found is not None and found.start() > previous:
                starts.append(found.start())
                previous = found.start()
        return starts

    def split(self, text: str) -> list[tuple[int, int]]:
        """[start, end) of every sentence, trailing white space excluded."""
        starts = self.sentence_starts(text)
        spans: list[tuple[int, int]] = []
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else len(text)
            spans.append((start, len(text[start:end].rstrip()) + start))
        return spans

    # ----------------------------------------------------------------- helpers
    def _is_abbreviation(self, text: str, stop: int) -> bool:
        window = text[max(0, stop - 40) : stop]
        found = _WORD_BEFORE.search(window)
        original = found.group(1) if found else ""
        word = original.lower()
        if not word:
            return False
        if word in self.abbreviations:
            return True
        # "et al." is written with a space: look one word further back.
        if word == "al" or window.lower().endswith("et al"):
            return True
        if len(word) == 1 and word.isalpha():
            if self.initials and original.isupper():
                return True
            # a chain of initials: "J. R. Smith"
            return window[-3:-2] == "." or _INITIAL_NEXT.match(text, stop + 1) is not None
        # dotted abbreviations not in the list: "a.k.a", "U.S.A"
        return "." in word and all(part.isalpha() and len(part) <= 2 for part in word.split("."))

    def _parentheticals(self, text: str) -> list[tuple[int, int]]:
        """(open, close) offsets of short matched bracket pairs, sorted by open offset."""
        pairs: list[tuple[int, int]] = []
        stack: list[tuple[str, int]] = []
        for match in _BRACKETS.finditer(text):
            char = match.group()
            if char in "([":
                stack.append((char, match.start()))
                continue
            opener = "(" if char == ")" else "["
            while stack and stack[-1][0] != opener:
                stack.pop()
            if stack:
                _, open_at = stack.pop()
                if (
                    match.start() - open_at <= self.max_parenthetical
                    and "\n" not in text[open_at : match.start()]
                ):
                    pairs.append((open_at, match.start()))
            if len(stack) > 64:  # unbalanced junk: forget the oldest openers
                del stack[:32]
        pairs.sort()
        return pairs
