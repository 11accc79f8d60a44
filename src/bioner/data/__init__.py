"""Documents, spans, tag schemes and the corpus formats that produce and consume them."""

from bioner.data.document import Document, Passage, Relation, Sentence, Span, Token

__all__ = ["Document", "Passage", "Relation", "Sentence", "Span", "Token"]
