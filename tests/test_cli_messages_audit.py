"""Messages found wrong by running the commands: each says what happened, and whose fault it is.

Checks that can fail: the `bioner train` banner counts the sentences the run trains on (it
ignored `training.max_train_sentences`); a bad key from `--set` is blamed on that `--set`,
with the full key as the hint, in every command that takes `--set` (it was blamed on the
preset); one run prints its F1 without a spread (it printed "± 0.00 ... over 1 runs"); an
`--ray-address` with no cluster names bioner's flag, not Ray's `--address`; a local Ray
started by bioner does not warn about token authentication.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.config import load_config
from bioner.errors import BionerError
from bioner.experiments.results import build_results
from bioner.experiments.tables import ComparisonRow, in_corpus_table, run_set_table
from test_cli_train import SMALL
from test_tagger import tiny_corpus, tiny_corpus_folder

cli_app = importlib.import_module("bioner.cli.app")


TYPO = "--set training.epoch=1: unknown key 'training.epoch' (did you mean 'training.epochs'?)"


def invoke(*args: str | Path):
    cli_app._register_commands()
    return CliRunner().invoke(cli_app.app, [str(a) for a in args])


def one_line(text: str) -> str:
    """Rich wraps console lines at 80 columns when not on a terminal."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_corpus_folder(tmp_path_factory.mktemp("corpus"))


# ---------------------------------------------------------------- 1. train banner
def test_train_banner_counts_the_sentences_trained_on(corpus: Path, tmp_path: Path) -> None:
    """`--set training.max_train_sentences=300` printed "on 5424 sentences" while
    summary.json said 300."""
    run = tmp_path / "run"
    result = invoke(
        "train", "saber-baseline", "--corpus", corpus, "-o", run, "--quiet", *SMALL,
        "--set", "training.max_train_sentences=3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train_sentences"] == 3
    total = sum(len(d.sentences) for d in tiny_corpus(10, 1))
    assert total > 3
    assert f"training saber-baseline on 3 of {total} sentences (dev" in one_line(result.output)


# ---------------------------------------------------------------- 2. --set typos
def test_a_set_typo_is_blamed_on_the_set_not_the_preset() -> None:
    with pytest.raises(BionerError) as typo:
        load_config("saber-baseline", ["training.epoch=1"])
    assert str(typo.value) == TYPO
    with pytest.raises(BionerError, match=r"^--set trainin\.epochs=1: unknown key 'trainin' "):
        load_config("saber-baseline", ["trainin.epochs=1"])
    with pytest.raises(BionerError, match=r"^--set training\.epochs=0: 'training\.epochs': "):
        load_config("saber-baseline", ["training.epochs=0"])
    with pytest.raises(BionerError, match=r"^--set 'bogus': expected section\.key=value$"):
        load_config("saber-baseline", ["bogus"])


def test_a_file_typo_is_blamed_on_the_file_and_a_clash_on_both(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text('extends = "saber-baseline"\n[training]\nepoch = 3\n', encoding="utf-8")
    with pytest.raises(BionerError) as both:
        load_config(config, ["model.encoder.hiden=4"])
    assert str(both.value) == (  # in the order of the config's sections
        "--set model.encoder.hiden=4: unknown key 'model.encoder.hiden' "
        "(did you mean 'model.encoder.hidden'?); "
        f"{config}: unknown key 'training.epoch' (did you mean 'training.epochs'?)"
    )
    # the preset sets batch_size, the --set adds batch_tokens: neither alone is wrong
    with pytest.raises(BionerError) as clash:
        load_config("saber-baseline", ["training.batch_tokens=500"])
    assert str(clash.value).startswith(
        "preset saber-baseline with --set training.batch_tokens=500: 'training': "
        "set exactly one of batch_size and batch_tokens"
    )


def test_every_command_with_set_blames_the_set(corpus: Path, tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text('[params."training.learning_rate"]\nchoices = [0.01]\n', encoding="utf-8")
    out = tmp_path / "out"
    commands = {
        "train": ["train", "saber-baseline", "--corpus", corpus, "-o", out],
        "tune": ["tune", "saber-baseline", "--corpus", corpus, "--space", space, "-o", out,
                 "--storage", tmp_path / "study.sqlite"],
        "cv": ["experiment", "cv", "saber-baseline", "--corpus", corpus, "-o", out],
        "ooc": ["experiment", "ooc", "saber-baseline", "--train", corpus, "--test", corpus,
                "-o", out],
        "bilm": ["pretrain", "bilm", "saber-baseline", out, "--sources", corpus],
    }  # fmt: skip
    for name, args in commands.items():
        result = invoke(*args, "--set", "training.epoch=1")
        assert isinstance(result.exception, BionerError), (name, result.output)
        assert str(result.exception) == TYPO, name
    assert not out.exists()


# ---------------------------------------------------------------- 3. one run
def record(run_id: str, f1: float) -> dict[str, object]:
    return {"run_id": run_id, "precision": f1, "recall": f1, "f1": f1, "best_epoch": 1}


def test_one_run_has_no_spread_in_table_and_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--seeds 1` printed "F1 84.12 ± 0.00 (mean ± sample sd, ddof = 1) over 1 runs": a
    sample sd of one value is undefined, not 0."""
    from bioner.cli.experiment import finish

    results = finish("ooc", "BL", [record("seed1", 0.8412)], {"mode": "right"}, tmp_path, None)
    console = one_line(capsys.readouterr().err)
    assert "BL: F1 84.12 (one run: no spread) →" in console
    assert "±" not in console and "over 1 runs" not in console
    table = (tmp_path / "table.md").read_text(encoding="utf-8")
    assert "F1 of the one run: **84.12** (one run: no spread)." in table
    assert "Mean F1 over 1 runs" not in table
    assert results["summary"]["n"] == 1

    from bioner.experiments.tables import f1_summary  # new with the fix

    runs = [record("seed1", 0.5), record("seed2", 0.6)]
    assert f1_summary(build_results("cv", "VD", runs, {}, "cmd")["summary"]) == (
        "55.00 ± 7.07 (mean ± sample sd, ddof = 1) over 2 runs"
    )
    with_baseline = build_results(
        "cv", "VD", runs, {}, "cmd", {"name": "BL", "runs": [record("seed1", 0.4)]}, "bl.json"
    )
    line = next(x for x in run_set_table(with_baseline).splitlines() if x.startswith("Baseline"))
    assert line.startswith("Baseline BL: 40.00 (n = 1); ")
    table = in_corpus_table([ComparisonRow("Disease", "NCBI", [0.4], [0.5, 0.6])])
    assert "| Disease | NCBI | 40.00 | – | 55.00 | 7.07 |" in table


# ---------------------------------------------------------------- 4. Ray
def test_no_cluster_at_ray_address_names_bioners_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's own advice was to set "the `--address` flag", which bioner does not have."""
    ray = pytest.importorskip("ray")
    from bioner.annotation.ray_engine import _start_ray

    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process")

    def init(**options: object) -> None:  # what Ray raises for `auto` without a cluster
        raise ConnectionError(
            "Could not find any running Ray instance. Please specify the one to connect to "
            "by setting `--address` flag or `RAY_ADDRESS` environment variable."
        )

    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(BionerError) as error:
        _start_ray("auto", 1)
    assert str(error.value) == (
        "--ray-address auto: no running Ray cluster found; start one with `ray start --head`, "
        "or leave out --ray-address to use a local Ray"
    )

    def other(**options: object) -> None:
        raise ConnectionError("Found multiple active Ray instances: {'a', 'b'}.\nYou can "
                              "override this by setting the `--address` flag.")  # fmt: skip

    monkeypatch.setattr(ray, "init", other)
    with pytest.raises(BionerError) as error:
        _start_ray("auto", 1)
    text = str(error.value)
    assert "\n" not in text and "`--address`" not in text
    assert text.endswith("You can override this by giving --ray-address.")


def test_a_local_ray_does_not_warn_about_token_authentication(tmp_path: Path) -> None:
    """A bioner-started local Ray printed Ray's "Token authentication is enabled ... Set
    RAY_AUTH_MODE=disabled to opt out" on every run; it keeps token authentication, quietly."""
    pytest.importorskip("ray")
    script = """
import sys
from bioner.annotation.ray_engine import annotate_ray
from bioner.data.document import Document
assert "ray" not in sys.modules  # Ray reads RAY_AUTH_MODE when it is first imported
import os
docs = list(annotate_ray("default", iter([Document(id="d", text="BRCA1 and asthma.")]),
                         workers=1))
import ray
print(os.environ["RAY_AUTH_MODE"], len(docs))
ray.shutdown()
"""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["token", "1"]
    assert "Token authentication" not in done.stderr
