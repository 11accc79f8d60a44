"""Contextual string embeddings (Akbik et al. 2018; BioNerFlair §2.2.1) from two character LMs.

A word's embedding is the forward LM's hidden state after the word's LAST character,
concatenated with the backward LM's hidden state after it has read (in reverse) up to the
word's FIRST character — so each half has seen the word itself plus everything on one side.

The tagger has tokens, not raw text, so a sentence is rebuilt as its tokens joined by single
spaces (`docs/architecture.md`: the CoNLL convention). The LMs read

    forward:  "\\n" + text + " "          backward: "\\n" + reversed(text) + " "

("\\n" is the document separator the LMs were trained with, so every sentence starts in the
state of a fresh document; the trailing space is Flair's end marker). With `start`/`end` a
token's character offsets in `text` and `n = len(text)`, the embedding gathers

    forward output at index end        (= 1 + end - 1: the marker shifts by one)
    backward output at index n - start (= 1 + (n - 1 - start))

A batch is padded to its longest sentence and each LM runs ONCE over it; padding comes after
every real character and the LMs are causal, so it cannot change a gathered state.

Frozen by default (BioNerFlair used pretrained Flair embeddings as features): the LMs stay in
eval mode and run under `no_grad`; `fine_tune=True` trains them with the tagger. Hand-written
because Flair's implementation needs Flair's Sentence objects and pickled LM files.

Frozen LMs give a sentence the same embedding every time, so training (which sees every
training and devel sentence once per epoch) can keep them: `start_memo()` turns on a
per-sentence memo that the trainer holds for the length of a run (Flair's
`embeddings_storage_mode`); the LMs then run once per distinct sentence instead of once per
epoch. It is off otherwise, so annotating an unbounded stream of text never grows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bioner.errors import BionerError
from bioner.pretraining.charlm import (
    DOCUMENT_SEPARATOR,
    CharVocabulary,
    LoadedCharLM,
    charlm_from_parts,
    load_charlm,
)

END_MARKER = " "


def sentence_char_positions(words: Sequence[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """The sentence text (tokens joined by one space) and, per token, the index of its
    forward and of its backward hidden state in the marked-up LM inputs (module doc)."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(words) else lengths
    ends = starts + lengths
    text = " ".join(words)
    return text, ends, len(text) - starts


def lm_inputs(text: str) -> tuple[str, str]:
    """The forward and backward LM input strings of one sentence text."""
    return DOCUMENT_SEPARATOR + text + END_MARKER, DOCUMENT_SEPARATOR + text[::-1] + END_MARKER


class ContextualStringEmbedding(nn.Module):
    """Forward ⊕ backward character-LM states per token, for a batch of tokenized sentences."""

    def __init__(
        self, forward_lm: LoadedCharLM, backward_lm: LoadedCharLM, *, fine_tune: bool = False
    ) -> None:
        super().__init__()
        if forward_lm.lm.spec.direction != "forward":
            raise BionerError("the forward character LM was trained backward")
        if backward_lm.lm.spec.direction != "backward":
            raise BionerError("the backward character LM was trained forward")
        self.forward_lm = forward_lm.lm
        self.backward_lm = backward_lm.lm
        self.forward_chars: CharVocabulary = forward_lm.chars
        self.backward_chars: CharVocabulary = backward_lm.chars
        self.fine_tune = fine_tune
        self._memo: dict[tuple[str, ...], Tensor] | None = None
        self.out_dim = self.forward_lm.hidden_size + self.backward_lm.hidden_size
        if not fine_tune:
            self.forward_lm.requires_grad_(False)
            self.backward_lm.requires_grad_(False)
        self.train(self.training)

    # -------------------------------------------------------------- construction / saving
    @classmethod
    def from_paths(
        cls, forward: str | Path, backward: str | Path, *, fine_tune: bool = False
    ) -> ContextualStringEmbedding:
        """From LM files written by `bioner pretrain charlm` (or bundled LM names).

        An LM given for the wrong direction is reported with its path (`__init__` cannot
        name it)."""
        loaded = {"forward": load_charlm(forward), "backward": load_charlm(backward)}
        for (role, lm), path in zip(loaded.items(), (forward, backward), strict=True):
            if lm.lm.spec.direction != role:
                raise BionerError(
                    f"{path}: a {lm.lm.spec.direction} character LM, given as the {role} one"
                )
        return cls(loaded["forward"], loaded["backward"], fine_tune=fine_tune)

    def specs(self) -> dict[str, Any]:
        """Architecture and characters of both LMs: with the weights (in the tagger's
        state dict) this rebuilds the module without the original LM files."""
        return {
            "forward": {
                "spec": self.forward_lm.spec.model_dump(),
                "chars": self.forward_chars.to_json(),
            },
            "backward": {
                "spec": self.backward_lm.spec.model_dump(),
                "chars": self.backward_chars.to_json(),
            },
        }

    @classmethod
    def from_specs(
        cls, specs: Mapping[str, Any], *, fine_tune: bool = False
    ) -> ContextualStringEmbedding:
        """Same architecture with fresh weights; load the saved state dict afterwards."""
        try:
            parts = {k: charlm_from_parts(specs[k]["spec"], specs[k]["chars"]) for k in specs}
            return cls(parts["forward"], parts["backward"], fine_tune=fine_tune)
        except (KeyError, TypeError) as error:
            raise BionerError(f"damaged contextual-embedding description ({error})") from None

    def train(self, mode: bool = True) -> ContextualStringEmbedding:
        """Frozen LMs stay in eval mode (no LM dropout) whatever the tagger does."""
        super().train(mode)
        if not self.fine_tune:
            self.forward_lm.eval()
            self.backward_lm.eval()
        return self

    # -------------------------------------------------------------- memo (module doc)
    def start_memo(self) -> bool:
        """Keep each sentence's embedding until `stop_memo`; False (and no memo) when the
        LMs are fine-tuned, because their states then change with every update."""
        if self.fine_tune:
            return False
        if self._memo is None:
            self._memo = {}
        return True

    def stop_memo(self) -> None:
        """Drop the memo and its memory."""
        self._memo = None

    @property
    def memo_size(self) -> int:
        """Sentences held in the memo (0 when it is off)."""
        return 0 if self._memo is None else len(self._memo)

    # -------------------------------------------------------------- computation
    def encode(
        self, sentences: Sequence[Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Padded char ids of both LM inputs [B, L] and gather positions and mask [B, T]."""
        size = len(sentences)
        longest_chars = max((sum(len(w) + 1 for w in s) for s in sentences), default=0) + 1
        longest_tokens = max((len(s) for s in sentences), default=0)
        forward_ids = np.zeros((size, longest_chars), dtype=np.int64)
        backward_ids = np.zeros((size, longest_chars), dtype=np.int64)
        forward_at = np.zeros((size, longest_tokens), dtype=np.int64)
        backward_at = np.zeros((size, longest_tokens), dtype=np.int64)
        mask = np.zeros((size, longest_tokens), dtype=bool)
        for row, words in enumerate(sentences):
            text, ends, starts_back = sentence_char_positions(words)
            forward_text, backward_text = lm_inputs(text)
            forward_ids[row, : len(forward_text)] = self.forward_chars.encode(forward_text)
            backward_ids[row, : len(backward_text)] = self.backward_chars.encode(backward_text)
            forward_at[row, : len(words)] = ends
            backward_at[row, : len(words)] = starts_back
            mask[row, : len(words)] = True
        return forward_ids, backward_ids, forward_at, backward_at, mask

    def forward(self, sentences: Sequence[Sequence[str]]) -> Tensor:
        """[B, T, out_dim] embeddings (zeros at padded token positions)."""
        memo = self._memo
        if memo is None:  # start_memo never turns it on for fine-tuned LMs
            return self._run_lms(sentences)
        keys = [tuple(words) for words in sentences]
        missing = list(dict.fromkeys(key for key in keys if key not in memo))
        if missing:
            computed = self._run_lms(missing)
            for row, key in enumerate(missing):
                # A copy, so the padded batch tensor is not kept alive by a view.
                memo[key] = computed[row, : len(key)].clone()
        return nn.utils.rnn.pad_sequence([memo[key] for key in keys], batch_first=True)

    def _run_lms(self, sentences: Sequence[Sequence[str]]) -> Tensor:
        """Both LMs over the padded batch, states gathered at the token positions."""
        device = self.forward_lm.decoder.weight.device
        forward_ids, backward_ids, forward_at, backward_at, mask = self.encode(sentences)
        as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
        with torch.set_grad_enabled(self.fine_tune and torch.is_grad_enabled()):
            forward_states, _ = self.forward_lm.hidden_states(as_tensor(forward_ids))
            backward_states, _ = self.backward_lm.hidden_states(as_tensor(backward_ids))
            forward_part = _gather(forward_states, as_tensor(forward_at))
            backward_part = _gather(backward_states, as_tensor(backward_at))
            embedded = torch.cat([forward_part, backward_part], dim=-1)
            return embedded * as_tensor(mask).unsqueeze(-1).to(embedded.dtype)


def _gather(states: Tensor, positions: Tensor) -> Tensor:
    """states [B, L, H] at positions [B, T] → [B, T, H]."""
    index = positions.unsqueeze(-1).expand(-1, -1, states.size(-1))
    return states.gather(1, index)


__all__ = ["ContextualStringEmbedding", "lm_inputs", "sentence_char_positions"]
