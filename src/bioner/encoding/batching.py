"""Sentences → padded tensor batches, grouped by length so little compute goes to padding.

Characters are encoded once per *distinct* word of a batch (`Batch.unique_chars`), and the
per-token view is an index into those rows: a batch of 32 sentences holds ~800 tokens but
only ~400 distinct words, so the character encoder does half the work.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(slots=True)
class EncodedSentence:
    """One sentence as ids; `tag_ids` is None when the sentence has no gold tags."""

    words: list[str]
    word_ids: list[int]
    tag_ids: list[int] | None = None

    def __len__(self) -> int:
        return len(self.words)


@dataclass(slots=True)
class Batch:
    """A padded batch. `order[i]` is the position of row i in the caller's sentence list."""

    word_ids: torch.Tensor  # [B, T] long, 0 = padding
    mask: torch.Tensor  # [B, T] bool, left-aligned
    lengths: torch.Tensor  # [B] long
    unique_chars: torch.Tensor  # [U, C] long, 0 = padding
    unique_char_lengths: torch.Tensor  # [U] long
    token_to_unique: torch.Tensor  # [B, T] long index into unique_chars (0 at padding)
    tag_ids: torch.Tensor | None  # [B, T] long or None
    words: list[list[str]]
    order: list[int]

    def to(self, device: torch.device) -> Batch:
        move = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        return Batch(
            word_ids=move(self.word_ids),
            mask=move(self.mask),
            lengths=self.lengths,
            unique_chars=move(self.unique_chars),
            unique_char_lengths=self.unique_char_lengths,
            token_to_unique=move(self.token_to_unique),
            tag_ids=None if self.tag_ids is None else move(self.tag_ids),
            words=self.words,
            order=self.order,
        )


class CharEncoder:
    """Maps a word to character ids (truncated to `max_chars`), caching per distinct word.

    Ids come from `char_index` (unknown → `unk_id`), or from `lookup` when the alphabet is a
    fixed table such as DeepVar's 70 symbols.
    """

    def __init__(
        self,
        char_index: dict[str, int],
        unk_id: int,
        max_chars: int,
        lookup: Callable[[str], int] | None = None,
    ) -> None:
        self.char_index = char_index
        self.unk_id = unk_id
        self.max_chars = max_chars
        self.lookup = lookup
        self._cache: dict[str, list[int]] = {}

    def __call__(self, word: str) -> list[int]:
        found = self._cache.get(word)
        if found is None:
            chars = word[: self.max_chars]
            if self.lookup is not None:
                found = [self.lookup(c) for c in chars] or [self.unk_id]
            else:
                get, unk = self.char_index.get, self.unk_id
                found = [get(c, unk) for c in chars] or [unk]
            if len(self._cache) < 1_000_000:
                self._cache[word] = found
        return found


def batch_indices(
    lengths: Sequence[int],
    *,
    batch_size: int | None = None,
    batch_tokens: int | None = None,
    shuffle: bool = False,
    bucket: bool = True,
    rng: random.Random | None = None,
) -> list[list[int]]:
    """Group sentence positions into batches by sentence count or by a padded-token budget.

    With `bucket`, sentences are sorted by length (shuffled within equal lengths when
    `shuffle`), cut into batches, and the batches themselves are shuffled.
    """
    if (batch_size is None) == (batch_tokens is None):
        raise ValueError("set exactly one of batch_size and batch_tokens")
    rng = rng or random.Random(0)
    positions = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(positions)
    if bucket:
        positions.sort(key=lambda i: lengths[i])  # stable: keeps the shuffle within a length
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for position in positions:
        longest_if_added = max(longest, lengths[position])
        if current and (
            (batch_size is not None and len(current) >= batch_size)
            or (batch_tokens is not None and longest_if_added * (len(current) + 1) > batch_tokens)
        ):
            batches.append(current)
            current, longest_if_added = [], lengths[position]
        current.append(position)
        longest = longest_if_added
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def collate(
    sentences: Sequence[EncodedSentence], order: Sequence[int], char_encoder: CharEncoder
) -> Batch:
    """Pad the sentences at `order` into one Batch (numpy fills, one tensor copy each)."""
    chosen = [sentences[i] for i in order]
    size = len(chosen)
    lengths = np.fromiter((len(s) for s in chosen), dtype=np.int64, count=size)
    width = int(lengths.max())
    word_ids = np.zeros((size, width), dtype=np.int64)
    token_to_unique = np.zeros((size, width), dtype=np.int64)
    has_tags = all(s.tag_ids is not None for s in chosen)
    tag_ids = np.zeros((size, width), dtype=np.int64) if has_tags else None
    unique: dict[str, int] = {}
    for row, sentence in enumerate(chosen):
        n = len(sentence)
        word_ids[row, :n] = sentence.word_ids
        if tag_ids is not None:
            tag_ids[row, :n] = sentence.tag_ids
        token_to_unique[row, :n] = [unique.setdefault(w, len(unique)) for w in sentence.words]
    char_rows = [char_encoder(word) for word in unique]
    char_lengths = np.fromiter((len(r) for r in char_rows), dtype=np.int64, count=len(char_rows))
    chars = np.zeros((len(char_rows), int(char_lengths.max())), dtype=np.int64)
    for row, ids in enumerate(char_rows):
        chars[row, : len(ids)] = ids
    mask = np.arange(width)[None, :] < lengths[:, None]
    return Batch(
        word_ids=torch.from_numpy(word_ids),
        mask=torch.from_numpy(mask),
        lengths=torch.from_numpy(lengths),
        unique_chars=torch.from_numpy(chars),
        unique_char_lengths=torch.from_numpy(char_lengths),
        token_to_unique=torch.from_numpy(token_to_unique),
        tag_ids=None if tag_ids is None else torch.from_numpy(tag_ids),
        words=[s.words for s in chosen],
        order=list(order),
    )


def iterate_batches(
    sentences: Sequence[EncodedSentence],
    char_encoder: CharEncoder,
    *,
    batch_size: int | None = None,
    batch_tokens: int | None = None,
    shuffle: bool = False,
    bucket: bool = True,
    rng: random.Random | None = None,
) -> Iterator[Batch]:
    lengths = [len(s) for s in sentences]
    for order in batch_indices(
        lengths,
        batch_size=batch_size,
        batch_tokens=batch_tokens,
        shuffle=shuffle,
        bucket=bucket,
        rng=rng,
    ):
        yield collate(sentences, order, char_encoder)
