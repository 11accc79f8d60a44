"""`bioner pretrain`: bad input, unusable outputs and nonsense options are one clear error
(file, line, problem) before any training, and a user's file is never overwritten."""

from __future__ import annotations

import gzip
import importlib
import json
import lzma
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.config import load_config
from bioner.errors import BionerError, InputFormatError
from bioner.pretraining.bilm import MARKER, BiLMSettings, BiLMTrainer
from bioner.pretraining.charlm import read_text_splits
from bioner.pretraining.text_source import TokenStream, TrainingSplitSource, UnlabeledSource
from bioner.pretraining.word2vec import Word2VecSettings, train_word2vec

cli_app = importlib.import_module("bioner.cli.app")  # the package re-exports `app`

LINES = [f"the cat {i} sat on the mat and the dog ran home ." for i in range(60)]
TINY_BILM = [
    "model.embedder.word.dim=8",
    "model.embedder.char.char_dim=4",
    "model.embedder.char.widths=[1, 2]",
    "model.embedder.char.filters=[4, 4]",
    "model.encoder.hidden=8",
]


def _gz(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as stream:
        stream.write(data)
    return path


@pytest.fixture()
def text(tmp_path: Path) -> Path:
    """A folder of one-document-per-line text."""
    _gz(tmp_path / "text" / "a.txt.gz", ("\n".join(LINES) + "\n").encode())
    return tmp_path / "text"


def invoke(*args: str | Path):
    cli_app._register_commands()
    return CliRunner().invoke(cli_app.app, [str(a) for a in args])


def refused(result, message: str) -> bool:
    """A clear BionerError naming the problem (the entry point prints it, exit 2)."""
    return isinstance(result.exception, BionerError) and message in str(result.exception)


# ---------------------------------------------------------------------------- text sources
def test_text_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    """It was decoded with errors="replace": U+FFFD tokens were trained on in silence."""
    bad = _gz(tmp_path / "latin1" / "a.txt.gz", b"fine text\ncaf\xe9 au lait\n")
    with pytest.raises(InputFormatError) as error:
        list(UnlabeledSource(bad.parent).lines())
    assert str(error.value).startswith(f"{bad}, line 2: not valid UTF-8")


def test_damaged_gzip_is_a_read_error_naming_the_file(tmp_path: Path) -> None:
    whole = gzip.compress(("\n".join(LINES * 20) + "\n").encode())
    bad = tmp_path / "cut" / "a.txt.gz"
    bad.parent.mkdir()
    bad.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFormatError, match="cannot read the file") as error:
        list(UnlabeledSource(bad.parent).lines())
    assert error.value.path == str(bad)


@pytest.mark.parametrize("content", [b"", b"\n  \n\n"])
def test_empty_text_file_is_not_skipped_silently(text: Path, content: bytes) -> None:
    empty = _gz(text / "b.txt.gz", content)
    with pytest.raises(InputFormatError, match="no documents") as error:
        list(TokenStream([UnlabeledSource(text)]))
    assert error.value.path == str(empty)


def test_empty_training_split_is_not_skipped_silently(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.tsv").write_text("")
    (corpus / "devel.tsv").write_text("a\tO\n\n")
    with pytest.raises(InputFormatError, match="no sentences") as error:
        list(TokenStream([TrainingSplitSource(corpus)]))
    assert error.value.path == str(corpus / "train.tsv")


def test_bad_text_reaches_the_user_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _gz(tmp_path / "latin1" / "a.txt.gz", b"caf\xe9\n")
    argv = ["bioner", "pretrain", "word2vec", str(tmp_path / "v.txt"), "--sources",
            str(bad.parent), "--quiet"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    cli_app._register_commands()
    with pytest.raises(SystemExit) as exit_info:
        cli_app.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {bad}, line 1: not valid UTF-8" in err and "Traceback" not in err
    assert not (tmp_path / "v.txt").exists()


# ---------------------------------------------------------------------------- word2vec
W2V = ["--dim", "4", "--min-count", "1", "--epochs", "1", "--workers", "1", "--quiet"]


@pytest.mark.parametrize("name", ["vectors.txt", "vectors.txt.json"])
def test_word2vec_never_overwrites_an_existing_file(text: Path, tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("precious")
    result = invoke("pretrain", "word2vec", tmp_path / "vectors.txt", "--sources", text, *W2V)
    assert refused(result, f"{tmp_path / name} exists; refusing to overwrite it")
    assert (tmp_path / name).read_text() == "precious"


def test_word2vec_never_overwrites_its_own_input(text: Path) -> None:
    before = (text / "a.txt.gz").read_bytes()
    result = invoke("pretrain", "word2vec", text / "a.txt.gz", "--sources", text, *W2V)
    assert refused(result, "refusing to overwrite")
    assert (text / "a.txt.gz").read_bytes() == before


def test_word2vec_output_folder_is_refused_before_training(text: Path, tmp_path: Path) -> None:
    """It trained, then died on os.replace with IsADirectoryError."""
    (tmp_path / "folder").mkdir()
    result = invoke("pretrain", "word2vec", tmp_path / "folder", "--sources", text, *W2V)
    assert refused(result, "is a folder; give a file name")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--dim", "0", "--dim must be at least 1, got 0"),
        ("--window", "-1", "--window must be at least 1, got -1"),
        ("--workers", "0", "--workers must be at least 1, got 0"),  # trained nothing
        ("--seed", "-1", "--seed must be at least 0, got -1"),  # a numpy traceback
    ],
)
def test_word2vec_refuses_nonsense_options(
    text: Path, tmp_path: Path, option: str, value: str, message: str
) -> None:
    result = invoke(
        "pretrain", "word2vec", tmp_path / "v.txt", "--sources", text, *W2V, option, value
    )
    assert refused(result, message)
    assert not list(tmp_path.glob("*v.txt*"))


def test_word2vec_min_count_above_every_word_is_a_clear_error(text: Path, tmp_path: Path) -> None:
    """gensim raised RuntimeError("you must first build vocabulary ...") from training."""
    settings = Word2VecSettings(dim=4, min_count=10_000, epochs=1, workers=1)
    with pytest.raises(BionerError, match="lower --min-count"):
        train_word2vec([UnlabeledSource(text)], tmp_path / "v.txt", settings)
    assert not list(tmp_path.glob("*v.txt*"))


# ---------------------------------------------------------------------------- bilm
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("heldout_every", 0, "--heldout-every must be at least 1"),  # modulo by zero
        ("eval_every", 0, "--eval-every must be at least 1"),  # modulo by zero
        ("batch_tokens", -5, "--batch-tokens must be at least 1"),  # trained anyway
        ("epochs", 0, "--epochs must be at least 1"),
        ("output_vocab", 3, "--output-vocab must be at least 4"),
        ("learning_rate", 0.0, "--learning-rate must be greater than 0"),
        ("threads", 0, "--threads must be at least 1"),  # torch RuntimeError
        ("seed", -1, "--seed must be at least 0"),  # ValueError traceback
    ],
)
def test_bilm_refuses_nonsense_settings(field: str, value: float, message: str) -> None:
    with pytest.raises(BionerError, match=message):
        BiLMSettings(**{field: value})


def test_bilm_output_file_or_model_is_refused(text: Path, tmp_path: Path) -> None:
    experiment = load_config("sachan-cnn", TINY_BILM)
    sources = [UnlabeledSource(text)]
    (tmp_path / "file").write_text("precious")
    with pytest.raises(BionerError, match="must be a folder"):  # was NotADirectoryError
        BiLMTrainer(experiment, tmp_path / "file", BiLMSettings(), sources).train()
    assert (tmp_path / "file").read_text() == "precious"
    # A folder holding a model: `tagger.save(overwrite=True)` deleted it and wrote its own.
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "notes.txt").write_text("mine")
    with pytest.raises(BionerError, match="already holds a model"):
        BiLMTrainer(experiment, tmp_path / "run", BiLMSettings(), sources).train()
    assert [p.name for p in (tmp_path / "run").rglob("*")] == ["model", "notes.txt"]


def _fake_run(folder: Path, settings: BiLMSettings) -> None:
    """The bilm.json of a run started with `settings` (enough for the resume checks)."""
    folder.mkdir(parents=True)
    experiment = load_config("sachan-cnn", TINY_BILM)
    record = {
        "experiment": json.loads(experiment.model_dump_json()),
        "settings": asdict(settings),
    }
    (folder / MARKER).write_text(json.dumps(record))


@pytest.mark.parametrize("damage", ["{not json", "{}", '{"experiment": {}, "settings": []}'])
def test_bilm_resume_from_a_damaged_record_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    _fake_run(tmp_path / "run", BiLMSettings())
    (tmp_path / "run" / MARKER).write_text(damage)
    experiment = load_config("sachan-cnn", TINY_BILM)
    with pytest.raises(BionerError, match="unreadable BiLM run record"):
        BiLMTrainer(experiment, tmp_path / "run", BiLMSettings()).train(resume=True)


def test_bilm_resume_refuses_options_it_would_ignore(text: Path, tmp_path: Path) -> None:
    """A resumed run keeps its settings: --batch-tokens 50 was silently trained as 100."""
    _fake_run(tmp_path / "run", BiLMSettings(batch_tokens=100))
    sets = [arg for item in TINY_BILM for arg in ("--set", item)]
    base = ["pretrain", "bilm", "sachan-cnn", tmp_path / "run", *sets, "--resume", "--quiet"]
    result = invoke(*base, "--batch-tokens", "50", "--epochs", "3")
    assert refused(result, "--batch-tokens 50 (the run's: 100)")
    assert "--epochs" not in str(result.exception)  # how long to run may change
    assert refused(invoke(*base, "--sources", text), "leave out --sources")


# ---------------------------------------------------------------------------- charlm
CHARLM = ["--hidden", "4", "--embedding-dim", "2", "--seq-len", "8", "--batch", "2",
          "--max-chars", "1000", "--heldout-chars", "1000", "--heldout-fraction", "0.2",
          "--device", "cpu", "--threads", "1", "--quiet"]  # fmt: skip


@pytest.mark.parametrize("prepare", [[], ["--prepare"]])
def test_charlm_output_file_is_refused(text: Path, tmp_path: Path, prepare: list[str]) -> None:
    """It read all the text, then died with FileExistsError."""
    (tmp_path / "file").write_text("precious")
    result = invoke("pretrain", "charlm", tmp_path / "file", "--sources", text, *CHARLM, *prepare)
    assert refused(result, "must be a folder")
    assert (tmp_path / "file").read_text() == "precious"


def test_charlm_never_replaces_an_existing_lm(text: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "lm.safetensors").write_text("precious")
    result = invoke("pretrain", "charlm", tmp_path / "run", "--sources", text, *CHARLM)
    assert refused(result, "already holds a character LM")
    assert (tmp_path / "run" / "lm.safetensors").read_text() == "precious"
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["lm.safetensors"]


def test_charlm_prepared_text_problems_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputFormatError, match="cannot read the file"):  # NotADirectoryError
        read_text_splits(tmp_path / "file")
    folder = tmp_path / "prepared"
    folder.mkdir()
    for name in ("train", "valid", "test"):
        (folder / f"{name}.txt.xz").write_bytes(lzma.compress(b"fine\nline two\n"))
    (folder / "valid.txt.xz").write_bytes(lzma.compress(b"fine\ncaf\xe9\n"))
    with pytest.raises(InputFormatError) as error:
        read_text_splits(folder)
    assert str(error.value).startswith(f"{folder / 'valid.txt.xz'}, line 2: not valid UTF-8")
