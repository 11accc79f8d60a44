"""Sachan's BiLM: it learns, no direction sees the word it predicts, runs resume, and the
transfer into a tagger copies exactly the non-decoder weights."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from bioner.config import ExperimentConfig, load_config
from bioner.data.document import Document
from bioner.encoding.batching import CharEncoder, EncodedSentence, collate
from bioner.errors import BionerError
from bioner.pretraining.bilm import BiLM, BiLMSettings, BiLMTrainer
from bioner.pretraining.bilm_transfer import lstm_direction_keys, tagger_from_pretrained
from bioner.pretraining.text_source import UnlabeledSource
from bioner.tagger import Tagger
from bioner.training.trainer import Trainer

TINY = [
    "model.embedder.word.dim=16",
    "model.embedder.char.char_dim=8",
    "model.embedder.char.widths=[1, 2, 3]",
    "model.embedder.char.filters=[4, 4, 4]",
    "model.encoder.hidden=12",
    "training.epochs=1",
    "training.num_threads=1",
]
WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "red", "house"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared CPU: one thread is much faster than contended many."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _config(*extra: str, dropout: float = 0.0) -> ExperimentConfig:
    return load_config(
        "sachan-cnn",
        [
            *TINY,
            f"model.embedder.dropout={dropout}",
            f"model.encoder.output_dropout={dropout}",
            *extra,
        ],
    )


def _batch(sentences: list[list[str]]):
    index = {w: i + 2 for i, w in enumerate(WORDS)}
    chars = {c: i + 2 for i, c in enumerate(sorted({c for w in WORDS for c in w}))}
    encoded = [EncodedSentence(s, [index.get(w, 1) for w in s]) for s in sentences]
    return collate(encoded, list(range(len(encoded))), CharEncoder(chars, 1, 20))


def _model(**options) -> BiLM:
    torch.manual_seed(0)
    config = _config().model
    return BiLM(config, len(WORDS) + 2, 40, len(WORDS) + 2, **options)


def test_loss_decreases_on_repetitive_text() -> None:
    model = _model()
    batch = _batch([["the", "cat", "sat", "on", "a", "mat"], ["a", "dog", "ran", "to", "the"]] * 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("position", [1, 3, 5])
def test_no_direction_sees_the_word_it_predicts(position: int) -> None:
    model = _model().eval()
    sentence = ["the", "cat", "sat", "on", "a", "red", "mat"]
    changed = list(sentence)
    changed[position] = "house"
    with torch.no_grad():
        forward_a, backward_a = model.log_probs(_batch([sentence]))
        forward_b, backward_b = model.log_probs(_batch([changed]))
    # The forward LM predicts word `position` from position - 1: nothing up to there changes.
    assert torch.equal(forward_a[0, :position], forward_b[0, :position])
    # The backward LM predicts it from position + 1: nothing from there on changes.
    assert torch.equal(backward_a[0, position + 1 :], backward_b[0, position + 1 :])
    # ...while the states that did read the changed word do change (the test can fail).
    assert not torch.allclose(forward_a[0, position], forward_b[0, position])
    assert not torch.allclose(backward_a[0, position], backward_b[0, position])


def test_targets_follow_sachan_boundaries() -> None:
    model = _model()
    batch = _batch([["the", "cat", "sat"], ["a", "dog"]])
    forward, backward = model.targets(batch)
    out = model.output_ids(batch.word_ids)
    assert forward[0].tolist() == [out[0, 1].item(), out[0, 2].item(), 2]  # ... </s>
    assert backward[0].tolist() == [1, out[0, 0].item(), out[0, 1].item()]  # <s> ...
    assert forward[1, :2].tolist() == [out[1, 1].item(), 2]


@pytest.mark.parametrize(
    "override",
    ["model.encoder.layers=2", "model.embedder.word_window=1", "model.encoder.kind='residual'"],
)
def test_configs_that_would_leak_the_target_are_refused(override: str) -> None:
    with pytest.raises(BionerError, match="see the word it predicts"):
        BiLM(_config(override).model, 10, 10, 10)


# ---------------------------------------------------------------------------- run + transfer
@pytest.fixture(scope="module")
def bilm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bilm")
    lines = ["the cat sat on a mat . a dog ran to the red house . the dog sat on the mat ."] * 60
    (root / "text").mkdir()
    with gzip.open(root / "text" / "a.txt.gz", "wt") as stream:
        stream.write("\n".join(lines) + "\n")
    settings = BiLMSettings(
        max_steps=6,
        eval_every=3,
        heldout_every=10,
        heldout_tokens=60,
        batch_tokens=60,
        min_count=1,
        output_vocab=30,
        epochs=2,
    )
    run = root / "run"
    trainer = BiLMTrainer(_config(dropout=0.5), run, settings, [UnlabeledSource(root / "text")])
    result = trainer.train()
    assert result.steps == 6 and result.stopped_because == "max steps"
    return run


def test_run_directory_resume_and_perplexity(bilm_run: Path) -> None:
    record = json.loads((bilm_run / "bilm.json").read_text())
    assert record["data"]["train_tokens"] > 0 and record["data"]["heldout_tokens"] >= 60
    metrics = [json.loads(line) for line in (bilm_run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [0, 3, 6]
    assert set(metrics[0]["heldout_perplexity"]) == {"forward", "backward"}
    loaded = Tagger.load(bilm_run / "model")  # a head-less tagger directory
    assert loaded.tags == {} and loaded.meta["kind"] == "bilm"
    with pytest.raises(BionerError, match="--resume"):
        BiLMTrainer(_config(), bilm_run, BiLMSettings(), []).train()
    # Resuming with another model config says which settings differ and what to give.
    with pytest.raises(BionerError) as refused:
        BiLMTrainer(_config(), bilm_run, BiLMSettings(), []).train(resume=True)
    assert "differs in model.embedder.dropout" in str(refused.value)
    assert "CONFIG and --set values it was started with" in str(refused.value)
    resumed = BiLMTrainer(
        _config(dropout=0.5), bilm_run, BiLMSettings(max_steps=9, eval_every=3), []
    )
    result = resumed.train(resume=True)
    assert result.steps == 9
    steps = [json.loads(x)["step"] for x in (bilm_run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 3, 6, 9]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("step", "6", "'step' must be a whole number, got \"6\""),
        ("buffer", -1, "'buffer' must be at least 0, got -1"),
        ("stopper", None, "'stopper' must be an object, got null"),
        ("initial_perplexity", [1.0], "'initial_perplexity' must be an object or null"),
    ],
)
def test_resume_from_a_damaged_run_state_names_the_file_and_key(
    bilm_run: Path, tmp_path: Path, key: str, value: Any, problem: str
) -> None:
    """The BiLM's checkpointed state was used unchecked: a string step failed as a TypeError
    mid-run, a negative buffer silently resumed at the wrong place."""
    run = tmp_path / "run"
    shutil.copytree(bilm_run, run)
    path = run / "checkpoint" / "last" / "trainer_state.json"
    state = json.loads(path.read_text())
    state[key] = value
    path.write_text(json.dumps(state))
    trainer = BiLMTrainer(_config(dropout=0.5), run, BiLMSettings(max_steps=9, eval_every=3), [])
    with pytest.raises(BionerError) as error:
        trainer.train(resume=True)
    assert str(error.value).startswith(f"{path}: {problem}"), str(error.value)


def _training_docs() -> dict[str, list[Document]]:
    sentences = [["the", "cat", "sat", "on", "a", "mat", "."], ["a", "dog", "ran", "."]]
    tags = [["O", "B-Animal", "O", "O", "O", "O", "O"], ["O", "B-Animal", "O", "O"]]
    docs = [
        Document.from_tokens(f"d{i}", [s], [t])
        for i, (s, t) in enumerate(zip(sentences, tags, strict=True))
    ]
    return {"default": docs * 3}


def test_transfer_copies_exactly_the_non_decoder_weights(bilm_run: Path, tmp_path: Path) -> None:
    source = Tagger.load(bilm_run / "model")
    source_state = source.model.state_dict()
    training = _training_docs()
    tagger = tagger_from_pretrained(bilm_run, _config(), training)
    target_state = tagger.model.state_dict()
    shared = [k for k in target_state if not k.startswith("heads.")]
    assert set(shared) == set(source_state)
    for key in shared:
        rows = source_state[key].shape[0] if source_state[key].dim() else None
        assert torch.equal(target_state[key][:rows], source_state[key]), key
    assert any(k.startswith("heads.default.") for k in target_state)
    assert tagger.words.items[: len(source.words)] == source.words.items
    # ...and the tagger trains.
    result = Trainer(tagger, training, training, tmp_path / "ner", show_progress=False).train()
    assert result.epochs_run == 1
    assert Tagger.load(tmp_path / "ner" / "model").tags["default"][0] == "O"


@pytest.mark.parametrize("kept", ["forward", "backward"])
def test_single_direction_transfer_reinitialises_the_other(bilm_run: Path, kept: str) -> None:
    source_state = Tagger.load(bilm_run / "model").model.state_dict()
    tagger = tagger_from_pretrained(bilm_run, _config(), _training_docs(), directions=kept)
    state = tagger.model.state_dict()
    dropped = "backward" if kept == "forward" else "forward"
    for key in lstm_direction_keys(tagger.model, kept):
        assert torch.equal(state[key], source_state[key]), key
    for key in lstm_direction_keys(tagger.model, dropped):
        assert not torch.equal(state[key], source_state[key]), key
    assert torch.equal(
        state["embedder.word.embedding.weight"][
            : source_state["embedder.word.embedding.weight"].shape[0]
        ],
        source_state["embedder.word.embedding.weight"],
    )
    assert tagger.meta["init_directions"] == kept
