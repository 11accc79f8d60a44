"""Character LMs: vocabulary, held-out selection, learning (BPC falls on repetitive text),
bit-identical resume, LM files, the backward stream, and the `pretrain charlm` command."""

from __future__ import annotations

import gzip
import importlib
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
from safetensors.torch import load_file
from typer.testing import CliRunner

from bioner.errors import BionerError
from bioner.pretraining.charlm import (
    READING_STAGE,
    CharLM,
    CharLMSpec,
    CharLMTrainingConfig,
    CharVocabulary,
    bits_per_character,
    load_charlm,
    prepare_text,
    read_text_splits,
    save_charlm,
    stream_ids,
    stream_rows,
    train_charlm,
    write_text_splits,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny LSTMs run fastest on one thread (and the CPU is shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_documents(count: int) -> list[str]:
    """Distinct but highly repetitive documents (so a tiny LM can learn them fast)."""
    return [f"doc {i}: the cat sat on the mat and the dog ran home. " * 2 for i in range(count)]


def toy_splits(max_chars: int = 12_000):
    return prepare_text(
        [("toy", toy_documents(600), None)], max_chars, heldout_chars=1000, heldout_fraction=0.1
    )


def tiny_config(**overrides: object) -> CharLMTrainingConfig:
    settings: dict[str, object] = {
        "hidden": 24,
        "embedding_dim": 8,
        "seq_len": 20,
        "batch_size": 4,
        "max_chars": 12_000,
        "heldout_chars": 1000,
        "heldout_fraction": 0.1,
        "eval_rows": 2,
        "eval_every": 40,
        "checkpoint_every": 7,
        "device": "cpu",
        "num_threads": 1,
        "sources": ["toy"],
    }
    settings.update(overrides)
    return CharLMTrainingConfig(**settings)


def test_vocabulary_maps_rare_characters_to_unk_and_round_trips() -> None:
    vocabulary = CharVocabulary.from_text("aaabbbccxy€€€", min_count=3)
    assert vocabulary.items[0] == "<unk>"
    assert {"a", "b", "€", " ", "\n"} <= set(vocabulary.items) and "x" not in vocabulary.items
    ids = vocabulary.encode("abx€\n")
    assert ids.tolist() == [vocabulary.index.get(c, 0) for c in "abx€\n"]
    assert ids[2] == 0
    again = CharVocabulary.from_json(json.loads(json.dumps(vocabulary.to_json())))
    assert again.items == vocabulary.items


def test_held_out_documents_never_reach_training_and_do_not_depend_on_the_budget() -> None:
    small, large = toy_splits(5_000), toy_splits(20_000)
    assert small.valid == large.valid and small.test == large.test
    held_out = set(large.valid.split("\n")[1:]) | set(large.test.split("\n")[1:])
    training = set(large.train.split("\n")[1:])
    assert held_out and not (held_out & training)
    assert len(large.train) == 20_000 and large.train.startswith("\n")


def test_sources_are_interleaved_by_characters() -> None:
    long_docs = [f"long {i} " + "x" * 500 for i in range(200)]
    short_docs = [f"short {i} y" for i in range(2000)]
    splits = prepare_text(
        [("long", long_docs, None), ("short", short_docs, str.upper)],
        10_000,
        heldout_chars=1000,
        heldout_fraction=0.2,
    )
    per_source = splits.stats["sources"]
    assert abs(per_source["long"]["train_chars"] - per_source["short"]["train_chars"]) < 1200
    assert "SHORT" in splits.train and "short" not in splits.train  # transform applied


def test_backward_stream_is_the_reversed_forward_stream() -> None:
    vocabulary = CharVocabulary("abc\n ")
    forward = stream_ids("\nab c", vocabulary, "forward")
    backward = stream_ids("\nab c", vocabulary, "backward")
    assert backward.tolist() == forward[::-1].tolist()
    assert stream_rows(forward, 2).shape == (2, 2)


def test_bits_per_character_fall_on_repetitive_text(tmp_path: Path) -> None:
    splits = toy_splits()
    config = tiny_config(epochs=1)
    chars = CharVocabulary.from_text(splits.train, config.min_char_count)
    torch.manual_seed(0)
    untrained = CharLM(CharLMSpec(num_chars=len(chars), embedding_dim=8, hidden=24))
    valid = stream_rows(stream_ids(splits.valid, chars, "forward"), 2)
    before = bits_per_character(untrained, valid, 20)
    assert before > 0.8 * math.log2(len(chars))
    summary = train_charlm(config, tmp_path / "lm", show_progress=False, splits=splits)
    assert summary["valid_bpc"] < 0.5 * before
    assert summary["test_bpc"] < 0.5 * before
    history = summary["history"]
    assert history[-1]["valid_bpc"] < history[0]["valid_bpc"]
    written = json.loads((tmp_path / "lm" / "metrics.json").read_text())
    assert written["test_bpc"] == summary["test_bpc"]
    loaded = load_charlm(tmp_path / "lm")
    assert loaded.chars.items == chars.items and loaded.lm.spec.hidden == 24


def test_resumed_training_is_bit_identical(tmp_path: Path) -> None:
    splits = toy_splits(6_000)
    settings = {"epochs": 2, "eval_every": 10, "anneal_patience": 0, "anneal_factor": 0.5}
    whole = train_charlm(
        tiny_config(**settings), tmp_path / "whole", show_progress=False, splits=splits
    )
    with pytest.raises(BionerError, match="resume"):
        train_charlm(tiny_config(**settings), tmp_path / "whole", splits=splits)
    part = tiny_config(**settings, max_steps=23)  # mid-epoch, not on a checkpoint boundary
    first = train_charlm(part, tmp_path / "split", show_progress=False, splits=splits)
    assert first["steps"] == 23 and not first["finished"]
    rest = train_charlm(
        tiny_config(**settings), tmp_path / "split", resume=True, show_progress=False, splits=splits
    )
    assert rest["steps"] == whole["steps"] and rest["finished"]
    a = load_file(str(tmp_path / "whole" / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "checkpoints" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["valid_bpc"] for r in rest["history"]] == [r["valid_bpc"] for r in whole["history"]]
    # Resuming a finished run answers with its summary without reading any text again.
    # The source may be named by another path to the same folder.
    same_source = tiny_config(**settings, sources=["./toy"])
    again = train_charlm(same_source, tmp_path / "split", resume=True, splits=None)
    assert again == json.loads((tmp_path / "split" / "metrics.json").read_text())
    with pytest.raises(BionerError, match="cannot be extended"):
        train_charlm(tiny_config(**settings | {"epochs": 3}), tmp_path / "split", resume=True)
    with pytest.raises(BionerError, match="other settings"):
        train_charlm(
            tiny_config(**settings, hidden=30), tmp_path / "split", resume=True, splits=splits
        )


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run stopped (resumably) after 3 updates."""
    output = tmp_path_factory.mktemp("charlm") / "run"
    train_charlm(tiny_config(max_steps=3), output, show_progress=False, splits=toy_splits(5_000))
    return output


@pytest.mark.parametrize(
    ("file", "damage", "problem"),
    [
        (
            "checkpoints/last/trainer_state.json",
            lambda state: {**state, "step": "3"},
            "'step' must be a whole number, got \"3\"",
        ),
        (
            "checkpoints/last/trainer_state.json",
            lambda state: {**state, "position": [60]},
            "'position' must be a whole number, got [60]",
        ),
        (
            "checkpoints/last/trainer_state.json",
            lambda state: {k: v for k, v in state.items() if k != "seconds"},
            "'seconds' is missing",
        ),
        (
            "checkpoints/last/trainer_state.json",
            lambda state: {**state, "best_valid_bpc": "4.4"},
            "'best_valid_bpc' must be a number or null, got \"4.4\"",
        ),
        ("metrics.json", lambda summary: [summary], "expected a JSON object, got [{"),
        (
            "metrics.json",
            lambda summary: {**summary, "finished": True, "epochs_completed": "1"},
            "'epochs_completed' must be a whole number, got \"1\"",
        ),
        (
            "config.json",
            lambda config: {**config, "hidden": "four"},
            "'hidden': Input should be a valid integer",
        ),
        (
            "chars.json",
            lambda chars: dict.fromkeys(chars, 1),
            "the character LM's characters must be a JSON list of strings",
        ),
    ],
)
def test_resume_from_damaged_run_files_names_the_file_and_key(
    stopped_run: Path,
    tmp_path: Path,
    file: str,
    damage: Callable[[Any], Any],  # the file's JSON value → its damaged copy
    problem: str,
) -> None:
    """The run's JSON files were used unchecked on resume: a damaged one failed as a TypeError,
    KeyError, AttributeError or pydantic traceback, or (characters) as weights that misfit."""
    output = tmp_path / "run"
    shutil.copytree(stopped_run, output)
    path = output / file
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    with pytest.raises(BionerError) as error:
        train_charlm(
            tiny_config(max_steps=5),
            output,
            resume=True,
            show_progress=False,
            splits=toy_splits(5_000),
        )
    assert str(error.value).startswith(f"{path}: {problem}"), str(error.value)


def test_a_time_budget_stops_resumably_and_keeps_the_last_updates(tmp_path: Path) -> None:
    splits = toy_splits(6_000)
    settings = {"epochs": 2, "eval_every": 10}
    # A budget that has run out after the first update: one update, validated, then stop.
    first = train_charlm(
        tiny_config(**settings, max_minutes=1e-9),
        tmp_path / "lm",
        show_progress=False,
        splits=splits,
    )
    assert first["steps"] == 1 and not first["finished"] and first["best_step"] == 1
    assert [r["step"] for r in first["history"]] == [1]
    # The budget is per invocation and not part of the run's identity: resuming without it
    # finishes the run.
    rest = train_charlm(
        tiny_config(**settings), tmp_path / "lm", resume=True, show_progress=False, splits=splits
    )
    assert rest["finished"] and rest["steps"] > 1


def test_prepared_text_round_trips_and_damage_is_named(tmp_path: Path) -> None:
    splits = toy_splits(5_000)
    write_text_splits(splits, tmp_path / "text")
    again = read_text_splits(tmp_path / "text")
    assert (again.train, again.valid, again.test) == (splits.train, splits.valid, splits.test)
    assert again.stats == json.loads(json.dumps(splits.stats))
    (tmp_path / "text" / "valid.txt.xz").write_bytes(b"not xz")
    with pytest.raises(BionerError, match=r"valid\.txt\.xz: not xz"):
        read_text_splits(tmp_path / "text")
    write_text_splits(splits, tmp_path / "text")
    (tmp_path / "text" / "test.txt.xz").unlink()
    with pytest.raises(BionerError, match=r"test\.txt\.xz: missing"):
        read_text_splits(tmp_path / "text")
    write_text_splits(splits, tmp_path / "text")
    (tmp_path / "text" / "stats.json").write_text("[]")  # was an AttributeError in training
    with pytest.raises(BionerError, match=r"stats\.json: expected a JSON object, got \[\]"):
        read_text_splits(tmp_path / "text")


def test_lm_file_round_trip_and_rejects_other_files(tmp_path: Path) -> None:
    chars = CharVocabulary("ab \n")
    lm = CharLM(CharLMSpec(num_chars=len(chars), hidden=5, direction="backward"))
    save_charlm(tmp_path / "b.safetensors", lm, chars, {"note": "x"})
    loaded = load_charlm(tmp_path / "b.safetensors")
    assert loaded.metadata == {"note": "x"} and loaded.lm.spec.direction == "backward"
    for key, value in lm.state_dict().items():
        assert torch.equal(loaded.lm.state_dict()[key], value)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BionerError):
        load_charlm(tmp_path / "junk.safetensors")
    with pytest.raises(BionerError, match="no character LM"):
        load_charlm(tmp_path / "missing")


def test_pretrain_charlm_command_trains_from_a_text_folder(tmp_path: Path) -> None:
    from bioner.cli.pretrain_charlm import charlm_command

    folder = tmp_path / "texts"
    folder.mkdir()
    with gzip.open(folder / "docs.txt.gz", "wt", encoding="utf-8") as stream:
        stream.writelines(line + "\n" for line in toy_documents(400))
    app = typer.Typer()
    app.command()(charlm_command)
    result = CliRunner().invoke(
        app,
        [
            str(tmp_path / "out"),
            "--direction", "backward", "--sources", str(folder), "--hidden", "8",
            "--embedding-dim", "4", "--seq-len", "16", "--batch", "4", "--max-chars", "3000",
            "--heldout-chars", "1000", "--heldout-fraction", "0.1", "--max-steps", "5",
            "--device", "cpu", "--threads", "1", "--quiet", "--raw",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["direction"] == "backward" and summary["steps"] == 5
    assert load_charlm(tmp_path / "out").lm.spec.direction == "backward"
    # --max-minutes bounds one invocation: a spent budget stops after one more update.
    argv = [
        str(tmp_path / "out"),
        "--direction", "backward", "--sources", str(folder), "--hidden", "8",
        "--embedding-dim", "4", "--seq-len", "16", "--batch", "4", "--max-chars", "3000",
        "--heldout-chars", "1000", "--heldout-fraction", "0.1", "--max-steps", "50",
        "--device", "cpu", "--threads", "1", "--quiet", "--raw", "--resume",
        "--max-minutes", "1e-9",
    ]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["steps"] == 6 and not summary["finished"]


def test_pretrain_charlm_prepares_text_once_and_trains_from_it(tmp_path: Path) -> None:
    cli_app = importlib.import_module("bioner.cli.app")  # the package re-exports `app`

    cli_app._register_commands()
    app = cli_app.app

    def refused(result, message: str) -> bool:
        """A clear BionerError naming the problem (the entry point prints it, exit 2)."""
        return isinstance(result.exception, BionerError) and message in str(result.exception)

    folder = tmp_path / "texts"
    folder.mkdir()
    with gzip.open(folder / "docs.txt.gz", "wt", encoding="utf-8") as stream:
        stream.writelines(line + "\n" for line in toy_documents(400))
    budget = ["--max-chars", "3000", "--heldout-chars", "1000", "--heldout-fraction", "0.1"]
    prepare = ["pretrain", "charlm", str(tmp_path / "text"), "--prepare", "--sources",
               str(folder), *budget]  # fmt: skip
    result = CliRunner().invoke(app, prepare)
    assert result.exit_code == 0, result.output
    stored = read_text_splits(tmp_path / "text")
    assert 0 < stored.stats["train_chars"] <= 3000 and stored.valid and stored.test
    # Preparing into the same folder again would overwrite it: refused, nothing touched.
    before = (tmp_path / "text" / "train.txt.xz").read_bytes()
    result = CliRunner().invoke(app, prepare)
    assert refused(result, "holds prepared text already")
    assert (tmp_path / "text" / "train.txt.xz").read_bytes() == before

    train = ["pretrain", "charlm", str(tmp_path / "lm"), "--text", str(tmp_path / "text"),
             "--hidden", "8", "--embedding-dim", "4", "--seq-len", "16", "--batch", "4",
             "--max-steps", "3", "--device", "cpu", "--threads", "1", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, train)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "lm" / "metrics.json").read_text())
    assert summary["steps"] == 3
    assert summary["data"]["train_chars"] == stored.stats["train_chars"]
    saved = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert saved["prepared_text"] == str(tmp_path / "text") and saved["sources"] == []

    # The prepared text is part of the run's identity: resuming from other text is refused.
    other = ["pretrain", "charlm", str(tmp_path / "other"), "--prepare", "--sources",
             str(folder), "--max-chars", "2000", "--heldout-chars", "1000",
             "--heldout-fraction", "0.1"]  # fmt: skip
    assert CliRunner().invoke(app, other).exit_code == 0
    resumed = [*train[:4], str(tmp_path / "other"), *train[5:], "--resume"]
    result = CliRunner().invoke(app, resumed)
    assert refused(result, "prepared_text")

    fresh = [*train[:2], str(tmp_path / "lm2"), *train[3:4], str(tmp_path / "nowhere")]
    result = CliRunner().invoke(app, [*fresh, *train[5:]])
    assert refused(result, "train.txt.xz: missing")
    result = CliRunner().invoke(app, [*train, "--sources", str(folder)])
    assert refused(result, "without --prepare/--sources")


def test_reading_and_compressing_text_report_progress(tmp_path: Path) -> None:
    """The long steps before training (reading sources, xz-compressing the splits) report
    progress, ending at the training characters read and at all three splits."""
    calls: list[tuple[str, int, int | None]] = []
    splits = prepare_text(
        [("toy", toy_documents(600), None)],
        5_000,
        heldout_chars=1000,
        heldout_fraction=0.1,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    reading = [call for call in calls if call[0] == READING_STAGE]
    assert len(reading) >= 2 and reading[-1] == (READING_STAGE, len(splits.train), 5_000)
    assert [done for _, done, _ in reading] == sorted(done for _, done, _ in reading)
    calls.clear()
    write_text_splits(splits, tmp_path / "text", lambda *call: calls.append(call))
    assert calls[-1] == ("compressing splits", 3, 3) and len(calls) == 4
