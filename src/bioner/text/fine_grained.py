"""Fine-grained token offsets for genomic-variant text (tmVar-style tokenization).

One job: cut text into tokens at every change of character class — a run of letters, a run
of digits, every other non-space character on its own — and inside a run of letters before
an upper-case letter that follows a lower-case one. "c.1517A>G" becomes ``c . 1517 A > G``,
"p.Asp506Gly" ``p . Asp 506 Gly``, "rtL180M" ``rt L 180 M``, "CCR5Delta32"
``CCR 5 Delta 32``, "c.841_842delAC" ``c . 841 _ 842 del AC``.

Why: in the tmVar corpus many mentions begin or end inside a white-space-free run
("rtL180M" is annotated "L180M", "CCR5Delta32" is annotated "Delta32"), so a tagger over
whole runs (the general tokenizer, DeepVar's rule) cannot produce them; with these tokens
every test mention of tmVar starts and ends on a token edge (benchmarks/results/
tokenizer_agreement.md). The pieces are also frequent words ("Asp", "del", "rs", ">"), so a
variant seen once in training shares most of its word vectors with unseen ones — on tmVar
this is worth far more F1 than any other change we measured (benchmarks/results/
deepvar_tmvar.md). It is the tokenization tmVar itself uses (Wei et al. 2013); written by
hand because no library tokenizer splits at these class changes with offsets.

Letters are Unicode letters (with combining marks); case changes are detected with
`str.islower`/`str.isupper`, so "αB" splits like "aB". Runs longer than `max_token_length`
are cut into chunks of that length, and a run of eight or more identical punctuation marks is
one token, as in the general tokenizer, so pathological input yields bounded tokens.
"""

from __future__ import annotations

import re
from functools import cache

from bioner.text.char_classes import LETTER, VISIBLE, ruler


@cache
def _pattern(max_token_length: int) -> re.Pattern[str]:
    n = max_token_length
    return re.compile(f"(?P<letters>{LETTER}{{1,{n}}})|\\d{{1,{n}}}|{ruler(n)}|{VISIBLE}")


def _case_cuts(run: str) -> list[int]:
    """Offsets inside a letter run where a lower-case letter is followed by an upper-case one."""
    return [i for i in range(1, len(run)) if run[i].isupper() and run[i - 1].islower()]


def fine_token_spans(text: str, *, max_token_length: int = 64) -> list[tuple[int, int]]:
    """[start, end) of every token; see the module docstring for the rule."""
    spans: list[tuple[int, int]] = []
    for match in _pattern(max_token_length).finditer(text):
        start, end = match.span()
        run = match.group("letters")
        # Fast path: all-lower, all-upper and Capitalised runs have no cut.
        if run is None or run.islower() or run.isupper() or run[1:].islower() or len(run) == 1:
            spans.append((start, end))
            continue
        previous = start
        for cut in _case_cuts(run):
            spans.append((previous, start + cut))
            previous = start + cut
        spans.append((previous, end))
    return spans
