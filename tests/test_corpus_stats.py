"""`bioner corpus stats` over every staged corpus, checked against README.md and SOURCE.md.

The expected figures are parsed from the staging documents themselves (README table:
sentences and mentions per split; SOURCE.md "Measured counts" tables: sentences, tokens,
documents and mentions per type per split), so a reader bug and a documentation error both
show up. Each corpus is read once per session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bioner.cli.corpus import app, stats_report
from bioner.data.corpus import load_corpus, overlapping_mentions, split_of, split_stats
from bioner.data.document import Document, Span

CORPORA = [
    "NCBI-disease", "BC5CDR", "BC5CDR-chem", "BC5CDR-disease", "BC2GM", "JNLPBA", "LINNAEUS",
    "CRAFT", "CRAFT-chem", "CRAFT-cell", "CRAFT-cc", "CRAFT-ggp", "CRAFT-species", "tmVar",
    "extra-MTL/AnatEM", "extra-MTL/BioNLP09", "extra-MTL/BioNLP11EPI", "extra-MTL/BioNLP11ID",
    "extra-MTL/BioNLP13CG", "extra-MTL/BioNLP13GE", "extra-MTL/BioNLP13PC", "extra-MTL/Ex-PTM",
]  # fmt: skip
SPLITS = ("train", "devel", "test")


def _number(text: str) -> int | None:
    text = text.strip().strip("*")
    return int(text.replace(",", "")) if re.fullmatch(r"[\d,]+", text) else None


def _tables(markdown: str) -> list[tuple[str, list[dict[str, str]]]]:
    """(last heading, rows as dicts) for every table of a markdown text."""
    found, heading, rows, header = [], "", None, None
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("#"):
            heading = line.lstrip("# ").strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header, rows = cells, []
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(header, cells, strict=False)))
        elif header is not None:
            found.append((heading, rows))
            header = None
    return found


def _source_table(corpora_dir: Path, name: str) -> list[dict[str, str]]:
    if name.startswith("extra-MTL/"):
        text, wanted = (corpora_dir / "extra-MTL" / "SOURCE.md").read_text(), name.split("/")[1]
        return next(rows for heading, rows in _tables(text) if heading == wanted)
    text = (corpora_dir / name / "SOURCE.md").read_text()
    # The first per-split table (CRAFT/SOURCE.md lists the combined corpus first).
    return next(rows for _, rows in _tables(text) if rows and rows[0].get("split") == "train")


def _readme_rows(corpora_dir: Path) -> dict[str, dict[str, str]]:
    text = (corpora_dir / "README.md").read_text()
    rows = next(rows for _, rows in _tables(text) if rows and "folder" in rows[0])
    return {row["folder"].strip("`/"): row for row in rows}


@pytest.fixture(scope="session")
def measured(corpora_dir: Path) -> dict[str, dict[str, Any]]:
    """stats_report for every corpus, computed once."""
    return {
        name: stats_report(corpora_dir / name) for name in CORPORA if (corpora_dir / name).is_dir()
    }


@pytest.mark.parametrize("name", CORPORA)
def test_stats_match_source_md(corpora_dir: Path, measured: dict, name: str) -> None:
    if name not in measured:
        pytest.skip(f"{name} not staged")
    splits = measured[name]["splits"]
    rows = [r for r in _source_table(corpora_dir, name) if r.get("split") in SPLITS]
    assert [r["split"] for r in rows] == list(splits)
    skip = {"split", "file", "git blob SHA-1", "total", "sentences", "tokens", "documents"}
    for row in rows:
        got = splits[row["split"]]
        if "sentences" in row:
            assert got["sentences"] == _number(row["sentences"]), (name, row["split"])
            assert got["tokens"] == _number(row["tokens"]), (name, row["split"])
        docs = _number(row.get("documents") or row.get("docs (-DOCSTART-)") or "0")
        if docs:
            assert got["documents"] == docs, (name, row["split"])
        types = {
            k: _number(v) for k, v in row.items() if k not in skip and not k.startswith("docs")
        }
        assert got["mentions"] == types, (name, row["split"])


@pytest.mark.parametrize("name", [n for n in CORPORA if not n.startswith("extra-MTL")])
def test_stats_match_readme(corpora_dir: Path, measured: dict, name: str) -> None:
    if name not in measured:
        pytest.skip(f"{name} not staged")
    row = _readme_rows(corpora_dir)[name]
    splits = measured[name]["splits"]
    mentions = [_number(x) for x in row["mentions"].split("/")]
    assert [splits[s]["total_mentions"] if s in splits else None for s in SPLITS] == mentions
    if name == "tmVar":  # "not sentence-split (documents: 334 / — / 166)"
        documents = [_number(x) for x in re.findall(r"[\d,—]+", row["sentences"])]
        assert [splits[s]["documents"] if s in splits else None for s in SPLITS] == documents
        assert "devel" not in splits
    elif row["sentences"].startswith("same"):
        assert [splits[s]["sentences"] for s in SPLITS] == [10_875, 3_730, 7_425]
    else:
        sentences = [_number(x) for x in row["sentences"].split("/")]
        assert [splits[s]["sentences"] for s in SPLITS] == sentences


# Figures for the original PubTator releases, from NCBI-disease/SOURCE.md and BC5CDR/SOURCE.md.
ORIGINALS = {
    "NCBI-disease/original": {
        "train": (593, 5145),
        "devel": (100, 787),
        "test": (100, 960),
    },
    "BC5CDR/original": {
        "train": (500, 5203 + 4182),
        "devel": (500, 5347 + 4244),
        "test": (500, 5385 + 4424),
    },
}


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_original_pubtator_releases(corpora_dir: Path, name: str) -> None:
    if not (corpora_dir / name).is_dir():
        pytest.skip(f"{name} not staged")
    splits = stats_report(corpora_dir / name)["splits"]
    got = {s: (v["documents"], v["total_mentions"]) for s, v in splits.items()}
    assert got == ORIGINALS[name]
    if name.startswith("NCBI"):
        assert splits["train"]["mentions"] == {
            "SpecificDisease": 2972, "Modifier": 1289, "DiseaseClass": 769, "CompositeMention": 115,
        }  # fmt: skip


def test_split_names_of_staged_files() -> None:
    assert [
        split_of(n) for n in ("train.tsv", "NCBIdevelopset_corpus.txt", "CDR_TestSet.PubTator.txt")
    ] == ["train", "devel", "test"]
    assert split_of("README.md") is None


def test_cli_json_and_table(fixtures_dir: Path) -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    result = runner.invoke(app, ["stats", str(fixtures_dir / "formats" / "plain.tsv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["splits"]["all"]["mentions"] == {"Chemical": 1, "Disease": 3}
    table = runner.invoke(
        app, ["stats", str(fixtures_dir / "formats" / "docstart.tsv")], env={"COLUMNS": "200"}
    )
    assert "protein" in table.stdout and "cell_type" in table.stdout


def test_corpus_without_split_files(tmp_path: Path) -> None:
    from bioner.errors import BionerError

    (tmp_path / "README.md").write_text("nothing")
    with pytest.raises(BionerError, match="no split files"):
        load_corpus(tmp_path)


def test_brat_corpus_with_a_folder_per_split(tmp_path: Path, fixtures_dir: Path) -> None:
    """BRAT corpora ship train/, dev/, test/ folders of pairs; each folder is a split."""
    import shutil

    from typer.testing import CliRunner

    pairs = fixtures_dir / "formats" / "brat"
    for name in ("train", "dev", "test"):
        shutil.copytree(pairs, tmp_path / name)
    (tmp_path / "README.md").write_text("a BRAT corpus")
    corpus = load_corpus(tmp_path)
    assert corpus.splits == ["train", "devel", "test"]
    documents = list(corpus.documents("devel"))
    assert sorted(d.id for d in documents) == ["doc1", "doc2"]
    assert any(d.spans for d in documents)
    result = CliRunner().invoke(app, ["stats", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["splits"]) == {"train", "devel", "test"}
    # One folder of pairs is still one split.
    assert load_corpus(tmp_path / "train").splits == ["train"]


@pytest.mark.parametrize("command", ["stats", "convert"])
def test_truncated_gzip_is_a_one_line_error(
    tmp_path: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Python reports a cut `.gz` as EOFError, which click used to turn into a bare 'Aborted!'."""
    import gzip
    import importlib
    import sys

    cli = importlib.import_module("bioner.cli.app")  # the module: `bioner.cli.app` is the app

    source = tmp_path / "train.tsv.gz"
    source.write_bytes(gzip.compress(b"IL-2\tB-protein\n\n" * 100)[:30])
    target = tmp_path / "out.jsonl"
    args = {"stats": [str(source)], "convert": [str(source), str(target), "--to", "jsonl"]}
    monkeypatch.setattr(sys, "argv", ["bioner", "corpus", command, *args[command]])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith(f"error: {source}: cannot read the file") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.tsv.gz"]


def test_convert_refuses_dash_as_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`convert IN - --to brat` made a BRAT folder named `-` (other formats: a file)."""
    from typer.testing import CliRunner

    from bioner.errors import BionerError

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "BRCA1", "spans": []}\n')
    monkeypatch.chdir(tmp_path)
    for fmt in ("brat", "jsonl"):
        result = CliRunner().invoke(app, ["convert", str(source), "-", "--to", fmt])
        assert isinstance(result.exception, BionerError)
        assert "TARGET -: convert cannot write to stdout" in str(result.exception)
    assert list(tmp_path.iterdir()) == [source]


def test_overlapping_and_discontinuous_mentions_are_counted(tmp_path: Path) -> None:
    """What BIO tags cannot hold was invisible in `corpus stats` (training drops or widens it)."""
    spans = [
        Span(0, 13, "Disease"),  # "breast cancer" ...
        Span(7, 13, "Disease"),  # ... holds "cancer": nested
        Span(7, 18, "Other"),  # "cancer type" crosses the first
        Span(19, 23, "Gene"),  # on its own
        Span(19, 23, "Protein"),  # the same text with another type
        Span(30, 34, "Gene"),  # alone
    ]
    assert overlapping_mentions(spans) == 5
    assert overlapping_mentions([Span(0, 3, "A"), Span(3, 5, "A")]) == 0  # touching only
    text = "Lung and liver failure. breast cancer type BRCA X."
    document = Document(
        id="d", text=text, spans=[Span(0, 22, "Disease", extra=("fragments=0 4;15 22",))]
    )
    stats = split_stats([document])
    assert (stats.discontinuous, stats.overlapping) == (1, 0)
    brat = tmp_path / "brat"
    brat.mkdir()
    (brat / "a.txt").write_text("breast cancer type in BRCA1\n", encoding="utf-8")
    (brat / "a.ann").write_text(
        "T1\tDisease 0 13\tbreast cancer\nT2\tDisease 7 13\tcancer\nT3\tGene 22 27\tBRCA1\n",
        encoding="utf-8",
    )
    report = stats_report(brat)
    (split,) = report["splits"].values()
    assert (split["overlapping_mentions"], split["discontinuous_mentions"]) == (2, 0)
    result = CliRunner().invoke(app, ["stats", str(brat)])
    assert "overlapping mentions (BIO tags cannot hold them all; training warns)" in result.output
