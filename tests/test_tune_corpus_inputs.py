"""Bad input to `bioner tune` and `bioner corpus convert` is one clear error before any work
starts (no traceback, no failed trial left in the study, no file replaced), and a tune run
stopped by Ctrl-C or SIGTERM resumes like a killed one."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from bioner.errors import BionerError
from bioner.experiments.tune import TuneSettings, load_space, run_study
from test_tune import tiny_corpus

TINY = ["model.embedder.word.dim=8", "model.embedder.char.filters=[4]", "training.batch_size=4"]
HIDDEN = '[params."model.encoder.hidden"]\nchoices = [4, 8]\n'


def _settings(tmp_path: Path, space: str, **changes: Any) -> TuneSettings:
    path = tmp_path / "space.toml"
    path.write_text(space)
    corpus = tmp_path / "corpus"
    values: dict[str, Any] = {
        "config": "ma-hovy",
        "corpus": str(corpus if corpus.is_dir() else tiny_corpus(tmp_path, 6, 4)),
        "space": str(path),
        "trials": 1,
        "storage": tmp_path / "study.sqlite",
        "output": tmp_path / "tune",
        "overrides": TINY,
        "epochs": 1,
        "threads": 1,
        "quiet": True,
    }
    return TuneSettings(**{**values, **changes})


def _states(storage: Path) -> list[str]:
    study = optuna.load_study(study_name="bioner", storage=f"sqlite:///{storage}")
    return [trial.state.name for trial in study.trials]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ('kind = "int"\nlow = 8\nhigh = 4', "'low' (8) is above 'high' (4)"),
        ('kind = "float"\nlow = -1.0\nhigh = 0.1\nlog = true', "a log scale needs 'low' above 0"),
        ('kind = "float"\nlow = "a"\nhigh = 0.1', "'low' must be a number, got 'a'"),
        ('kind = "int"\nlow = 1.5\nhigh = 4', "'low' must be an integer, got 1.5"),
        ('kind = "int"\nlow = 1\nhigh = 8\nstep = 0', "'step' must be above 0"),
        ("choices = 4", "categorical needs a non-empty 'choices' list"),
        ("choices = []", "categorical needs a non-empty 'choices' list"),
        ('choices = [4, 8]\nlog = "yes"', "'log' must be true or false"),
        ("choices = [4, 8]\nlow = 1", "apply to kind int or float"),
        ('choices = [4]\nwhen.5 = {"training.momentum" = 0.9}', "'when' names ['5']"),
    ],
)
def test_search_space_mistakes_are_named_before_any_trial(
    tmp_path: Path, spec: str, problem: str
) -> None:
    """These reached Optuna as a ValueError/TypeError traceback, or were silently rounded
    (a float bound or a zero step of an int) or ignored (`log` on choices, a `when` typo)."""
    path = tmp_path / "space.toml"
    path.write_text(f'[params."model.encoder.hidden"]\n{spec}\n')
    with pytest.raises(BionerError) as error:
        load_space(path)
    assert str(error.value).startswith(f"{path}: params.model.encoder.hidden: ")
    assert problem in str(error.value)


def test_search_space_file_that_is_not_utf8_or_has_other_tables(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_bytes(b'[params."model.encoder.hidden"]\nchoices = [4]\n# caf\xe9\n')
    with pytest.raises(BionerError, match=rf"^{path}, line 3: not valid UTF-8"):
        load_space(path)  # was a UnicodeDecodeError traceback
    path.write_text(HIDDEN + '[param."training.batch_size"]\nchoices = [4]\n')
    with pytest.raises(BionerError, match=r"unknown tables \['param'\]"):
        load_space(path)  # the misspelt table was silently not searched


@pytest.mark.parametrize(
    ("space", "problem"),
    [
        ('[params."model.encoder.hiden"]\nchoices = [4]\n', "unknown key 'model.encoder.hiden'"),
        ('[params."model.encoder.hidden"]\nchoices = ["big"]\n', "Input should be a valid integer"),
        (
            '[params."model.encoder.output_dropout"]\nkind = "float"\nlow = -0.5\nhigh = 0.1\n',
            "greater than or equal to 0",
        ),
        (
            '[params."training.optimizer"]\nchoices = ["sgd"]\n'
            '[params."training.optimizer".when.sgd]\n"training.momentom" = 0.9\n',
            "unknown key 'training.momentom'",
        ),
    ],
)
def test_space_values_are_checked_on_the_config_before_the_study_exists(
    tmp_path: Path, space: str, problem: str
) -> None:
    """They failed the first trial that sampled them (a traceback and a failed trial in the
    study), with a message that blamed the preset instead of the search space."""
    settings = _settings(tmp_path, space)
    with pytest.raises(BionerError) as error:
        run_study(settings)
    assert str(error.value).startswith(f"{settings.space}: params.")
    assert problem in str(error.value)
    assert "--set" not in str(error.value)  # the value came from the space, not from --set
    assert ": sampled " in str(error.value)
    assert not settings.storage.exists()


def test_an_empty_devel_file_is_reported_not_replaced_by_training_documents(
    tmp_path: Path,
) -> None:
    """Trials were silently scored on 10 % of train held out, as if there were no devel."""
    corpus = tiny_corpus(tmp_path, sentences=40, train=39)
    (corpus / "devel.tsv").write_text("")
    settings = _settings(tmp_path, HIDDEN)
    # Refused when the splits are loaded (training.data), before any trial, naming the file.
    with pytest.raises(BionerError, match=f"^{corpus / 'devel.tsv'}: the dev split holds no"):
        run_study(settings)
    assert not settings.storage.exists()


def test_an_sqlite_database_that_is_not_a_study_is_left_alone(tmp_path: Path) -> None:
    """Optuna added its tables to another program's database and ran the study in it."""
    settings = _settings(tmp_path, HIDDEN)
    other = tmp_path / "inventory.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE items (name TEXT)")
    before = other.read_bytes()
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    args = ["tune", "ma-hovy", "--corpus", settings.corpus, "--space", settings.space]
    result = CliRunner().invoke(app.app, [*args, "--storage", str(other), "-o", str(tmp_path)])
    assert isinstance(result.exception, BionerError)
    assert f"{other}: an SQLite database but not an Optuna study file" in str(result.exception)
    assert other.read_bytes() == before


def test_a_study_is_not_continued_with_other_settings(tmp_path: Path) -> None:
    """Another space failed inside Optuna with a traceback (or, with new keys, was mixed into
    the study), and other epochs or another corpus ranked trials scored differently."""
    settings = _settings(tmp_path, HIDDEN)
    run_study(settings)
    for changes in (
        {"space": '[params."model.encoder.hidden"]\nchoices = [16, 32]\n'},
        {"space": '[params."training.learning_rate"]\nkind = "float"\nlow = 0.001\nhigh = 0.01\n'},
        {"epochs": 2},
    ):
        space = changes.pop("space", HIDDEN)
        other = _settings(tmp_path, space, trials=2, **changes)
        with pytest.raises(BionerError, match="was run with other settings"):
            run_study(other)
    assert _states(settings.storage) == ["COMPLETE"]
    run_study(_settings(tmp_path, HIDDEN, trials=2, seed=3))  # the same settings continue it
    assert _states(settings.storage) == ["COMPLETE", "COMPLETE"]


@pytest.mark.parametrize("through", ["run_study", "cli"])
def test_an_interrupted_trial_is_queued_again_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    """Ctrl-C and SIGTERM reached Optuna, which logged a traceback and recorded the trial as
    failed, so the next run did not try its parameters again (a kill -9 did)."""
    from bioner.cli.app import TerminatedError
    from bioner.training.trainer import Trainer

    stop = KeyboardInterrupt if through == "run_study" else TerminatedError
    real = Trainer.train
    calls: list[int] = []

    def stopped_on_second(self: Trainer, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise stop
        return real(self, **kwargs)

    monkeypatch.setattr(Trainer, "train", stopped_on_second)
    settings = _settings(tmp_path, HIDDEN, trials=3)
    if through == "run_study":
        with pytest.raises(KeyboardInterrupt):
            run_study(settings)  # Ctrl-C is an interrupt by default
    else:  # the CLI's SIGTERM error, a BaseException that CliRunner does not catch either
        app = importlib.import_module("bioner.cli.app")
        app._register_commands()
        args = ["tune", "ma-hovy", "--corpus", settings.corpus, "--space", settings.space]
        args += ["--storage", str(settings.storage), "-o", str(settings.output), "--quiet"]
        args += ["--trials", "3", "--epochs", "1", "--threads", "1"]
        args += [part for override in TINY for part in ("--set", override)]
        with pytest.raises(TerminatedError):
            CliRunner().invoke(app.app, args)
    assert _states(settings.storage) == ["COMPLETE", "RUNNING"]
    study = optuna.load_study(study_name="bioner", storage=f"sqlite:///{settings.storage}")
    interrupted = study.trials[1].params
    summary = run_study(_settings(tmp_path, HIDDEN, trials=2))
    study = optuna.load_study(study_name="bioner", storage=f"sqlite:///{settings.storage}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert study.trials[2].params == interrupted
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert summary["best_dev_f1"] == max(t.value for t in complete)
    assert summary["trials"] == {"complete": 2, "pruned": 0, "fail": 1}


def test_convert_does_not_replace_an_existing_output(tmp_path: Path) -> None:
    """An existing file was silently replaced, and BRAT pairs were written among the pairs
    of another corpus (reading the folder then mixed both)."""
    from bioner.cli.corpus import app

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "BRCA1", "spans": []}\n')
    existing = tmp_path / "out.tsv"
    existing.write_text("keep me\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(existing), "--to", "conll"])
    assert isinstance(result.exception, BionerError)
    assert f"{existing}: exists already" in str(result.exception)
    assert existing.read_text() == "keep me\n"
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "old.ann").write_text("T1\tGene 0 5\tBRCA2\n")
    result = CliRunner().invoke(app, ["convert", str(source), str(folder), "--to", "brat"])
    assert isinstance(result.exception, BionerError)
    assert f"{folder}: the folder is not empty" in str(result.exception)
    assert sorted(p.name for p in folder.iterdir()) == ["old.ann"]
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder holds nothing to lose
    result = CliRunner().invoke(app, ["convert", str(source), str(empty), "--to", "brat"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in empty.iterdir()) == ["a.ann", "a.txt"]
