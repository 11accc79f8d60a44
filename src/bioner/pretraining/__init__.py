"""Pretraining from unlabeled text: word2vec vectors and Sachan's bidirectional LM.

`text_source` streams tokenized sentences (unlabeled text + corpora *training* splits),
`word2vec` trains vectors with gensim, `bilm` trains forward/backward LMs that use the
tagger's own embedder and encoder, `bilm_transfer` starts a tagger from such an LM.
"""
