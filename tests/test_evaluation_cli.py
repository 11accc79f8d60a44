"""`bioner evaluate`: tables, JSON output, options, and one-line errors for mismatched inputs."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.errors import BionerError

# `bioner.cli.app` the attribute is the Typer app; the module holds main().
cli_app = importlib.import_module("bioner.cli.app")

GOLD = """\
IL-2\tB-GGP
gene\tI-GGP
expression\tO

NF-kappa\tB-protein
B\tI-protein
binds\tO
DNA\tB-DNA

"""
PRED = """\
IL-2\tB-GENE
gene\tO
expression\tO

NF-kappa\tB-protein
B\tI-protein
binds\tB-DNA
DNA\tO

"""
TRAIN = """\
NF-kappa\tB-protein
B\tI-protein

"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    cli_app._register_commands()
    return CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (("gold", GOLD), ("pred", PRED), ("train", TRAIN)):
        paths[name] = tmp_path / f"{name}.tsv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def invoke(runner: CliRunner, *args: str | Path):
    return runner.invoke(cli_app.app, ["evaluate", *map(str, args)], catch_exceptions=True)


def test_table_and_json(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "result" / "eval.json"
    result = invoke(runner, files["gold"], files["pred"], "--json", out, "--errors")
    assert result.exit_code == 0, result.output
    assert "micro avg" in result.stdout and "Error analysis" in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["mode"] == "exact" and data["documents"] == 2
    assert data["micro"]["tp"] == 1 and data["micro"]["fp"] == 2 and data["micro"]["fn"] == 2
    assert data["errors"]["total"]["fn"]["missing"] == 1  # "DNA"
    assert not list(out.parent.glob(".*.tmp"))


def test_documents_option_regroups_sentences(
    runner: CliRunner, files: dict[str, Path], tmp_path: Path
) -> None:
    reference = tmp_path / "docs.pubtator"
    reference.write_text("7|t|IL-2 gene expression\n7|a|NF-kappa B binds DNA\n\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    args = [files["gold"], files["pred"], "--json", out, "--overwrite"]
    assert invoke(runner, *args, "--documents", reference).exit_code == 0
    regrouped = json.loads(out.read_text(encoding="utf-8"))
    assert regrouped["documents"] == 1
    assert regrouped["micro"]["tp"] == 1 and regrouped["micro"]["fn"] == 2
    other = tmp_path / "other.pubtator"
    other.write_text("8|t|Something else entirely\n\n", encoding="utf-8")
    failed = invoke(runner, *args, "--documents", other)
    assert isinstance(failed.exception, BionerError) and "sentence 1" in str(failed.exception)


def test_options_change_the_figures(runner: CliRunner, files: dict[str, Path], tmp_path: Path):
    out = tmp_path / "eval.json"
    args = [files["gold"], files["pred"], "--json", out, "--overwrite"]
    assert invoke(runner, *args, "--mode", "left", "--map", "GGP=GENE").exit_code == 0
    assert json.loads(out.read_text())["micro"]["tp"] == 2
    assert invoke(runner, *args, "--mode", "overlap", "--untyped").exit_code == 0
    micro = json.loads(out.read_text())["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (2, 1, 1)  # "binds" misses "DNA"
    assert invoke(runner, *args, "--map", "GGP=GENE", "--type", "GENE").exit_code == 0
    assert json.loads(out.read_text())["per_type"].keys() == {"GENE"}
    assert invoke(runner, *args, "--train", files["train"]).exit_code == 0
    seen = json.loads(out.read_text())["seen_unseen"]
    assert seen["seen"] == {"total": 1, "found": 1, "recall": 1.0}


def test_mismatched_tokens_name_the_sentence(runner: CliRunner, files: dict[str, Path]) -> None:
    files["pred"].write_text(PRED.replace("binds", "bound"), encoding="utf-8")
    result = invoke(runner, files["gold"], files["pred"])
    assert isinstance(result.exception, BionerError)
    assert "sentence 1" in str(result.exception) and "'binds'" in str(result.exception)


def test_user_errors_are_one_line(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gold, pred = files["gold"], files["pred"]
    for extra in (["--map", "GGP"], ["--json", str(gold)]):
        monkeypatch.setattr(sys, "argv", ["bioner", "evaluate", str(gold), str(pred), *extra])
        with pytest.raises(SystemExit) as exit_info:
            cli_app.main()
        assert exit_info.value.code == 2
        assert capsys.readouterr().err.startswith("error:")
    assert gold.read_text(encoding="utf-8") == GOLD  # an input is never overwritten


def test_pubtator_documents_pair_by_id(runner: CliRunner, tmp_path: Path) -> None:
    first = "1|t|Aspirin helps.\n1|a|No pain.\n1\t0\t7\tAspirin\tChemical\tD1\n\n"
    second = "2|t|Cancer.\n2|a|Bad.\n2\t0\t6\tCancer\tDisease\tD2\n\n"
    gold, pred = tmp_path / "gold.pubtator", tmp_path / "pred.pubtator"
    gold.write_text(first + second, encoding="utf-8")
    pred.write_text(second + first.replace("\t7\tAspirin", "\t3\tAsp"), encoding="utf-8")
    out = tmp_path / "eval.json"
    result = invoke(runner, gold, pred, "--format", "pubtator", "--json", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["per_type"]["Disease"]["tp"] == 1 and data["per_type"]["Chemical"]["tp"] == 0


def test_empty_gold_is_an_error_not_a_table_of_zeros(
    runner: CliRunner, files: dict[str, Path]
) -> None:
    files["gold"].write_text("", encoding="utf-8")
    result = invoke(runner, files["gold"], files["gold"])
    assert isinstance(result.exception, BionerError)
    assert "gold.tsv: no documents" in str(result.exception)


ILL_FORMED_GOLD = "a\tO\nb\tI-X\nc\tO\n\n"  # I-X after O: a mention only when read leniently
PLAIN_PRED = "a\tO\nb\tB-X\nc\tO\n\n"


def test_corpus_option_takes_pred_and_honours_lenient(runner: CliRunner, tmp_path: Path) -> None:
    """`--corpus C PRED` read PRED as the gold file and stopped ("give PRED"), and `--lenient`
    was dropped for the corpus's gold, so it scored the same tags as the positional form
    differently."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "test.tsv").write_text(ILL_FORMED_GOLD, encoding="utf-8")
    pred = tmp_path / "pred.tsv"
    pred.write_text(PLAIN_PRED, encoding="utf-8")
    out = tmp_path / "eval.json"
    for lenient, expected in (([], (0, 1, 0)), (["--lenient"], (1, 0, 0))):
        result = invoke(runner, "--corpus", corpus, pred, "--json", out, "--overwrite", *lenient)
        assert result.exit_code == 0, result.output
        micro = json.loads(out.read_text())["micro"]
        assert (micro["tp"], micro["fp"], micro["fn"]) == expected, lenient
        positional = invoke(
            runner, corpus / "test.tsv", pred, "--json", out, "--overwrite", *lenient
        )
        assert positional.exit_code == 0, positional.output
        assert json.loads(out.read_text())["micro"] == micro
    both = invoke(runner, "--corpus", corpus, pred, pred)
    assert isinstance(both.exception, BionerError) and "only PRED" in str(both.exception)


def test_lenient_applies_to_conll_only(runner: CliRunner, tmp_path: Path) -> None:
    """`--lenient` with CoNLL gold and JSON Lines predictions failed: the span formats
    have no tags to decode and their reader refused the `strict` option."""
    from bioner.data.formats import read_documents, write_documents

    gold = tmp_path / "gold.tsv"
    gold.write_text(ILL_FORMED_GOLD, encoding="utf-8")
    source = tmp_path / "pred.tsv"
    source.write_text(PLAIN_PRED, encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    write_documents(read_documents(source), pred, "jsonl")
    out = tmp_path / "eval.json"
    result = invoke(runner, gold, pred, "--lenient", "--json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["micro"]["tp"] == 1


def test_unknown_type_is_an_error_not_a_table_of_zeros(
    runner: CliRunner, files: dict[str, Path]
) -> None:
    result = invoke(runner, files["gold"], files["pred"], "--type", "Gene")
    assert isinstance(result.exception, BionerError)
    assert "--type Gene: no gold or predicted mention" in str(result.exception)
    assert "GENE, GGP" in str(result.exception)  # the names it could have meant
    # A name that exists only after --map is fine.
    mapped = invoke(runner, files["gold"], files["pred"], "--map", "GGP=GENE", "--type", "GENE")
    assert mapped.exit_code == 0, mapped.output


def test_unknown_map_source_is_an_error_not_a_silent_no_op(
    runner: CliRunner, files: dict[str, Path]
) -> None:
    result = invoke(runner, files["gold"], files["pred"], "--map", "GPP=GENE", "--map", "DNA=X")
    assert isinstance(result.exception, BionerError)
    assert str(result.exception) == (
        "--map GPP: no gold or predicted mention has this type; "
        "types present: DNA, GENE, GGP, protein"
    )


def test_scheme_option_reads_iob1_and_bioes(runner: CliRunner, tmp_path: Path) -> None:
    """CoNLL inputs were always read as IOB2: an IOB1 file lost every mention that starts
    with `I-X` (strict IOB2 drops it) and a BIOES file was refused."""
    out = tmp_path / "eval.json"
    files = {
        "IOB2": "a\tB-X\nb\tI-X\nc\tO\nd\tB-Y\n\n",
        "IOB1": "a\tI-X\nb\tI-X\nc\tO\nd\tI-Y\n\n",
        "BIOES": "a\tB-X\nb\tE-X\nc\tO\nd\tS-Y\n\n",
    }
    for scheme, text in files.items():
        path = tmp_path / f"{scheme}.tsv"
        path.write_text(text, encoding="utf-8")
        # IOB2 tags read the same as IOB1, so the IOB2 file is the gold of both.
        gold = tmp_path / ("BIOES.tsv" if scheme == "BIOES" else "IOB2.tsv")
        result = invoke(runner, gold, path, "--scheme", scheme, "--json", out, "--overwrite")
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text())["micro"]["tp"] == 2, scheme
    bad = invoke(runner, out, out, "--scheme", "BILOU")
    assert isinstance(bad.exception, BionerError) and "--scheme" in str(bad.exception)


def test_an_existing_json_file_is_kept_unless_overwrite(
    runner: CliRunner, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "eval.json"
    out.write_text("earlier results\n")
    refused = invoke(runner, files["gold"], files["pred"], "--json", out)
    assert isinstance(refused.exception, BionerError)
    assert "exists already; pass --overwrite" in str(refused.exception)
    assert out.read_text() == "earlier results\n"
    replaced = invoke(runner, files["gold"], files["pred"], "--json", out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(out.read_text())["mode"] == "exact"
