"""End-to-end tagger: every preset builds and trains, a tiny model learns a tiny corpus
perfectly, saving and loading changes nothing, and a resumed run equals an unbroken one."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from bioner.config import ExperimentConfig, load_config, preset_names
from bioner.data.document import Document
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.tagger import Tagger
from bioner.training.trainer import Trainer

GENES = ["BRCA1", "TP53", "IL-2", "NF-kappaB", "p53", "EGFR"]
DISEASES = ["breast cancer", "diabetes", "Parkinson disease", "asthma"]
FILLER = ["the", "patients", "with", "show", "increased", "levels", "of", "in", "and", "no"]


def tiny_corpus(count: int, seed: int) -> list[Document]:
    """Sentences mixing filler words with gene and disease mentions, tagged IOB2."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        words: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(2, 4)):
            for _ in range(rng.randint(1, 3)):
                words.append(rng.choice(FILLER))
                tags.append("O")
            kind, pool = rng.choice([("Gene", GENES), ("Disease", DISEASES)])
            mention = rng.choice(pool).split()
            words.extend(mention)
            tags.extend([f"B-{kind}"] + [f"I-{kind}"] * (len(mention) - 1))
        documents.append(Document.from_tokens(f"d{index}", [words], [tags]))
    return documents


def tiny_corpus_folder(folder: Path, count: int = 10) -> Path:
    """A corpus folder of `tiny_corpus` splits (train, devel, test; seeds 1-3) as CoNLL."""
    for split, seed in (("train", 1), ("devel", 2), ("test", 3)):
        write_documents(tiny_corpus(count, seed), folder / f"{split}.tsv", "conll")
    return folder


def small_config(**training: object) -> ExperimentConfig:
    config = load_config(
        "saber-baseline",
        [
            "model.embedder.word.dim=16",
            "model.embedder.char.char_dim=8",
            "model.embedder.char.hidden=8",
            "model.encoder.hidden=16",
            "model.encoder.layers=1",
            "model.embedder.dropout=0.0",
            "training.optimizer='adam'",
            "training.learning_rate=0.02",
            "training.batch_size=8",
            "training.epochs=30",
        ],
    )
    for key, value in training.items():
        setattr(config.training, key, value)
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tagger, list[Document], Path]:
    torch.manual_seed(0)
    documents = tiny_corpus(24, seed=1)
    tagger = Tagger.build(small_config(early_stopping_patience=2), {"default": documents})
    output = tmp_path_factory.mktemp("run")
    Trainer(
        tagger, {"default": documents}, {"default": documents}, output, show_progress=False
    ).train()
    return Tagger.load(output / "model"), documents, output


def test_tiny_model_learns_tiny_corpus_perfectly(trained) -> None:
    tagger, documents, output = trained
    predicted = tagger.predict_documents(documents)
    result = evaluate_documents(documents, predicted)
    assert result.micro.f1 == 1.0
    assert (output / "metrics.jsonl").exists() and (output / "learning_curve.png").exists()
    for tag in ("last", "best"):  # resumable checkpoints: model, optimizer, RNG, trainer state
        assert (output / "checkpoint" / tag / "trainer_state.json").is_file()
    assert json.loads((output / "model" / "meta.json").read_text())["dev_f1"] == 1.0


def test_predicted_offsets_point_at_the_mention_text(trained) -> None:
    tagger, documents, _ = trained
    for gold, predicted in zip(documents, tagger.predict_documents(documents), strict=True):
        assert [gold.span_text(s) for s in gold.sorted_spans()] == [
            predicted.span_text(s) for s in predicted.sorted_spans()
        ]
        assert all(0.0 < s.score <= 1.0 for s in predicted.spans)


def test_save_then_load_gives_bit_identical_predictions(trained, tmp_path: Path) -> None:
    tagger, documents, _ = trained
    before = tagger.predict_documents(documents)
    tagger.save(tmp_path / "copy")
    after = Tagger.load(tmp_path / "copy").predict_documents(documents)
    assert [d.spans for d in before] == [d.spans for d in after]  # offsets, labels and scores
    with pytest.raises(BionerError, match="refusing to overwrite"):
        tagger.save(tmp_path / "copy")


def test_model_directory_holds_no_pickle(trained) -> None:
    _, _, output = trained
    files = sorted(p.name for p in (output / "model").iterdir())
    assert files == ["config.json", "meta.json", "vocab.json", "weights.safetensors"]
    for path in (output / "model").iterdir():
        assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


def test_loading_a_damaged_model_is_a_clear_error(trained, tmp_path: Path) -> None:
    tagger, _, _ = trained
    tagger.save(tmp_path / "m")
    (tmp_path / "m" / "vocab.json").unlink()
    with pytest.raises(BionerError, match=r"missing vocab\.json"):
        Tagger.load(tmp_path / "m")
    with pytest.raises(BionerError, match="no model directory"):
        Tagger.load(tmp_path / "nowhere")


def _damage(model: Path, name: str, edit) -> None:
    """Rewrite one JSON file of a model directory with `edit(data)`."""
    path = model / name
    path.write_text(json.dumps(edit(json.loads(path.read_text(encoding="utf-8")))))


def _wider_encoder(config: dict) -> dict:
    config["model"]["encoder"]["hidden"] += 4
    return config


def _extra_tag(vocab: dict) -> dict:
    vocab["tags"]["default"].append("B-Extra")
    return vocab


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda m: (m / "config.json").write_text("{broken"),
            r"config\.json, line 1: invalid JSON",
        ),
        (
            lambda m: _damage(m, "config.json", _wider_encoder),
            r"weights\.safetensors: the weights do not fit config\.json",
        ),
        (lambda m: _damage(m, "vocab.json", lambda v: [v]), r"vocab\.json: expected a JSON object"),
        (lambda m: _damage(m, "vocab.json", lambda v: {**v, "words": 5}), r"vocab\.json: 'words'"),
        (
            lambda m: _damage(m, "vocab.json", lambda v: {**v, "tags": ["O"]}),
            r"vocab\.json: 'tags'",
        ),
        (
            lambda m: _damage(m, "vocab.json", lambda v: {**v, "tags": {"default": ["B-Gene"]}}),
            r"vocab\.json: tags of head 'default'",
        ),
        (lambda m: _damage(m, "vocab.json", _extra_tag), r"weights\.safetensors: .*expected \[\d+"),
        (lambda m: _damage(m, "meta.json", lambda v: [v]), r"meta\.json: expected a JSON object"),
        (lambda m: (m / "vocab.json").write_bytes(b"\xff{}"), r"vocab\.json: not valid UTF-8"),
        (
            lambda m: (m / "weights.safetensors").write_bytes(b"junk"),
            r"weights\.safetensors: not a",
        ),
        (lambda m: (m / "weights.safetensors").write_bytes(b""), r"weights\.safetensors: not a"),
    ],
)
def test_each_damaged_model_file_is_a_one_line_error_naming_it(
    trained, tmp_path: Path, damage, message: str
) -> None:
    """Wrong structures and misfitting weights were TypeErrors, AttributeErrors, safetensors
    errors or a many-line RuntimeError instead of one line naming the file; a meta.json that
    was not an object even loaded."""
    tagger, _, _ = trained
    model = tagger.save(tmp_path / "m")
    damage(model)
    with pytest.raises(BionerError, match=message) as error:
        Tagger.load(model)
    assert "\n" not in str(error.value)


def test_saved_model_files_are_readable_by_everyone(trained, tmp_path: Path) -> None:
    """safetensors writes its file 0600, so a model saved by one user could not be loaded by
    another (a shared group folder, a service account)."""
    tagger, _, _ = trained
    model = tagger.save(tmp_path / "m")
    for path in model.iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path.name


def test_model_files_are_utf8_whatever_the_locale(trained, tmp_path: Path) -> None:
    """Saving used the locale's encoding: under an ASCII locale a vocabulary with a Greek
    letter failed with UnicodeEncodeError (and another 8-bit locale wrote non-UTF-8 JSON)."""
    tagger, _, _ = trained
    source = tagger.save(tmp_path / "m")
    script = (
        "import sys; from bioner.tagger import Tagger; "
        "t = Tagger.load(sys.argv[1]); t.words.items.append('\\u03b1-synuclein'); "
        "t.meta['note'] = '\\u00b5g'; t.save(sys.argv[2])"  # ASCII: the command line is C too
    )
    env = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    target = tmp_path / "saved"
    done = subprocess.run(
        [sys.executable, "-c", script, str(source), str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert "α-synuclein" in (target / "vocab.json").read_text(encoding="utf-8")
    assert json.loads((target / "meta.json").read_text(encoding="utf-8"))["note"] == "µg"


def test_resumed_training_equals_uninterrupted_training(tmp_path: Path) -> None:
    documents = tiny_corpus(12, seed=3)

    def run(output: Path, epochs: int, resume: bool) -> dict[str, torch.Tensor]:
        torch.manual_seed(5)
        tagger = Tagger.build(small_config(epochs=epochs, batch_size=4), {"default": documents})
        Trainer(
            tagger, {"default": documents}, {"default": documents[:4]}, output, show_progress=False
        ).train(resume=resume)
        return tagger.model.state_dict()

    straight = run(tmp_path / "straight", 4, resume=False)
    run(tmp_path / "broken", 2, resume=False)
    resumed = run(tmp_path / "broken", 4, resume=True)
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    lines = (tmp_path / "broken" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def _stopped_run(output: Path, epochs: int) -> Trainer:
    """A trainer with an annealer and early stopping over the tiny corpus (both are in the
    trainer state), writing into `output`."""
    torch.manual_seed(5)
    documents = tiny_corpus(8, seed=3)
    config = small_config(epochs=epochs, anneal_factor=0.5, early_stopping_patience=3)
    tagger = Tagger.build(config, {"default": documents})
    return Trainer(
        tagger, {"default": documents}, {"default": documents[:2]}, output, show_progress=False
    )


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("damaged") / "run"
    _stopped_run(output, 1).train()
    return output


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda state: state.update(step="1"), "'step' must be a whole number, got \"1\""),
        (lambda state: state.update(step=-1), "'step' must be at least 0, got -1"),
        (lambda state: state.pop("epoch"), "'epoch' is missing"),
        (lambda state: state.update(best_f1=None), "'best_f1' must be a number, got null"),
        (lambda state: state.update(history={}), "'history' must be a list, got {}"),
        (lambda state: state.update(settings=[]), "'settings' must be an object, got []"),
        (lambda state: state.update(annealer=[]), "'annealer' must be an object, got []"),
        (lambda state: state["annealer"].pop("num_anneals"), "'annealer.num_anneals' is missing"),
        (
            lambda state: state["stopper"].update(best_epoch="one"),
            "'stopper.best_epoch' must be a whole number or null, got \"one\"",
        ),
    ],
)
def test_resume_from_a_damaged_trainer_state_names_the_file_and_key(
    one_epoch_run: Path, tmp_path: Path, damage: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    """Values of trainer_state.json went into arithmetic unchecked: a damaged file failed as a
    TypeError, KeyError or AttributeError traceback (or resumed from a negative step)."""
    output = tmp_path / "run"
    shutil.copytree(one_epoch_run, output)
    path = output / "checkpoint" / "last" / "trainer_state.json"
    state = json.loads(path.read_text())
    damage(state)
    path.write_text(json.dumps(state))
    with pytest.raises(BionerError) as error:
        _stopped_run(output, 2).train(resume=True)
    assert str(error.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"learning_rate": 0.5}, "training.learning_rate 0.02 → 0.5"),  # was silently ignored
        ({"optimizer": "sgd"}, "training.optimizer 'adam' → 'sgd'"),  # was a KeyError at step 1
    ],
)
def test_resume_refuses_other_settings_but_allows_more_epochs(
    tmp_path: Path, change: dict, named: str
) -> None:
    """The optimizer state restores the old learning rate and update rule, so a resumed run
    with other settings silently kept the old ones (or crashed); only the epoch count and
    where the run executes may change."""
    documents = tiny_corpus(6, seed=3)

    def trainer(**training: object) -> Trainer:
        tagger = Tagger.build(small_config(epochs=1, batch_size=4), {"default": documents})
        for key, value in training.items():
            setattr(tagger.config.training, key, value)
        return Trainer(
            tagger, {"default": documents}, {"default": documents}, tmp_path, show_progress=False
        )

    trainer().train()
    with pytest.raises(BionerError, match=re.escape(named)):
        trainer(epochs=2, **change).train(resume=True)
    assert trainer(epochs=2, device="cpu").train(resume=True).epochs_run == 2


def test_initial_weights_follow_the_training_seed_only() -> None:
    documents = tiny_corpus(6, seed=1)

    def weights(seed: int, noise: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(noise)  # whatever the process drew before must not matter
        random.random()
        return Tagger.build(small_config(seed=seed), {"default": documents}).model.state_dict()

    first, again, other = weights(7, noise=1), weights(7, noise=2), weights(8, noise=1)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_a_second_run_into_the_same_folder_needs_resume(tmp_path: Path) -> None:
    documents = tiny_corpus(6, seed=4)
    config = small_config(epochs=1)
    Trainer(
        Tagger.build(config, {"default": documents}),
        {"default": documents},
        {"default": documents},
        tmp_path,
        show_progress=False,
    ).train()
    with pytest.raises(BionerError, match="already holds a training run"):
        Trainer(
            Tagger.build(config, {"default": documents}),
            {"default": documents},
            {"default": documents},
            tmp_path,
            show_progress=False,
        ).train()


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_builds_and_takes_a_training_step(preset: str) -> None:
    documents = tiny_corpus(6, seed=2)
    config = load_config(preset)
    tagger = Tagger.build(config, {"default": documents})
    sentences = tagger.encode(documents, "default")
    batch = next(iter(tagger.batches(sentences, batch_size=6)))
    tagger.model.train()
    loss = tagger.model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    trainable = [p for p in tagger.model.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable)
    predicted = tagger.predict_documents(documents)
    assert len(predicted) == len(documents)


def test_presets_select_the_papers_components() -> None:
    from bioner.models.embeddings.char_encoders import CharAttention, CharBiLSTM, CharCNN
    from bioner.models.encoders import BiLSTMEncoder, ResidualBiLSTMEncoder

    documents = tiny_corpus(4, seed=0)

    def model(preset: str):
        return Tagger.build(load_config(preset), {"default": documents}).model

    assert isinstance(model("saber-baseline").embedder.char, CharBiLSTM)
    sachan = model("sachan-cnn").embedder.char
    assert isinstance(sachan, CharCNN) and sachan.out_dim == 1100
    lyu = model("lyu-attention")
    assert isinstance(lyu.embedder.char, CharAttention) and lyu.embedder.window is not None
    assert lyu.hidden is not None
    deepvar = model("deepvar")
    assert isinstance(deepvar.encoder, ResidualBiLSTMEncoder)
    assert deepvar.embedder.char.embedding.embedding_dim == 70
    assert isinstance(model("saber-vd").encoder, BiLSTMEncoder)
    assert Tagger.build(load_config("lyu-attention"), {"default": documents}).tags["default"][
        :3
    ] == ["O", "B-Disease", "I-Disease"]


def test_frozen_word_vectors_do_not_change(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    words = sorted({w for w in FILLER + [g for g in GENES] + ["breast", "cancer"]})
    vectors.write_text(
        f"{len(words)} 4\n" + "".join(f"{w} 0.1 0.2 0.3 0.4\n" for w in words), encoding="utf-8"
    )
    documents = tiny_corpus(6, seed=7)
    config = small_config(epochs=2)
    config.model.embedder.word.vectors = str(vectors)
    config.model.embedder.word.freeze = True
    tagger = Tagger.build(config, {"default": documents})
    before = tagger.model.embedder.word.embedding.weight.detach().clone()
    assert before[tagger.words.id("the")].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    Trainer(
        tagger,
        {"default": documents},
        {"default": documents},
        tmp_path / "run",
        show_progress=False,
    ).train()
    assert torch.equal(before, tagger.model.embedder.word.embedding.weight)
    # the vectors' width (4) overrides the preset's dim (16), and a reload rebuilds it
    reloaded = Tagger.load(tmp_path / "run" / "model")
    assert reloaded.model.embedder.word.embedding.weight.shape[1] == 4


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nlr = 0.1\n")
    with pytest.raises(BionerError, match=r"bad\.toml.*'training\.lr'"):
        load_config(bad)
    with pytest.raises(BionerError, match=r"presets: .*saber-baseline"):
        load_config("no-such-preset")
    with pytest.raises(BionerError, match=r"model\.encoder\.layers"):
        load_config("saber-baseline", ["model.encoder.layers=0"])


def test_config_files_that_cannot_be_read_as_a_mapping_are_clear_errors(tmp_path: Path) -> None:
    """A JSON array and bad UTF-8 were tracebacks; a misspelt `extends` did not say which
    file named it."""
    listed = tmp_path / "listed.json"
    listed.write_text("[1, 2]")
    with pytest.raises(BionerError, match=r"listed\.json: a config must be a JSON object"):
        load_config(listed)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(BionerError, match=r"latin1\.toml: not valid UTF-8"):
        load_config(latin1)
    child = tmp_path / "child.toml"
    child.write_text('extends = "saber-basline"\n')
    with pytest.raises(BionerError, match=r"child\.toml: `extends` names .*'saber-basline'"):
        load_config(child)
