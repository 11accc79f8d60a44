"""Regex fragments for the character classes the tokenizers cut by, defined once.

Combining marks (decomposed accents, Greek tonos...) belong to the letter before them, and a
run of eight or more identical punctuation marks (a "--------" ruler) is one token, so a
line of dashes yields a few bounded tokens instead of thousands. Invisible format characters
(zero-width space and joiners, word joiner, soft hyphen, a stray byte-order mark) separate
tokens like a space but are never tokens themselves: pasted web text carries them inside
words, and a token no one can see must not come out tagged as a mention. Both the general tokenizer
(`bioner.text.tokenizer`) and the fine-grained one (`bioner.text.fine_grained`) use these.
"""

from __future__ import annotations

COMBINING_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
#: Invisible format characters: token separators, never tokens (`str.isspace` is False).
INVISIBLE = "\u00ad\u200b-\u200d\u2060\ufeff"
#: Any character that can be (part of) a token: not whitespace, not invisible.
VISIBLE = f"[^\\s{INVISIBLE}]"
#: A letter or digit (Unicode), with its combining marks.
ALNUM = f"(?:[^\\W_]|[{COMBINING_MARKS}])"
#: A letter (Unicode, no digits), with its combining marks.
LETTER = f"(?:[^\\W\\d_]|[{COMBINING_MARKS}])"


def ruler(max_token_length: int) -> str:
    """Eight to `max_token_length` copies of one punctuation mark (or underscore)."""
    return f"(?P<ruler>[^\\s\\w{INVISIBLE}]|_)(?P=ruler){{7,{max_token_length - 1}}}"
