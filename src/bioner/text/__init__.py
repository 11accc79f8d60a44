"""Sentence splitting and tokenization of raw text with exact character offsets.

`Tokenizer` (general biomedical, matching the corpora's tokenization; DeepVar's
variant-aware rule; tmVar-style fine-grained pieces), `make_tokenizer` and
`SentenceSplitter`; see their modules for the rules and why they are written by hand.
"""

from bioner.text.fine_grained import fine_token_spans
from bioner.text.sentences import ABBREVIATIONS, SentenceSplitter
from bioner.text.tokenizer import (
    TOKEN_ABBREVIATIONS,
    TOKENIZER_NAMES,
    Tokenizer,
    VariantTokenizer,
    make_tokenizer,
)
from bioner.text.variants import variant_token_spans

__all__ = [
    "ABBREVIATIONS",
    "TOKENIZER_NAMES",
    "TOKEN_ABBREVIATIONS",
    "SentenceSplitter",
    "Tokenizer",
    "VariantTokenizer",
    "fine_token_spans",
    "make_tokenizer",
    "variant_token_spans",
]
