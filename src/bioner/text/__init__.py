"""Sentence splitting and tokenization of raw text with exact character offsets.

`Tokenizer` (general biomedical, matching the corpora's tokenization, or DeepVar's
variant-aware rule) and `SentenceSplitter`; see their modules for the rules and why they are
written by hand.
"""

from bioner.text.sentences import ABBREVIATIONS, SentenceSplitter
from bioner.text.tokenizer import TOKEN_ABBREVIATIONS, Tokenizer, VariantTokenizer
from bioner.text.variants import variant_token_spans

__all__ = [
    "ABBREVIATIONS",
    "TOKEN_ABBREVIATIONS",
    "SentenceSplitter",
    "Tokenizer",
    "VariantTokenizer",
    "variant_token_spans",
]
