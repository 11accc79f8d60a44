"""Token-feature modules: word vectors, character encoders, DeepVar's char table, word window.

Pure ``nn.Module``s on tensors; the tagger assembles them from a config.
"""

from bioner.models.embeddings.char_encoders import (
    CharAttention,
    CharBiLSTM,
    CharCNN,
    make_char_embedding,
    sachan_filters,
)
from bioner.models.embeddings.char_table import OneHotCharEmbedding, encode_word, encode_words
from bioner.models.embeddings.word_vectors import (
    EmbeddingCoverage,
    WordEmbedding,
    WordVectors,
    build_embedding_matrix,
    load_word_vectors,
    lookup_keys,
    normalize_word,
)
from bioner.models.embeddings.word_window import WordWindow

__all__ = [
    "CharAttention",
    "CharBiLSTM",
    "CharCNN",
    "EmbeddingCoverage",
    "OneHotCharEmbedding",
    "WordEmbedding",
    "WordVectors",
    "WordWindow",
    "build_embedding_matrix",
    "encode_word",
    "encode_words",
    "load_word_vectors",
    "lookup_keys",
    "make_char_embedding",
    "normalize_word",
    "sachan_filters",
]
