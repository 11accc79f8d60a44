"""Audit of the evaluation side: alignment, seen/unseen, `evaluate --type`, error tables,
out-of-corpus runs, baselines, run-set tables and t-tests — one test per defect found, plus
a seqeval cross-check on a real corpus file when the staged corpora are there."""

from __future__ import annotations

import importlib
import json
import logging
import math
import random
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from bioner.data.document import Document, Sentence, Span, Token
from bioner.data.formats import read_documents, write_documents
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.evaluation.report import render
from bioner.experiments.ooc import ooc_jobs
from bioner.experiments.results import build_results
from bioner.experiments.stats import t_test
from bioner.experiments.tables import run_set_table

CORPORA = Path("/work/shared/corpora")


def invoke(*args: object):
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    return CliRunner().invoke(app.app, [str(a) for a in args])


def tokenized(doc_id: str, text: str, sentences: list[list[str]], spans: list[Span]) -> Document:
    """A document over `text` whose tokens are found in it left to right."""
    built, offset = [], 0
    for words in sentences:
        tokens = []
        for word in words:
            start = text.index(word, offset)
            offset = start + len(word)
            tokens.append(Token(word, start, offset))
        built.append(Sentence(tokens))
    return Document(id=doc_id, text=text, sentences=built, spans=spans)


# ---------------------------------------------------------------- alignment
def test_same_text_tokenized_otherwise_is_scored_not_refused() -> None:
    """Gold and predictions over the same text but from another tokenizer (two JSONL files
    written with `--tokens`) were refused as "tokens differ", though spans are offsets into
    the text and mean the same on both sides."""
    text = "IL-2 binds p53. It is a gene."
    spans = [Span(0, 4, "G"), Span(11, 14, "G")]
    gold = tokenized(
        "d", text, [["IL-2", "binds", "p53", "."], ["It", "is", "a", "gene", "."]], spans
    )
    pred = tokenized(
        "d", text, [["IL", "-", "2", "binds", "p53", ".", "It", "is", "a", "gene", "."]], spans
    )
    assert evaluate_documents([gold], [pred]).micro.tp == 2


def test_texts_differing_in_spacing_only_are_named_by_character() -> None:
    """A sentence that starts one character later (same words) was reported as "tokens differ
    at token 3 (gold <end of sentence>, predicted <end of sentence>)"."""
    gold = tokenized("d", "a b\nc d", [["a", "b"], ["c", "d"]], [])
    pred = tokenized("d", "a b\n\nc d", [["a", "b"], ["c", "d"]], [])
    with pytest.raises(BionerError) as caught:
        evaluate_documents([gold], [pred])
    assert "texts differ at character 4 (line 2)" in str(caught.value)
    assert "<end of sentence>" not in str(caught.value)


# ---------------------------------------------------------------- seen / unseen
def test_seen_mentions_do_not_depend_on_the_training_file_format() -> None:
    """A training corpus read from CoNLL has "IL - 2" as its text: gold "IL-2" from PubTator
    counted as unseen (NCBI-disease: 63 of 591 seen test mentions moved to unseen)."""
    train = Document.from_tokens("t", [["IL", "-", "2", "binds"]], [["B-G", "I-G", "I-G", "O"]])
    gold = Document(id="g", text="IL-2 binds", spans=[Span(0, 4, "G")])
    result = evaluate_documents([gold], [gold], train_docs=[train])
    assert result.seen_unseen is not None
    assert (result.seen_unseen.seen.total, result.seen_unseen.unseen.total) == (1, 0)
    lowered = evaluate_documents([gold], [gold], train_docs=[train], lowercase_seen=True)
    assert lowered.seen_unseen is not None and lowered.seen_unseen.seen.found == 1


# ---------------------------------------------------------------- evaluate CLI
GOLD = "IL-2\tB-GGP\ngene\tO\n\nbinds\tO\nDNA\tB-DNA\n\n"
PRED = "IL-2\tB-GENE\ngene\tO\n\nbinds\tO\nDNA\tB-GENE\n\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gold, pred = tmp_path / "gold.tsv", tmp_path / "pred.tsv"
    gold.write_text(GOLD, encoding="utf-8")
    pred.write_text(PRED, encoding="utf-8")
    return gold, pred


def test_a_type_only_the_predictions_have_is_refused(files: tuple[Path, Path]) -> None:
    """`--type Disease` on NCBI's PubTator release (SpecificDisease, DiseaseClass, ...)
    against the default tagger printed a table of zeros with support 0: the check only
    asked whether *some* side had the type."""
    result = invoke("evaluate", *files, "--type", "GENE")
    assert isinstance(result.exception, BionerError)
    assert str(result.exception) == (
        "--type GENE: only the predictions have this type, no gold mention (after --map), so "
        "recall is undefined; gold types: DNA, GGP (map the names onto one with --map OLD=NEW)"
    )
    mapped = invoke("evaluate", *files, "--map", "GGP=GENE", "--type", "GENE")
    assert mapped.exit_code == 0, mapped.output


def test_no_shared_type_is_warned_about(
    files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Typed scores of 0 because no predicted type is a gold type (a missing --map) came
    without a word."""
    with caplog.at_level(logging.WARNING, logger="bioner.cli.evaluate"):
        assert invoke("evaluate", *files).exit_code == 0
    assert "no predicted type is a gold type (gold: DNA, GGP; predicted: GENE)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bioner.cli.evaluate"):
        assert invoke("evaluate", *files, "--untyped").exit_code == 0  # types do not matter
        assert invoke("evaluate", *files, "--map", "GGP=GENE").exit_code == 0  # GENE shared
    assert "no predicted type" not in caplog.text


# ---------------------------------------------------------------- report
def test_error_tables_stay_readable_with_many_types_in_80_columns() -> None:
    """With one column per type, 80 columns (any pipe or file) cut counts to "42…" and both
    `type` categories to "ty…"; the examples cut "both_boundaries" to "both_boundari…"."""
    labels = [
        "ProteinMutation",
        "DNAMutation",
        "Chemical",
        "Disease",
        "GENE",
        "Species",
        "cell_line",
        "cell_type",
        "protein",
        "DNA",
        "RNA",
        "SNP",
    ]
    text = "x " * 1400
    pred = [Span(2 * i, 2 * i + 1, "ProteinMutation") for i in range(1234)]
    pred += [Span(2 * (1300 + k), 2 * (1300 + k) + 1, label) for k, label in enumerate(labels)]
    gold_spans = [Span(2 * 1350, 2 * 1352 + 1, "SNP")]  # "x x x"
    pred.append(Span(2 * 1350 + 2, 2 * 1353 + 1, "SNP"))  # both boundaries differ
    gold = Document(id="d", text=text, spans=gold_spans)
    result = evaluate_documents([gold], [gold.with_spans(pred)], errors=True)
    console = Console(width=80, record=True, color_system=None)
    console.print(render(result))
    out = console.export_text()
    assert "1235" in out  # FP ProteinMutation: 1234 spurious + 1 in the block of one each
    for label in labels:
        assert f" {label} " in out, label
    assert "both_boundaries" in out and "type+bnd = type_and_boundary" in out
    assert "…" not in out


# ---------------------------------------------------------------- experiments
def write_corpus(folder: Path, label: str, seed: int) -> Path:
    """A tiny CoNLL corpus: the same sentences for the same seed, typed `label`."""
    rng = random.Random(seed)
    documents = []
    for index in range(12):
        words = [rng.choice(["the", "level", "of", "in", "cells", "was"]) for _ in range(5)]
        words.insert(2, rng.choice(["BRCA1", "TP53", "EGFR"]))
        tags = ["O", "O", f"B-{label}", "O", "O", "O", "O", "O"][: len(words)]
        documents.append(Document.from_tokens(f"{folder.name}-{index}", [words], [tags]))
    folder.mkdir(parents=True)
    write_documents(documents[:6], folder / "train.tsv", "conll")
    write_documents(documents[6:9], folder / "devel.tsv", "conll")
    write_documents(documents[9:], folder / "test.tsv", "conll")
    return folder


def test_ooc_refuses_to_test_on_its_own_training_corpus(tmp_path: Path) -> None:
    """`experiment ooc --train C --test C` trained on C's train+devel and "tested out of
    corpus" on all of C, training documents included."""
    corpus = write_corpus(tmp_path / "genes", "GENE", 1)
    with pytest.raises(BionerError, match="--train and --test are the same corpus"):
        ooc_jobs(corpus, tmp_path / "genes" / ".." / "genes", seeds=[1])


def test_ooc_reports_test_sentences_seen_in_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A single-type view of the training corpus (BC5CDR → BC5CDR-disease: 9,092 of 13,938
    sentences) was scored as out-of-corpus data without a word."""
    train = write_corpus(tmp_path / "genes", "GENE", 1)
    view = write_corpus(tmp_path / "genes-view", "GENE", 1)
    with caplog.at_level(logging.WARNING, logger="bioner.experiments.ooc"):
        ooc_jobs(train, view, seeds=[1])
    assert "genes-view: 9 of its 12 sentences (75.0 %) are also training sentences" in (caplog.text)
    caplog.clear()
    other = write_corpus(tmp_path / "other", "GENE", 2)
    with caplog.at_level(logging.WARNING, logger="bioner.experiments.ooc"):
        ooc_jobs(train, other, seeds=[1])
    assert "training sentences" not in caplog.text


def record(run_id: str, f1: float, **info: object) -> dict[str, object]:
    return {"run_id": run_id, "precision": f1, "recall": f1, "f1": f1, "best_epoch": 1, **info}


def test_a_baseline_that_measured_something_else_is_refused_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CV results.json (other test data, exact matching) was accepted as the baseline of
    an OOC run, and ΔF1 and a t-test between the two were printed as a comparison."""
    train = write_corpus(tmp_path / "genesA", "GENE", 1)
    test = write_corpus(tmp_path / "genesB", "GENE", 2)
    cv_run = record("seed1", 0.5, kind="cv", corpus="genesA", folds=2, mode="exact")
    baseline = tmp_path / "cv-results.json"
    baseline.write_text(json.dumps({"name": "BL", "runs": [cv_run]}), encoding="utf-8")
    runner = importlib.import_module("bioner.experiments.runner")

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no run may train before the baseline is checked")

    monkeypatch.setattr(runner, "execute", never)
    out = tmp_path / "out"
    args = ["experiment", "ooc", "saber-baseline", "--train", train, "--test", test]
    result = invoke(*args, "--seeds", "1", "-o", out, "--baseline", baseline)
    assert isinstance(result.exception, BionerError), result.output
    assert "the --baseline runs measured something else: kind 'cv' (now 'ooc')" in str(
        result.exception
    )
    assert not out.exists()


def test_a_baseline_may_differ_in_the_method_but_not_in_the_scoring() -> None:
    from bioner.experiments.results import check_baseline, measured  # new with the check

    info = {"kind": "ooc", "train": "A", "test": "B", "mode": "right", "scored_types": ["GENE"]}
    theirs = record("seed1", 0.5, **info, partners=[], label_map={}, settings={"epochs": 50})
    results = {"runs": [theirs]}
    method = {**info, "train": "C", "partners": ["D"], "label_map": {"GGP": "GENE"}}
    check_baseline(results, "bl.json", measured({**method, "settings": {"epochs": 5}}))
    with pytest.raises(BionerError, match=r"mode 'right' \(now 'exact'\)"):
        check_baseline(results, "bl.json", measured({**info, "mode": "exact"}))
    full = {"runs": [{**theirs, "settings": {"max_eval_sentences": None}}]}
    smoke = measured({**info, "settings": {"max_eval_sentences": 30}})
    with pytest.raises(BionerError, match=r"max_eval_sentences None \(now 30\)"):
        check_baseline(full, "bl.json", smoke)


def test_run_set_table_says_what_was_measured() -> None:
    """table.md held F1 values without the matching (OOC is right-boundary by default), the
    scored types, the test data or the `--max-eval-sentences` limit of a smoke run."""
    info = {"kind": "ooc", "train": "genesA", "test": "genesB", "scored_types": ["GENE"]}
    runs = [record(f"seed{s}", 0.5 + s / 100, **info, mode="right") for s in (1, 2)]
    settings = {"train": "/c/genesA", "test": "/c/genesB", "mode": "right"}
    full = run_set_table(build_results("ooc", "BL", runs, settings, "bioner ..."))
    assert (
        "Measured: span-level micro P/R/F1, right boundary match, typed; types: GENE; "
        "test data: all of genesB (train+devel+test), trained on genesA train+devel." in full
    )
    assert "Smoke run" not in full
    smoke = {**settings, "max_eval_sentences": 30}
    table = run_set_table(build_results("ooc", "BL", runs, smoke, "bioner ..."))
    assert "Smoke run (only the first 30 dev/test sentences)" in table
    cv_runs = [record("seed1-fold0", 0.5, kind="cv", corpus="NCBI", mode="exact")]
    cv = run_set_table(build_results("cv", "BL", cv_runs, {"folds": 5}, "bioner ..."))
    assert "exact match, typed; types: all; test data: each fold's test part of NCBI" in cv
    assert "(5-fold CV)" in cv


def test_a_t_test_without_variance_is_untestable_not_significant() -> None:
    """Three runs repeating one F1 each gave t = inf, p = 0 ("**"), with scipy's precision
    warning on stderr; identical sets said "not possible (fewer than 2 runs)" for n = 3."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method, base, paired in (
            ([0.5, 0.5, 0.5], [0.4, 0.4, 0.4], True),
            ([0.5, 0.625, 0.75], [0.25, 0.375, 0.5], True),
            ([0.6, 0.7, 0.8], [0.5, 0.6, 0.7], True),  # float noise in the differences
            ([0.5, 0.5, 0.5], [0.4, 0.4, 0.4], False),
        ):
            assert math.isnan(t_test(method, base, paired=paired).p_value), (method, base)
    varied = t_test([0.5, 0.63, 0.75], [0.25, 0.375, 0.51], paired=True)
    expected = scipy_stats.ttest_rel([0.5, 0.63, 0.75], [0.25, 0.375, 0.51])
    assert varied.p_value == pytest.approx(expected.pvalue)
    ids = ["seed1", "seed2", "seed3"]
    same = [record(i, f) for i, f in zip(ids, [0.5, 0.6, 0.7], strict=True)]
    results = build_results("cv", "VD", same, {}, "cmd", {"name": "BL", "runs": same}, "bl.json")
    line = next(x for x in run_set_table(results).splitlines() if x.startswith("Baseline"))
    assert line.endswith("t-test not possible (the paired F1 differences do not vary)")


def test_a_config_typo_is_refused_before_the_corpus_is_read(tmp_path: Path) -> None:
    """`experiment cv nosuchconfig` read the corpus (and warned about it), created OUTPUT and
    its runs/ folder, and only then stopped on the config name."""
    out = tmp_path / "out"
    missing = tmp_path / "no-corpus"
    result = invoke("experiment", "cv", "nosuchconfig", "--corpus", missing, "-o", out)
    assert isinstance(result.exception, BionerError)
    assert "no config file or preset named 'nosuchconfig'" in str(result.exception)
    typo = invoke(
        "experiment", "ooc", "saber-baseline", "--train", missing, "--test", missing,
        "--set", "training.nope=1", "-o", out,
    )  # fmt: skip
    assert "unknown key 'training.nope'" in str(typo.exception)
    assert not out.exists()


# ---------------------------------------------------------------- seqeval on a real corpus
@pytest.mark.skipif(not (CORPORA / "BC5CDR").is_dir(), reason="staged corpora not present")
def test_exact_scores_equal_seqeval_on_a_perturbed_real_test_file(tmp_path: Path) -> None:
    """BC5CDR test against a copy with types swapped, mentions dropped, split and added."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    gold_path = CORPORA / "BC5CDR" / "test.tsv"
    rng = random.Random(7)
    sentences = [
        [line.split("\t") for line in block.splitlines()]
        for block in gold_path.read_text(encoding="utf-8").split("\n\n")
        if block.strip()
    ]
    gold_tags = [[tag for _, tag in s] for s in sentences]
    pred_tags = []
    for tags in gold_tags:
        new = list(tags)
        for i, tag in enumerate(new):
            r = rng.random()
            if tag == "O" and r < 0.02:
                new[i] = rng.choice(["B-Chemical", "B-Disease"])
            elif tag.startswith("I-") and r < 0.1:
                new[i] = "B-" + tag[2:]
            elif tag.startswith("B-") and r < 0.08:
                new[i] = "B-" + ("Disease" if tag == "B-Chemical" else "Chemical")
        # well-formed IOB2 again: an I- that no longer continues its type starts a mention
        for i, tag in enumerate(new):
            if tag.startswith("I-") and (i == 0 or new[i - 1][2:] != tag[2:]):
                new[i] = "B-" + tag[2:]
        pred_tags.append(new)
    pred_path = tmp_path / "pred.tsv"
    pred_path.write_text(
        "".join(
            "".join(f"{w}\t{t}\n" for (w, _), t in zip(s, tags, strict=True)) + "\n"
            for s, tags in zip(sentences, pred_tags, strict=True)
        ),
        encoding="utf-8",
    )
    ours = evaluate_documents(read_documents(gold_path, None), read_documents(pred_path, None))
    oracle = classification_report(
        gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True
    )
    for label, scores in ours.per_type.items():
        assert scores.precision == pytest.approx(oracle[label]["precision"])
        assert scores.recall == pytest.approx(oracle[label]["recall"])
        assert scores.support == oracle[label]["support"]
    for name, averages in (("micro avg", ours.micro), ("macro avg", ours.macro)):
        assert averages.f1 == pytest.approx(oracle[name]["f1-score"]), name
    assert ours.weighted.f1 == pytest.approx(oracle["weighted avg"]["f1-score"])
    assert 0.5 < ours.micro.f1 < 0.95  # the perturbation left something to measure
