"""`bioner tune`: a search space file, two tiny trials in SQLite, resuming the study (including a
trial left running by a killed process), and the best parameters written as JSON and config."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from bioner.config import load_config
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.experiments.tune import as_overrides, load_space, suggest
from test_multitask import GENES, one_type_corpus

SPACE = """
[params."model.encoder.hidden"]
choices = [4, 8]

[params."model.embedder.char.widths"]
choices = [3, 5]
as_list = true

[params."training.optimizer"]
choices = ["sgd", "adam"]

[params."training.optimizer".when.sgd]
"training.momentum" = 0.9
"training.nesterov" = true
"""


def tiny_corpus(tmp_path: Path, sentences: int = 12, train: int = 8) -> Path:
    """A one-type CoNLL corpus folder with train and devel splits."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    documents = one_type_corpus("Gene", GENES, sentences, 5)
    write_documents(documents[:train], corpus / "train.tsv", "conll")
    write_documents(documents[train:], corpus / "devel.tsv", "conll")
    return corpus


def test_space_file_maps_trials_onto_config_overrides(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    space = load_space(path)
    trial = optuna.trial.FixedTrial(
        {"model.encoder.hidden": 8, "model.embedder.char.widths": 5, "training.optimizer": "sgd"}
    )
    values = suggest(trial, space)
    assert values["model.embedder.char.widths"] == [5]
    assert values["training.nesterov"] is True
    config = load_config("ma-hovy", as_overrides(values))
    assert config.training.optimizer == "sgd" and config.model.embedder.char.widths == [5]
    bad = tmp_path / "bad.toml"
    bad.write_text('[params."data.corpus"]\nchoices = ["x"]\n')
    with pytest.raises(BionerError, match="cannot be tuned"):
        load_space(bad)


def test_tune_runs_two_trials_in_sqlite_and_resumes(tmp_path: Path) -> None:
    corpus = tiny_corpus(tmp_path)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    storage = tmp_path / "study.sqlite"
    out = tmp_path / "tune"
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    args = [
        "tune",
        "ma-hovy",
        "--corpus",
        str(corpus),
        "--space",
        str(space),
        "--storage",
        str(storage),
        "-o",
        str(out),
        "--epochs",
        "2",
        "--quiet",
        "--threads",
        "1",
        "--set",
        "model.embedder.word.dim=8",
        "--set",
        "model.embedder.char.filters=[4]",
        "--set",
        "training.batch_size=4",
    ]
    result = CliRunner().invoke(app.app, [*args, "--trials", "2"])
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{storage}"
    study = optuna.load_study(study_name="bioner", storage=url)
    assert len(study.trials) == 2
    best = json.loads((out / "best_params.json").read_text())
    assert best["best_dev_f1"] == study.best_value
    config = load_config(out / "best_config.json")
    assert config.data.corpus == str(corpus)
    assert config.model.encoder.hidden == best["params"]["model.encoder.hidden"]

    # A trial left running by a killed process is failed and its parameters queued again.
    stale = study.ask()
    stale_params = {
        "model.encoder.hidden": stale.suggest_categorical("model.encoder.hidden", [4, 8]),
        "model.embedder.char.widths": stale.suggest_categorical(
            "model.embedder.char.widths", [3, 5]
        ),
        "training.optimizer": stale.suggest_categorical("training.optimizer", ["sgd", "adam"]),
    }
    result = CliRunner().invoke(app.app, [*args, "--trials", "3"])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="bioner", storage=url)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    finished = [t for t in study.trials if t.state.is_finished() and t.number != stale.number]
    assert len([t for t in finished if t.state != optuna.trial.TrialState.FAIL]) == 3
    assert study.trials[-1].params == stale_params  # the interrupted trial was rerun


def test_tune_with_init_from_starts_every_trial_from_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trials are built from the source's weights (its sizes, not the config's), the tuned
    dropout still applies, and best_params.json says which start the result needs."""
    import bioner.pretraining.bilm_transfer as bilm_transfer
    from bioner.experiments.tune import TuneSettings, run_study
    from bioner.tagger import Tagger
    from test_tagger import small_config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    documents = one_type_corpus("Gene", GENES, 12, 5)
    write_documents(documents[:8], corpus / "train.tsv", "conll")
    write_documents(documents[8:], corpus / "devel.tsv", "conll")
    source_config = small_config(epochs=1, num_threads=1)
    source_config.model.encoder.hidden = 6
    Tagger.build(source_config, {"default": documents[:8]}).save(tmp_path / "source")
    space = tmp_path / "space.toml"
    space.write_text('[params."model.encoder.output_dropout"]\nchoices = [0.15, 0.35]\n')
    built: list[Tagger] = []
    real = bilm_transfer.tagger_from_pretrained

    def recording(*args: object, **kwargs: object) -> Tagger:
        tagger = real(*args, **kwargs)  # type: ignore[arg-type]
        built.append(tagger)
        return tagger

    monkeypatch.setattr(bilm_transfer, "tagger_from_pretrained", recording)
    summary = run_study(
        TuneSettings(
            config="ma-hovy",
            corpus=str(corpus),
            space=str(space),
            trials=2,
            storage=tmp_path / "study.sqlite",
            output=tmp_path / "tune",
            overrides=["model.embedder.word.dim=8", "model.encoder.hidden=4"],
            epochs=1,
            threads=1,
            quiet=True,
            init_from=str(tmp_path / "source"),
            init_directions="backward",
        )
    )
    assert len(built) == 2
    assert all(t.config.model.encoder.hidden == 6 for t in built)  # the source's size
    assert {t.config.model.encoder.output_dropout for t in built} <= {0.15, 0.35}
    assert all(t.meta["init_directions"] == "backward" for t in built)
    written = json.loads((tmp_path / "tune" / "best_params.json").read_text())
    assert written["init_from"] == str(tmp_path / "source") == summary["init_from"]
    assert written["init_directions"] == "backward"


def test_tune_rejects_a_bad_start_before_any_study_exists(tmp_path: Path) -> None:
    from bioner.experiments.tune import TuneSettings, run_study

    space = tmp_path / "space.toml"
    space.write_text('[params."model.encoder.output_dropout"]\nchoices = [0.15]\n')
    settings = TuneSettings(
        config="ma-hovy",
        corpus=str(tmp_path / "corpus"),
        space=str(space),
        trials=1,
        storage=tmp_path / "study.sqlite",
        output=tmp_path / "tune",
        init_from=str(tmp_path),
        init_directions="sideways",
    )
    with pytest.raises(BionerError, match="--init-directions must be one of"):
        run_study(settings)
    assert not settings.storage.exists()


def test_a_storage_that_is_not_sqlite_is_refused_before_any_trial(tmp_path: Path) -> None:
    """A --storage naming some other file failed deep inside SQLAlchemy with a traceback."""
    corpus = tiny_corpus(tmp_path, sentences=6, train=4)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a study\n")
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    args = ["tune", "ma-hovy", "--corpus", str(corpus), "--space", str(space)]
    result = CliRunner().invoke(app.app, [*args, "--storage", str(notes), "-o", str(tmp_path)])
    assert isinstance(result.exception, BionerError)
    assert f"{notes}: not an SQLite database" in str(result.exception)
    assert notes.read_text() == "my notes, not a study\n"
    result = CliRunner().invoke(app.app, [*args, "--storage", str(tmp_path / "s"), "-o", notes])
    assert isinstance(result.exception, BionerError)
    assert "--output must be a folder" in str(result.exception)


def test_a_killed_trial_is_queued_again_and_its_run_folder_removed(tmp_path: Path) -> None:
    """A trial left RUNNING (its process was killed) becomes FAIL, its parameters are queued
    for the next run, and its half-trained folder does not stay behind."""
    from optuna.trial import TrialState

    from bioner.experiments.tune import _recover_interrupted

    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'study.sqlite'}", direction="maximize"
    )
    killed = study.ask()
    killed.suggest_float("training.learning_rate", 1e-4, 1e-2)
    leftover = tmp_path / "trials" / f"trial-{killed.number}"
    (leftover / "checkpoint").mkdir(parents=True)
    _recover_interrupted(study, tmp_path / "trials")
    assert not leftover.exists()
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state is TrialState.FAIL
    assert trials[1].state is TrialState.WAITING
    assert trials[1].system_attrs["fixed_params"] == trials[0].params
