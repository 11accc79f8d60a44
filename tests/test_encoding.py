"""Vocabularies and batching: ids are reproducible, batches respect their budgets."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from bioner.encoding.batching import CharEncoder, EncodedSentence, batch_indices, collate
from bioner.encoding.vocabulary import PAD, UNK, Vocabulary


def test_vocabulary_orders_by_frequency_then_alphabet_and_round_trips() -> None:
    vocab = Vocabulary.from_counts(Counter({"b": 2, "a": 2, "c": 5, "rare": 1}), min_count=2)
    assert vocab.items == [PAD, UNK, "c", "a", "b"]
    assert vocab.id("rare") == vocab.id(UNK) == 1
    again = Vocabulary.from_json(vocab.to_json())
    assert again.items == vocab.items


def test_vocabulary_without_unk_raises_on_unknown() -> None:
    tags = Vocabulary(["O", "B-X"], specials=())
    assert tags.ids(["B-X", "O"]) == [1, 0]
    with pytest.raises(KeyError):
        tags.id("I-X")


@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_indices_cover_every_sentence_once(shuffle: bool) -> None:
    lengths = [random.Random(i).randint(1, 40) for i in range(103)]
    batches = batch_indices(lengths, batch_size=8, shuffle=shuffle, rng=random.Random(1))
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(103))
    assert all(len(batch) <= 8 for batch in batches)


def test_token_budget_bounds_padded_size() -> None:
    lengths = [random.Random(i).randint(1, 60) for i in range(200)]
    batches = batch_indices(lengths, batch_tokens=300, shuffle=True, rng=random.Random(3))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= 300 or len(batch) == 1
    assert sorted(i for b in batches for i in b) == list(range(200))


def test_bucketing_keeps_similar_lengths_together() -> None:
    lengths = list(range(1, 65))
    batches = batch_indices(lengths, batch_size=8, bucket=True)
    for batch in batches:
        spread = max(lengths[i] for i in batch) - min(lengths[i] for i in batch)
        assert spread <= 7


def test_collate_pads_and_indexes_distinct_words() -> None:
    chars = {c: i + 2 for i, c in enumerate("abcdefgh")}
    encoder = CharEncoder(chars, unk_id=1, max_chars=3)
    sentences = [
        EncodedSentence(["abc", "de", "abc"], [5, 6, 5], [1, 0, 1]),
        EncodedSentence(["hz"], [7], [2]),
    ]
    batch = collate(sentences, [1, 0], encoder)
    assert batch.order == [1, 0]
    assert batch.word_ids.tolist() == [[7, 0, 0], [5, 6, 5]]
    assert batch.mask.tolist() == [[True, False, False], [True, True, True]]
    assert batch.tag_ids is not None and batch.tag_ids.tolist() == [[2, 0, 0], [1, 0, 1]]
    # three distinct words, "abc" encoded once and shared by both of its tokens
    assert batch.unique_chars.shape[0] == 3
    rows = batch.unique_chars[batch.token_to_unique[1]]
    assert torch.equal(rows[0], rows[2])
    assert batch.unique_chars[batch.token_to_unique[0, 0]].tolist() == [chars["h"], 1, 0]
    assert batch.unique_char_lengths.tolist() == [2, 3, 2]


def test_char_encoder_truncates_long_words() -> None:
    encoder = CharEncoder({"a": 2}, unk_id=1, max_chars=4)
    assert encoder("a" * 400) == [2, 2, 2, 2]
