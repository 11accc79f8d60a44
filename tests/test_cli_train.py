"""`bioner train`, `bioner predict` and `bioner evaluate --model` on a tiny CoNLL corpus."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.data.formats import read_documents
from test_tagger import tiny_corpus_folder

cli_app = importlib.import_module("bioner.cli.app")

SMALL = [
    "--set", "model.embedder.word.dim=16",
    "--set", "model.embedder.char.hidden=8",
    "--set", "model.encoder.hidden=16",
    "--set", "model.encoder.layers=1",
    "--set", "training.epochs=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_corpus_folder(tmp_path_factory.mktemp("corpus"))


def invoke(*args: str | Path):
    cli_app._register_commands()
    return CliRunner().invoke(cli_app.app, [str(a) for a in args])


def test_train_predict_evaluate(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = invoke("train", "saber-baseline", "--corpus", corpus, "-o", run, "--quiet", *SMALL)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and 0.0 <= summary["test"]["f1"] <= 1.0
    train_docs = list(read_documents(corpus / "train.tsv"))
    assert summary["train_sentences"] == sum(len(d.sentences) for d in train_docs)

    out = tmp_path / "pred.jsonl"
    result = invoke("predict", corpus / "test.tsv", "--model", run / "model", "-o", out)
    assert result.exit_code == 0, result.output
    predicted = list(read_documents(out))
    gold = list(read_documents(corpus / "test.tsv"))
    assert [d.text for d in predicted] == [d.text for d in gold]

    report = tmp_path / "scores.json"
    result = invoke("evaluate", "--model", run / "model", "--corpus", corpus, "--json", report)
    assert result.exit_code == 0, result.output
    scores = json.loads(report.read_text())
    assert scores["micro"]["tp"] + scores["micro"]["fn"] == sum(len(d.spans) for d in gold)

    # a second training run into the same folder is refused instead of overwriting it
    result = invoke("train", "saber-baseline", "--corpus", corpus, "-o", run, "--quiet", *SMALL)
    assert result.exit_code != 0
    assert "already holds a training run" in str(result.exception)


def test_predict_refuses_to_overwrite_its_input(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert (
        invoke(
            "train",
            "saber-baseline",
            "--corpus",
            corpus,
            "-o",
            run,
            "--quiet",
            *SMALL[:-2],
            "--set",
            "training.epochs=1",
        ).exit_code
        == 0
    )
    target = tmp_path / "input.tsv"
    target.write_bytes((corpus / "test.tsv").read_bytes())
    result = invoke("predict", target, "--model", run / "model", "-o", target, "--to", "conll")
    assert result.exit_code != 0
    assert "refusing to overwrite" in str(result.exception)
    assert target.read_bytes() == (corpus / "test.tsv").read_bytes()


def test_refit_without_dev_trains_on_train_and_devel_and_keeps_the_last_epoch(
    corpus: Path, tmp_path: Path
) -> None:
    run = tmp_path / "refit"
    epochs = ["--set", "training.epochs=3", "--set", "training.early_stopping_patience=1"]
    result = invoke(
        "train", "saber-baseline", "--corpus", corpus, "-o", run, "--quiet", "--no-dev",
        *SMALL[:-2], *epochs,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    # early stopping needs dev F1, so a refit runs every epoch and keeps the last
    assert summary["refit_without_dev"] is True and summary["best_dev_f1"] is None
    assert summary["epochs_run"] == 3 and summary["best_epoch"] == 3
    documents = [*read_documents(corpus / "train.tsv"), *read_documents(corpus / "devel.tsv")]
    assert summary["train_sentences"] == sum(len(d.sentences) for d in documents)
    meta = json.loads((run / "model" / "meta.json").read_text())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all("dev_f1" not in r for r in records)
    assert 0.0 <= summary["test"]["f1"] <= 1.0
    assert meta["selection"] == "last epoch" and meta["best_epoch"] == 3


def test_unusable_output_is_refused_before_the_corpus_is_read(corpus: Path, tmp_path: Path) -> None:
    """Each was found only after loading and encoding the corpora (here: never read), and an
    OUTPUT that was a file was a FileExistsError traceback; a run folder whose checkpoints
    were removed had its model silently replaced."""
    missing = tmp_path / "no-corpus"
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    result = invoke("train", "saber-baseline", "--corpus", missing, "-o", taken)
    assert "--output must be a folder" in str(result.exception)
    result = invoke(
        "train", "saber-baseline", "--corpus", missing, "-o", tmp_path / "new", "--resume"
    )
    assert "no checkpoint to resume from" in str(result.exception)
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    result = invoke("train", "saber-baseline", "--corpus", missing, "-o", run)
    assert "already holds a trained model" in str(result.exception)
    assert (run / "model" / "config.json").read_text() == "{}"


def test_errors_are_printed_verbatim_not_as_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message went through rich markup: `[params."key"]` vanished from a message, and
    a path such as `cfg[/x].toml` crashed the error report itself with a MarkupError."""
    config = tmp_path / "cfg[/x].toml"
    monkeypatch.setattr(sys, "argv", ["bioner", "train", str(config)])
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main()
    assert exit_info.value.code == 2
    assert f"error: {config}: cannot read config" in capsys.readouterr().err
