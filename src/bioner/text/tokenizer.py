"""Tokenization of raw biomedical text into sentences of tokens with exact offsets.

One job: turn a raw string into `Sentence`s of `Token`s whose `text == original[start:end]`.
Written by hand because general-domain tokenizers (PTB-style, spaCy's defaults) mis-split
biomedical names and do not reproduce the tokenization of the training corpora. Measured on
NCBI-disease and BC5CDR (see `benchmarks/tokenizer_agreement.py`), the CoNLL versions of
these corpora keep every run of letters and digits whole ("Pro246HisfsX13", "3H", "IL2")
and make every other non-space character a token of its own ("NF - kappa B .", "( IL - 2 )",
"3 . 5", "Parkinson ' s"), without exception. The default tokenizer does exactly that, with
Unicode letters and digits (α, β, κB, é) counting as letters; options keep decimals,
hyphenated words or common abbreviations together for uses that do not need to match the
corpora, `variant_aware=True` switches to DeepVar's rule (`bioner.text.variants`) and
`fine_grained=True` to tmVar-style pieces (`bioner.text.fine_grained`). `make_tokenizer`
builds one of these from the name a model's config stores (`data.tokenizer`).

Bounded cost on pathological input: a single `re.finditer` pass, so time and memory are
linear in the text length; a run of letters/digits longer than `max_token_length` (default
64) is cut into chunks of that length, a run of eight or more identical punctuation marks
("--------", a ruler) is one token (also chunked), and a sentence longer than
`max_sentence_tokens` is cut into pieces, so a 1 MB line without spaces yields a bounded
number of bounded tokens and sentences instead of one giant token.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from bioner.data.document import Document, Sentence, Token
from bioner.errors import BionerError
from bioner.text.char_classes import ALNUM, VISIBLE, ruler
from bioner.text.fine_grained import fine_token_spans
from bioner.text.sentences import SentenceSplitter
from bioner.text.variants import variant_token_spans

#: Names of the tokenizers a model config (`data.tokenizer`) or `--tokenizer` may name.
TOKENIZER_NAMES = ("default", "variant", "fine")

#: Abbreviations kept as one token (with their full stop) by `keep_abbreviations=True`.
TOKEN_ABBREVIATIONS: tuple[str, ...] = (
    "e.g.", "i.e.", "al.", "vs.", "cf.", "Fig.", "Figs.", "approx.", "ca.", "resp.", "viz.",
    "Dr.", "Prof.", "No.", "Nos.", "Ref.", "Eq.", "sp.", "spp.", "subsp.", "etc.",
)  # fmt: skip


def _pattern(
    max_token_length: int,
    keep_decimals: bool,
    keep_hyphenated: bool,
    keep_abbreviations: bool,
) -> re.Pattern[str]:
    n = max_token_length
    parts: list[str] = []
    if keep_abbreviations:
        words = "|".join(re.escape(a) for a in sorted(TOKEN_ABBREVIATIONS, key=len, reverse=True))
        parts.append(f"(?<!{ALNUM})(?i:{words})")
    # Every repetition below is bounded, so a failed attempt costs O(n) steps at most and a
    # 1 MB run of digits or letters cannot make the scan quadratic.
    if keep_decimals:  # 1,000,000.5 and 3.5
        parts.append(r"\d{1,3}(?:,\d{3}){1,6}(?:\.\d{1,16})?(?!\d)|\d{1,16}\.\d{1,16}")
    if keep_hyphenated:  # up to nine parts: IL-2, NF-kappa, alpha-1-antitrypsin
        parts.append(f"{ALNUM}{{1,{n}}}(?:-{ALNUM}{{1,{n}}}){{1,8}}")
    parts.append(ruler(n))  # --------, ________
    parts.append(f"{ALNUM}{{1,{n}}}")
    parts.append(VISIBLE)
    return re.compile("|".join(parts))


class Tokenizer:
    """Sentence splitter + tokenizer; every token keeps its offsets into the input text."""

    def __init__(
        self,
        *,
        variant_aware: bool = False,
        paper_exact: bool = False,
        fine_grained: bool = False,
        keep_decimals: bool = False,
        keep_hyphenated: bool = False,
        keep_abbreviations: bool = False,
        split_sentences: bool = True,
        splitter: SentenceSplitter | None = None,
        max_token_length: int = 64,
        max_sentence_tokens: int | None = 1000,
    ) -> None:
        """Defaults reproduce the corpora's tokenization (see the module docstring).

        `variant_aware`/`paper_exact`: DeepVar §4.1 tokens (`bioner.text.variants`).
        `fine_grained`: tmVar-style pieces (`bioner.text.fine_grained`).
        `keep_*`: keep "3.5", "IL-2" or "e.g." as one token (general mode only).
        `split_sentences=False`: sentences break only at `boundaries` given to `tokenize`.
        `max_*` bound the size of tokens and sentences.
        """
        if max_token_length < 4:
            raise ValueError("max_token_length must be at least 4")
        if max_sentence_tokens is not None and max_sentence_tokens < 1:
            raise ValueError("max_sentence_tokens must be positive")
        if variant_aware and fine_grained:
            raise ValueError("choose one of variant_aware and fine_grained")
        self.fine_grained = fine_grained
        self.variant_aware = variant_aware
        self.paper_exact = paper_exact
        self.split_sentences = split_sentences
        self.splitter = splitter or SentenceSplitter()
        self.max_token_length = max_token_length
        self.max_sentence_tokens = max_sentence_tokens
        self._joins = keep_decimals or keep_hyphenated or keep_abbreviations
        self._regex = _pattern(max_token_length, keep_decimals, keep_hyphenated, keep_abbreviations)

    # ----------------------------------------------------------------- tokens
    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """[start, end) of every token, in order, never overlapping, never containing space."""
        if self.variant_aware:
            return variant_token_spans(
                text, paper_exact=self.paper_exact, max_token_length=self.max_token_length
            )
        if self.fine_grained:
            return fine_token_spans(text, max_token_length=self.max_token_length)
        spans = [m.span() for m in self._regex.finditer(text)]
        if not self._joins:
            return spans
        n = self.max_token_length
        if all(end - start <= n for start, end in spans):
            return spans
        bounded: list[tuple[int, int]] = []
        for start, end in spans:
            if end - start <= n:
                bounded.append((start, end))
            else:
                bounded.extend((cut, min(cut + n, end)) for cut in range(start, end, n))
        return bounded

    def tokens(self, text: str) -> list[Token]:
        """All tokens of `text`, ignoring sentences."""
        return [Token(text[s:e], s, e) for s, e in self.token_spans(text)]

    # ----------------------------------------------------------------- sentences
    def tokenize(self, text: str, *, boundaries: Iterable[int] = ()) -> list[Sentence]:
        """Sentences of tokens; `boundaries` adds forced sentence breaks (e.g. passage ends)."""
        spans = self.token_spans(text)
        if not spans:
            return []
        cuts = set(boundaries)
        if self.split_sentences:
            cuts.update(self.splitter.boundaries(text))
        ordered = sorted(cuts)
        sentences: list[Sentence] = []
        current: list[Token] = []
        limit = self.max_sentence_tokens
        region = bisect_right(ordered, spans[0][0])
        next_cut = ordered[region] if region < len(ordered) else None
        for start, end in spans:
            if next_cut is not None and start >= next_cut:
                if current:
                    sentences.append(Sentence(current))
                    current = []
                region = bisect_right(ordered, start)
                next_cut = ordered[region] if region < len(ordered) else None
            elif limit is not None and len(current) >= limit:
                sentences.append(Sentence(current))
                current = []
            current.append(Token(text[start:end], start, end))
        if current:
            sentences.append(Sentence(current))
        return sentences

    def to_document(self, text: str, doc_id: str, *, boundaries: Iterable[int] = ()) -> Document:
        """A `Document` holding `text` and its sentences (no spans)."""
        return Document(id=doc_id, text=text, sentences=self.tokenize(text, boundaries=boundaries))


class VariantTokenizer(Tokenizer):
    """`Tokenizer(variant_aware=True)`: DeepVar §4.1 tokens, same sentence splitting."""

    def __init__(
        self,
        *,
        paper_exact: bool = False,
        split_sentences: bool = True,
        splitter: SentenceSplitter | None = None,
        max_token_length: int = 64,
        max_sentence_tokens: int | None = 1000,
    ) -> None:
        super().__init__(
            variant_aware=True,
            paper_exact=paper_exact,
            split_sentences=split_sentences,
            splitter=splitter,
            max_token_length=max_token_length,
            max_sentence_tokens=max_sentence_tokens,
        )


def make_tokenizer(name: str) -> Tokenizer:
    """The tokenizer a model config names: "default", "variant" (DeepVar) or "fine" (tmVar)."""
    if name == "variant":
        return VariantTokenizer()
    if name == "fine":
        return Tokenizer(fine_grained=True)
    if name == "default":
        return Tokenizer()
    raise BionerError(f"unknown tokenizer {name!r}; expected one of {', '.join(TOKENIZER_NAMES)}")
