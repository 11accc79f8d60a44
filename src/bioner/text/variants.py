"""Variant-aware token offsets after DeepVar (§4.1, "Tokenization").

One job: cut text into tokens that keep genomic variant names such as "p.Pro246HisfsX13",
"c.399_402delAGAG" or "IVS2+1G>A" whole. Written by hand because a general tokenizer splits
these at every punctuation mark, while DeepVar's rule keeps them intact and no library
implements it. The paper's rule, quoted:

    "we first tokenize a sentence using white space and characters in
    {" # & $ * ; / \\ ~ ! ? = { }}, then for each token t, if there's any character from
    {" , . ' :} at the end of t, then strip this character. Finally, strip the brackets if t
    is bracketed."

The set printed in the paper starts with a typographic double quote; we read it as the
double quote in all its forms (" “ ”) and the strip set likewise (" ” , . ' ’ :).
Unlike the paper, nothing is thrown away: every delimiter, stripped character and bracket
becomes a token of its own, so tokens still cover every non-space character and offsets
into the original text are exact.

`paper_exact=True` applies the rule literally (one trailing character, one bracket pair).
The default also repeats the strip/unwrap until nothing changes and drops a lone leading
opening bracket or trailing closing bracket that has no partner inside the token, as in
"(p.V600E" at the start of a parenthetical that a delimiter cut short.
"""

from __future__ import annotations

import re

from bioner.text.char_classes import INVISIBLE, VISIBLE

#: Characters that separate tokens besides white space (DeepVar §4.1).
DELIMITERS = '"“”#&$*;/\\~!?={}'
#: Characters stripped from the end of a token (DeepVar §4.1).
TRAILING = "\"”,.'’:"
_PAIRS = {"(": ")", "[": "]"}
_CLOSERS = {")": "(", "]": "["}

_PIECES = re.compile("[^\\s" + INVISIBLE + re.escape(DELIMITERS) + "]+|" + VISIBLE)


def _refine(text: str, start: int, end: int, paper_exact: bool) -> list[tuple[int, int]]:
    """Split one white-space/delimiter piece into its core and the peeled characters."""
    head: list[tuple[int, int]] = []
    tail: list[tuple[int, int]] = []
    rounds = 1 if paper_exact else 8
    for _ in range(rounds):
        changed = False
        if end - start > 1 and text[end - 1] in TRAILING:
            tail.append((end - 1, end))
            end -= 1
            changed = True
        if end - start > 2 and _PAIRS.get(text[start]) == text[end - 1]:
            head.append((start, start + 1))
            tail.append((end - 1, end))
            start += 1
            end -= 1
            changed = True
        elif not paper_exact and end - start > 1:
            core = text[start:end]
            opener, closer = text[start], text[end - 1]
            if opener in _PAIRS and _PAIRS[opener] not in core:
                head.append((start, start + 1))
                start += 1
                changed = True
            elif closer in _CLOSERS and _CLOSERS[closer] not in core:
                tail.append((end - 1, end))
                end -= 1
                changed = True
        if not changed:
            break
    return [*head, (start, end), *reversed(tail)]


def variant_token_spans(
    text: str, *, paper_exact: bool = False, max_token_length: int = 64
) -> list[tuple[int, int]]:
    """[start, end) of every token under DeepVar's rule; see the module docstring."""
    spans: list[tuple[int, int]] = []
    for match in _PIECES.finditer(text):
        start, end = match.span()
        if end - start == 1:
            spans.append((start, end))
            continue
        for piece_start, piece_end in _refine(text, start, end, paper_exact):
            if piece_end - piece_start <= max_token_length:
                spans.append((piece_start, piece_end))
            else:
                spans.extend(
                    (cut, min(cut + max_token_length, piece_end))
                    for cut in range(piece_start, piece_end, max_token_length)
                )
    return spans
