"""The tagging network, assembled from a `ModelConfig`: TokenEmbedder ▸ SequenceEncoder ▸ heads.

Every head is a linear projection to its tag set followed by a CRF or softmax decoder. One
model may hold several heads (one per corpus for multi-task learning, Saber §2.7) that share
the embedder and encoder; a single-corpus model has one head named `default`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from bioner.data.tagging import OUTSIDE, TagScheme
from bioner.encoding.batching import Batch
from bioner.models.config import CharEncoderConfig, EmbedderConfig, EncoderConfig, ModelConfig
from bioner.models.crf import CRF, SoftmaxDecoder, transition_constraints
from bioner.models.dropout import SequenceDropout
from bioner.models.embeddings.char_encoders import CharAttention, CharBiLSTM, CharCNN
from bioner.models.embeddings.word_vectors import WordEmbedding
from bioner.models.embeddings.word_window import WordWindow
from bioner.models.encoders import BiLSTMEncoder, ResidualBiLSTMEncoder, TanhProjection

if TYPE_CHECKING:
    from bioner.models.embeddings.contextual import ContextualStringEmbedding

DEFAULT_HEAD = "default"


def _char_encoder(config: CharEncoderConfig, num_chars: int, word_dim: int) -> nn.Module | None:
    if config.kind == "none":
        return None
    if config.kind == "cnn":
        return CharCNN(
            num_chars,
            config.char_dim,
            config.widths,
            config.filters,
            embedding=config.alphabet,
            dropout=config.dropout,
        )
    if config.kind == "lstm":
        return CharBiLSTM(
            num_chars,
            config.char_dim,
            config.hidden,
            embedding=config.alphabet,
            dropout=config.dropout,
        )
    if word_dim == 0:
        raise ValueError("char attention is conditioned on the word: enable word embeddings")
    return CharAttention(
        num_chars,
        config.char_dim,
        word_dim=word_dim,
        window=config.attention_window // 2,  # the config counts characters per window
        embedding=config.alphabet,
        condition="hidden",  # the word enters the attention scores, as Lyu et al. intend
        dropout=config.dropout,
    )


class TokenEmbedder(nn.Module):
    """Concatenates word vectors, a character encoding and contextual string embeddings per
    token, then windows and drops.

    `contextual` is the ready module (a loaded tagger rebuilds it from its own files); when it
    is None but the config enables contextual embeddings, the LM files the config names are read.
    """

    def __init__(
        self,
        config: EmbedderConfig,
        num_words: int,
        num_chars: int,
        word_matrix: Tensor | None = None,
        contextual: ContextualStringEmbedding | None = None,
    ) -> None:
        super().__init__()
        word = config.word
        self.word = None
        word_dim = 0
        if word.enabled:
            weight = word_matrix if word_matrix is not None else torch.empty(num_words, word.dim)
            if word_matrix is None:
                nn.init.uniform_(weight, -((3.0 / word.dim) ** 0.5), (3.0 / word.dim) ** 0.5)
                weight[0].zero_()
            self.word = WordEmbedding(weight, freeze=word.freeze)
            word_dim = weight.size(1)
        self.char = _char_encoder(config.char, num_chars, word_dim)
        self.char_needs_word = isinstance(self.char, CharAttention)
        token_dim = word_dim + (self.char.out_dim if self.char is not None else 0)
        if contextual is None and config.contextual.enabled:
            from bioner.models.embeddings.contextual import ContextualStringEmbedding

            contextual = ContextualStringEmbedding.from_paths(
                config.contextual.forward,
                config.contextual.backward,
                fine_tune=config.contextual.fine_tune,
            )
        self.contextual = contextual
        if contextual is not None:
            token_dim += contextual.out_dim
        if token_dim == 0:
            raise ValueError("the embedder needs word vectors or a character encoder")
        self.window = WordWindow(config.word_window) if config.word_window else None
        self.out_dim = token_dim * (2 * config.word_window + 1)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: Batch) -> Tensor:
        pieces: list[Tensor] = []
        words = self.word(batch.word_ids) if self.word is not None else None
        if words is not None:
            pieces.append(words)
        if self.char is not None:
            if self.char_needs_word and words is not None:
                # Attention is conditioned on the word: encode each token, not each distinct word.
                flat_chars = batch.unique_chars[batch.token_to_unique[batch.mask]]
                flat_lengths = batch.unique_char_lengths.to(flat_chars.device)[
                    batch.token_to_unique[batch.mask]
                ]
                encoded = self.char(flat_chars, flat_lengths, words[batch.mask])
                per_token = words.new_zeros(*batch.mask.shape, encoded.size(-1))
                per_token[batch.mask] = encoded
            else:
                rows = self.char(batch.unique_chars, batch.unique_char_lengths)
                per_token = rows[batch.token_to_unique]
            pieces.append(per_token)
        if self.contextual is not None:
            pieces.append(self.contextual(batch.words))
        embedded = torch.cat(pieces, dim=-1) if len(pieces) > 1 else pieces[0]
        if self.window is not None:
            embedded = self.window(embedded, batch.mask)
        return self.dropout(embedded)


def build_encoder(config: EncoderConfig, input_dim: int) -> nn.Module:
    if config.kind == "residual":
        return ResidualBiLSTMEncoder(
            input_dim,
            config.hidden,
            config.units,
            input_dropout=config.input_dropout,
            recurrent_dropout=config.recurrent_dropout,
            output_dropout=config.output_dropout,
        )
    # Each stacked layer's input gets the input dropout (Keras `dropout`, as Saber used it).
    return BiLSTMEncoder(
        input_dim,
        config.hidden,
        config.layers,
        input_dropout=config.input_dropout,
        recurrent_dropout=config.recurrent_dropout,
        output_dropout=config.output_dropout,
        between_layer_dropout=config.input_dropout,
    )


class DecoderHead(nn.Module):
    """Projection to one tag set plus its CRF (or softmax) decoder."""

    def __init__(
        self,
        input_dim: int,
        tag_names: Sequence[str],
        kind: str,
        constraints: bool,
        scheme: TagScheme,
    ) -> None:
        super().__init__()
        self.tag_names = list(tag_names)
        self.projection = nn.Linear(input_dim, len(self.tag_names))
        allowed = transition_constraints(self.tag_names, scheme) if constraints else None
        self.decoder: CRF | SoftmaxDecoder = (
            CRF(len(self.tag_names), allowed)
            if kind == "crf"
            else SoftmaxDecoder(len(self.tag_names), allowed)
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.projection(features)


class TaggerModel(nn.Module):
    """Shared embedder + encoder, one decoder head per tag set."""

    def __init__(
        self,
        config: ModelConfig,
        num_words: int,
        num_chars: int,
        heads: Mapping[str, Sequence[str]],
        word_matrix: Tensor | None = None,
        contextual: ContextualStringEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.embedder = TokenEmbedder(
            config.embedder, num_words, num_chars, word_matrix, contextual
        )
        self.encoder = build_encoder(config.encoder, self.embedder.out_dim)
        feature_dim = self.encoder.out_dim
        self.hidden = None
        if config.encoder.hidden_layer:
            self.hidden = nn.Sequential(
                TanhProjection(feature_dim, config.encoder.hidden_layer),
                SequenceDropout(config.encoder.hidden_dropout),
            )
            feature_dim = config.encoder.hidden_layer
        self.feature_dim = feature_dim
        scheme = TagScheme.parse(config.tag_scheme)
        self.heads = nn.ModuleDict(
            {
                name: DecoderHead(
                    feature_dim, tags, config.decoder.kind, config.decoder.constraints, scheme
                )
                for name, tags in heads.items()
            }
        )

    def replace_head(self, name: str, tag_names: Sequence[str]) -> None:
        """Fresh, randomly initialised head (transfer learning re-initialises the decoder)."""
        scheme = TagScheme.parse(self.config.tag_scheme)
        decoder = self.config.decoder
        self.heads[name] = DecoderHead(
            self.feature_dim, tag_names, decoder.kind, decoder.constraints, scheme
        )

    def features(self, batch: Batch) -> Tensor:
        embedded = self.embedder(batch)
        encoded = self.encoder(embedded, batch.lengths)
        return self.hidden(encoded) if self.hidden is not None else encoded

    def loss(self, batch: Batch, head: str = DEFAULT_HEAD) -> Tensor:
        """Mean negative log-likelihood per sentence of the batch's gold tags."""
        if batch.tag_ids is None:
            raise ValueError("the batch has no gold tags")
        selected = self.heads[head]
        emissions = selected(self.features(batch))
        return selected.decoder.neg_log_likelihood(
            emissions, batch.tag_ids, batch.mask, reduction="mean"
        )

    @torch.no_grad()
    def predict(
        self, batch: Batch, heads: Sequence[str] | None = None, with_marginals: bool = True
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        """Per head: best tag ids [B, T] (0 where padded) and, optionally, each chosen tag's
        marginal probability [B, T] — both on the CPU, for decoding without token loops."""
        features = self.features(batch)
        results: dict[str, tuple[Tensor, Tensor | None]] = {}
        for name in heads or list(self.heads):
            head = self.heads[name]
            emissions = head(features)
            paths = head.decoder.best_paths(emissions, batch.mask)
            confidences = None
            if with_marginals:
                confidences = self._chosen_marginals(head, emissions, paths, batch.mask)
            results[name] = (paths.cpu(), confidences)
        return results

    @staticmethod
    def _chosen_marginals(
        head: DecoderHead, emissions: Tensor, paths: Tensor, mask: Tensor
    ) -> Tensor:
        """Marginal probability of each chosen tag [B, T] on the CPU (1 outside mentions).

        Confidences are only read inside mentions, so forward-backward runs only on the
        sentences whose best path has a non-O tag, cut to their longest length; the rest keep
        1.0. Same values as running it on the whole batch, at a fraction of the cost.
        """
        chosen = torch.ones(paths.shape, dtype=emissions.dtype)
        outside = head.tag_names.index(OUTSIDE) if OUTSIDE in head.tag_names else -1
        rows = ((paths != outside) & mask).any(1).nonzero().flatten()
        if rows.numel() == 0:
            return chosen
        sub_mask = mask[rows]
        steps = int(sub_mask.sum(1).max())
        sub_mask = sub_mask[:, :steps]
        marginals = head.decoder.marginals(emissions[rows, :steps], sub_mask)
        picked = marginals.gather(2, paths[rows, :steps].unsqueeze(-1)).squeeze(-1)
        chosen[rows.cpu(), :steps] = picked.cpu()
        return chosen
