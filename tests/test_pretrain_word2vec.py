"""Text sources for pretraining (training splits only, normalisation, budgets) and word2vec."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.errors import BionerError
from bioner.models.embeddings.word_vectors import load_word_vectors
from bioner.pretraining.text_source import (
    TokenStream,
    TrainingSplitSource,
    UnlabeledSource,
    corpus_folders,
    default_sources,
    resolve_source,
)
from bioner.pretraining.word2vec import Word2VecSettings, metadata_path, train_word2vec

SENTENCES = [
    "Mutations in BRCA1 cause breast cancer .",
    "BRCA2 mutations also cause breast cancer in 1998 .",
    "Aspirin reduces the risk of colon cancer .",
    "The protein p53 suppresses tumours .",
]


def _gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")


def _conll(path: Path, sentences: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("".join(f"{w}\tO\n" for w in s) + "\n" for s in sentences))


@pytest.fixture()
def shared(tmp_path: Path) -> Path:
    """A fake ../shared: two unlabeled folders and a corpus (plus a single-type view)."""
    root = tmp_path / "shared"
    _gz(root / "unlabeled" / "Abstracts" / "text.txt.gz", [" ".join(SENTENCES)] * 30)
    _gz(
        root / "unlabeled" / "SumPubMed" / "text.part01.txt.gz",
        ["we found <dig> lowercaseonly genes ."] * 5,
    )
    for name in ("Toy", "Toy-chem"):
        corpus = root / "corpora" / name
        _conll(corpus / "train.tsv", [["TRAINWORD", "binds", "DNA", "."]] * 3)
        _conll(corpus / "devel.tsv", [["DEVWORD", "binds", "RNA", "."]])
        _conll(corpus / "test.tsv", [["TESTWORD", "binds", "RNA", "."]])
    return root


def _all_tokens(stream: TokenStream) -> set[str]:
    return {token for sentence in stream for token in sentence}


def test_training_split_never_yields_devel_or_test(shared: Path) -> None:
    source = TrainingSplitSource(shared / "corpora" / "Toy")
    tokens = {t for doc in source.documents() for s in doc for t in s}
    assert "TRAINWORD" in tokens
    assert not tokens & {"DEVWORD", "TESTWORD", "RNA"}


def test_default_sources_skip_views_devel_test_and_lowercased_text(shared: Path) -> None:
    assert [p.name for p in corpus_folders(shared / "corpora")] == ["Toy"]
    sources = default_sources(
        lowercase=False,
        unlabeled_root=shared / "unlabeled",
        corpora_root=shared / "corpora",
    )
    assert [s.name for s in sources] == ["Abstracts", "Toy:train"]
    tokens = _all_tokens(TokenStream(sources))
    assert {"TRAINWORD", "BRCA1"} <= tokens
    assert not tokens & {"DEVWORD", "TESTWORD", "lowercaseonly"}
    lowered = default_sources(
        lowercase=True, unlabeled_root=shared / "unlabeled", corpora_root=shared / "corpora"
    )
    assert "SumPubMed" in [s.name for s in lowered]
    tokens = _all_tokens(TokenStream(lowered, lowercase=True))
    assert {"lowercaseonly", "trainword", "brca1"} <= tokens
    assert not tokens & {"devword", "testword"}


def test_sumpubmed_digit_placeholder_is_one_number_token(shared: Path) -> None:
    source = UnlabeledSource(shared / "unlabeled" / "SumPubMed")
    first = next(source.documents())
    assert first == [["we", "found", "0", "lowercaseonly", "genes", "."]]
    stream = TokenStream([resolve_source(str(shared / "unlabeled" / "Abstracts"))], digits=True)
    assert "0000" in _all_tokens(stream)  # "1998" under the tagger's digit rule


def test_token_stream_budget_restart_and_interleaving(shared: Path) -> None:
    sources = [
        UnlabeledSource(shared / "unlabeled" / "Abstracts"),
        TrainingSplitSource(shared / "corpora" / "Toy"),
    ]
    stream = TokenStream(sources, max_tokens=37)
    first = list(stream)
    assert sum(len(s) for s in first) == 37 == stream.total_tokens
    assert list(stream) == first  # restartable: gensim iterates several times
    assert stream.counts["Toy:train"].tokens > 0  # interleaved, not source by source
    with pytest.raises(BionerError):
        resolve_source(str(shared / "nowhere"))


def test_word2vec_writes_loadable_vectors_with_record(shared: Path, tmp_path: Path) -> None:
    sources = [UnlabeledSource(shared / "unlabeled" / "Abstracts")]
    output = tmp_path / "vectors" / "w2v.txt"
    settings = Word2VecSettings(dim=12, window=2, min_count=2, epochs=2, workers=1)
    report = train_word2vec(sources, output, settings)
    vectors = load_word_vectors(output)
    assert vectors.dim == 12
    assert "BRCA1" in vectors.index and "cancer" in vectors.index
    record = json.loads(metadata_path(output).read_text())
    assert record["tokens"] == report.tokens == 30 * sum(len(s.split()) for s in SENTENCES)
    assert record["sources"][0]["name"] == "Abstracts"
    assert record["settings"]["dim"] == 12
    assert "cancer" in record["neighbours"]
    assert not list(output.parent.glob(".*"))  # no temporary files left behind


def test_word2vec_cli_binary(shared: Path, tmp_path: Path) -> None:
    _register_commands()
    output = tmp_path / "w2v.bin"
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            "word2vec",
            str(output),
            "--sources",
            str(shared / "unlabeled" / "Abstracts"),
            "--sources",
            str(shared / "corpora" / "Toy"),
            "--dim",
            "8",
            "--min-count",
            "1",
            "--epochs",
            "1",
            "--cbow",
            "--binary",
            "--lowercase",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    vectors = load_word_vectors(output)
    assert vectors.dim == 8 and "trainword" in vectors.index
    assert "devword" not in vectors.index
    record = json.loads(metadata_path(output).read_text())
    assert record["algorithm"] == "CBOW" and record["format"] == "word2vec-binary"
