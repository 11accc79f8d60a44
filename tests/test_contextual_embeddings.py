"""Contextual string embeddings: the documented hidden-state positions (against a slow
character-by-character reference), batching/padding invariance, frozen vs fine-tuned LMs,
and a tagger that uses them saving and loading without the original LM files."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch

from bioner.config import load_config
from bioner.data.document import Document
from bioner.errors import BionerError
from bioner.models.config import ContextualConfig
from bioner.models.embeddings.contextual import (
    ContextualStringEmbedding,
    lm_inputs,
    sentence_char_positions,
)
from bioner.pretraining.charlm import (
    CharLM,
    CharLMSpec,
    CharVocabulary,
    LoadedCharLM,
    load_charlm,
    save_charlm,
)
from bioner.tagger import Tagger

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.,() \n"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_lm(direction: str, hidden: int, seed: int, layers: int = 1) -> LoadedCharLM:
    torch.manual_seed(seed)
    chars = CharVocabulary(ALPHABET)
    spec = CharLMSpec(
        num_chars=len(chars), embedding_dim=8, hidden=hidden, layers=layers, direction=direction
    )
    lm = CharLM(spec)
    lm.eval()
    return LoadedCharLM(lm, chars, {})


@pytest.fixture
def embedding() -> ContextualStringEmbedding:
    return ContextualStringEmbedding(
        random_lm("forward", 12, seed=1, layers=2), random_lm("backward", 10, seed=2)
    )


SENTENCES = [
    ["IL-2", "gene", "expression", "in", "T", "cells", "."],
    ["BRCA1"],
    ["Mutations", "of", "p53", "(", "TP53", ")", "cause", "cancer", "x"],
    ["a", "b"],
]


def reference_states(lm: CharLM, vocab: CharVocabulary, text: str) -> list[torch.Tensor]:
    """Top-layer hidden state after each character, one LSTM step at a time."""
    states, state = [], None
    with torch.no_grad():
        for char in text:
            ids = torch.tensor([[vocab.index.get(char, 0)]])
            output, state = lm.hidden_states(ids, state)
            states.append(output[0, -1])
    return states


def test_positions_point_at_last_and_first_characters() -> None:
    words = ["IL-2", "gene", "(", "x", ")"]
    text, forward_at, backward_at = sentence_char_positions(words)
    forward_text, backward_text = lm_inputs(text)
    assert text == "IL-2 gene ( x )"
    for word, f, b in zip(words, forward_at, backward_at, strict=True):
        assert forward_text[f] == word[-1]  # the forward LM has just read the last character
        assert backward_text[b] == word[0]  # the backward LM has just read the first one
    assert forward_text[1 : forward_at[0] + 1] == "IL-2"
    assert backward_text[backward_at[0] - 3 : backward_at[0] + 1] == "2-LI"


def test_embedding_equals_lm_states_at_documented_positions(embedding) -> None:
    words = SENTENCES[2]
    fast = embedding([words])[0]
    text = " ".join(words)
    forward_states = reference_states(
        embedding.forward_lm, embedding.forward_chars, "\n" + text + " "
    )
    backward_states = reference_states(
        embedding.backward_lm, embedding.backward_chars, "\n" + text[::-1] + " "
    )
    offset = 0
    for index, word in enumerate(words):
        start, end = offset, offset + len(word)
        offset = end + 1
        # forward: after reading "\n" + text[:end]  → state index end (0 is the marker)
        expected_forward = forward_states[end]
        # backward: after reading "\n" + reversed(text[start:]) → len(text) - start chars + 1
        expected_backward = backward_states[len(text) - start]
        expected = torch.cat([expected_forward, expected_backward])
        torch.testing.assert_close(fast[index], expected, atol=1e-6, rtol=1e-5)


def test_batching_and_padding_do_not_change_embeddings(embedding) -> None:
    batched = embedding(SENTENCES)
    assert batched.shape == (4, 9, embedding.out_dim)
    for row, words in enumerate(SENTENCES):
        alone = embedding([words])[0]
        torch.testing.assert_close(batched[row, : len(words)], alone, atol=1e-6, rtol=1e-5)
        assert torch.all(batched[row, len(words) :] == 0)
    reordered = embedding(list(reversed(SENTENCES)))
    torch.testing.assert_close(reordered.flip(0)[:, :, :], batched, atol=1e-6, rtol=1e-5)


def test_frozen_lms_get_no_gradient_and_stay_in_eval_mode(embedding) -> None:
    embedding.train()
    assert not embedding.forward_lm.training and not embedding.backward_lm.training
    out = embedding(SENTENCES[:2])
    assert not out.requires_grad
    assert all(not p.requires_grad for p in embedding.parameters())
    again = embedding(SENTENCES[:2])
    assert torch.equal(out, again)  # no LM dropout in training mode when frozen


def test_fine_tuned_lms_receive_gradients() -> None:
    tuned = ContextualStringEmbedding(
        random_lm("forward", 6, seed=3), random_lm("backward", 6, seed=4), fine_tune=True
    )
    tuned.train()
    tuned(SENTENCES).sum().backward()
    assert tuned.forward_lm.lstm.weight_hh_l0.grad is not None
    assert tuned.backward_lm.embedding.weight.grad is not None


def test_memo_returns_the_computed_embeddings_and_reuses_them(embedding) -> None:
    plain = embedding(SENTENCES)
    assert embedding.start_memo() and embedding.memo_size == 0
    first = embedding([*SENTENCES, SENTENCES[0]])  # a repeated sentence is computed once
    assert embedding.memo_size == len(SENTENCES)
    torch.testing.assert_close(first[: len(SENTENCES)], plain, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(first[-1], first[0])
    with torch.no_grad():  # the memo, not the LMs, answers for a sentence seen before
        embedding.forward_lm.decoder.weight.zero_()
        embedding.forward_lm.lstm.weight_hh_l0.add_(1.0)
    again = embedding(list(reversed(SENTENCES)))
    torch.testing.assert_close(again.flip(0), plain, atol=1e-6, rtol=1e-5)
    embedding.stop_memo()
    assert embedding.memo_size == 0
    assert not torch.allclose(embedding(SENTENCES), plain)  # off again: the changed LM runs


def test_fine_tuned_lms_get_no_memo() -> None:
    tuned = ContextualStringEmbedding(
        random_lm("forward", 6, seed=3), random_lm("backward", 6, seed=4), fine_tune=True
    )
    assert not tuned.start_memo()
    tuned(SENTENCES)
    assert tuned.memo_size == 0


def test_directions_are_checked() -> None:
    with pytest.raises(BionerError, match="backward"):
        ContextualStringEmbedding(random_lm("forward", 4, 0), random_lm("forward", 4, 1))


def test_config_requires_both_lms() -> None:
    with pytest.raises(ValueError, match="forward"):
        ContextualConfig(enabled=True, forward="x")
    assert ContextualConfig(enabled=False).forward is None


# ---------------------------------------------------------------- tagger integration
def _documents(count: int) -> list[Document]:
    rng = random.Random(5)
    documents = []
    for index in range(count):
        words, tags = [], []
        for _ in range(rng.randint(1, 3)):
            words.append(rng.choice(["the", "cells", "of", "with"]))
            tags.append("O")
            words.append(rng.choice(["BRCA1", "TP53", "IL-2"]))
            tags.append("B-Gene")
        documents.append(Document.from_tokens(f"d{index}", [words], [tags]))
    return documents


def test_tagger_with_contextual_embeddings_saves_and_loads_without_lm_files(
    tmp_path: Path,
) -> None:
    lm_dir = tmp_path / "lms"
    forward, backward = random_lm("forward", 8, seed=6), random_lm("backward", 8, seed=7)
    save_charlm(lm_dir / "fwd" / "lm.safetensors", forward.lm, forward.chars)
    save_charlm(lm_dir / "bwd.safetensors", backward.lm, backward.chars)
    assert load_charlm(lm_dir / "fwd").lm.spec.direction == "forward"
    config = load_config(
        "bionerflair",
        [
            f"model.embedder.contextual.forward='{lm_dir / 'fwd'}'",
            f"model.embedder.contextual.backward='{lm_dir / 'bwd.safetensors'}'",
            "model.embedder.word.dim=6",
            "model.encoder.hidden=6",
        ],
    )
    documents = _documents(12)
    torch.manual_seed(0)
    tagger = Tagger.build(config, {"default": documents})
    embedder = tagger.model.embedder
    assert embedder.contextual is not None
    assert embedder.out_dim == 6 + 16
    optimizer = torch.optim.SGD([p for p in tagger.model.parameters() if p.requires_grad], 0.1)
    lm_before = embedder.contextual.forward_lm.decoder.weight.clone()
    tagger.model.train()
    for batch in tagger.batches(tagger.encode(documents, "default"), batch_size=4):
        optimizer.zero_grad()
        tagger.model.loss(batch).backward()
        optimizer.step()
    assert torch.equal(embedder.contextual.forward_lm.decoder.weight, lm_before)  # frozen
    saved = tagger.save(tmp_path / "model")
    shutil.rmtree(lm_dir)  # loading must not need the LM files
    loaded = Tagger.load(saved)
    assert loaded.model.embedder.contextual is not None
    keys = loaded.model.state_dict().keys()
    assert any(k.startswith("embedder.contextual.backward_lm.") for k in keys)
    for before, after in zip(
        tagger.model.state_dict().values(), loaded.model.state_dict().values(), strict=True
    ):
        assert torch.equal(before, after)
    tagger.model.eval()
    expected = tagger.predict_documents(documents)
    got = loaded.predict_documents(documents)
    assert [d.spans for d in got] == [d.spans for d in expected]
    batch = next(iter(loaded.batches(loaded.encode(documents[:4]), batch_size=4)))
    torch.testing.assert_close(
        loaded.model.features(batch), tagger.model.features(batch), atol=0, rtol=0
    )


def _train_with_memo(tmp_path: Path, lm_dir: Path, memo: bool) -> tuple[list[dict], list[int]]:
    """Two epochs of a tiny contextual tagger; the history and the memo size per epoch."""
    from bioner.training.trainer import Trainer

    config = load_config(
        "bionerflair",
        [
            f"model.embedder.contextual.forward='{lm_dir / 'fwd.safetensors'}'",
            f"model.embedder.contextual.backward='{lm_dir / 'bwd.safetensors'}'",
            "model.embedder.word.dim=6",
            "model.encoder.hidden=6",
            "training.epochs=2",
            "training.device='cpu'",
            f"training.memo_frozen_embeddings={str(memo).lower()}",
        ],
    )
    documents = _documents(12)
    tagger = Tagger.build(config, {"default": documents[:8]})
    contextual = tagger.model.embedder.contextual
    assert contextual is not None
    sizes: list[int] = []
    trainer = Trainer(
        tagger,
        {"default": documents[:8]},
        {"default": documents[8:]},
        tmp_path / f"run-{memo}",
        show_progress=False,
        on_epoch=lambda record: sizes.append(contextual.memo_size),
    )
    history = trainer.train().history
    assert contextual.memo_size == 0  # dropped when the run ends
    return history, sizes


def test_training_memo_changes_nothing_but_the_work(tmp_path: Path) -> None:
    lm_dir = tmp_path / "lms"
    forward, backward = random_lm("forward", 8, seed=6), random_lm("backward", 8, seed=7)
    save_charlm(lm_dir / "fwd.safetensors", forward.lm, forward.chars)
    save_charlm(lm_dir / "bwd.safetensors", backward.lm, backward.chars)
    with_memo, sizes = _train_with_memo(tmp_path, lm_dir, memo=True)
    without, no_sizes = _train_with_memo(tmp_path, lm_dir, memo=False)
    distinct = {tuple(s.words) for d in _documents(12) for s in d.sentences}
    assert sizes == [len(distinct)] * 2 and no_sizes == [0, 0]
    for left, right in zip(with_memo, without, strict=True):
        assert left["train_loss"] == pytest.approx(right["train_loss"], rel=1e-5)
        assert left["dev_f1"] == pytest.approx(right["dev_f1"])


def test_bionerflair_preset_uses_the_bundled_lms_and_paper_settings() -> None:
    from bioner.pretraining.charlm import bundled_charlm_names

    if "biomed-small-forward" not in bundled_charlm_names():
        pytest.skip("bundled character LMs not present")
    config = load_config("bionerflair")
    assert config.training.optimizer == "sgd" and config.training.learning_rate == 0.1
    assert config.training.anneal_factor == 0.5 and config.training.anneal_patience == 3
    assert config.training.batch_size == 32 and config.model.embedder.dropout == 0.5
    tagger = Tagger.build(config, {"default": _documents(3)})
    contextual = tagger.model.embedder.contextual
    assert contextual is not None and not contextual.fine_tune
    assert contextual.forward_lm.spec.direction == "forward"
    assert contextual.out_dim == 512
    out = contextual([["BRCA1", "mutations", "cause", "cancer", "."]])
    assert out.shape == (1, 5, 512) and torch.isfinite(out).all()


@pytest.mark.parametrize(("size", "hidden"), [("small", 256), ("medium", 512)])
def test_bundled_lm_pairs_load_and_embed(size: str, hidden: int) -> None:
    from bioner.pretraining.charlm import bundled_charlm_names

    names = (f"biomed-{size}-forward", f"biomed-{size}-backward")
    if not set(names) <= set(bundled_charlm_names()):
        pytest.skip(f"bundled {size} character LMs not present")
    contextual = ContextualStringEmbedding.from_paths(*names)
    assert contextual.forward_lm.spec.hidden == contextual.backward_lm.spec.hidden == hidden
    out = contextual([["IL-2", "activates", "T", "cells", "."]])
    assert out.shape == (1, 5, 2 * hidden) and torch.isfinite(out).all()
