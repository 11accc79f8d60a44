"""Generalization experiments: CV folds, out-of-corpus label mapping and right-boundary scoring,
statistics against scipy and hand arithmetic, tables, plots, and resumable run sets."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from bioner.cli.experiment import check_before_runs
from bioner.data.document import Document, Span
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.experiments.cv import assign_folds, cv_jobs, make_folds
from bioner.experiments.ooc import ooc_jobs, shared_types
from bioner.experiments.plots import violin_plot
from bioner.experiments.runner import ModelSettings, RunJob, load_documents, run_all
from bioner.experiments.stats import significance_mark, summarize, t_test
from bioner.experiments.tables import (
    ComparisonRow,
    GeneralizationRow,
    generalization_table,
    in_corpus_table,
    out_of_corpus_table,
)
from test_multitask import DISEASES, GENES, one_type_corpus

SMALL = [
    "model.embedder.word.dim=8",
    "model.embedder.char.char_dim=4",
    "model.embedder.char.hidden=4",
    "model.encoder.hidden=8",
    "model.encoder.layers=1",
    "training.batch_size=8",
    "training.num_threads=1",
]


# ---------------------------------------------------------------- folds
@pytest.mark.parametrize("count,folds", [(23, 5), (10, 2), (5, 5)])
def test_every_document_is_in_exactly_one_fold(count: int, folds: int) -> None:
    assignment = assign_folds(count, folds, seed=3)
    assert len(assignment) == count and set(assignment) == set(range(folds))
    sizes = [assignment.count(f) for f in range(folds)]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_deterministic_per_seed_and_differ_across_seeds() -> None:
    assert assign_folds(50, 5, 1) == assign_folds(50, 5, 1)
    assert assign_folds(50, 5, 1) != assign_folds(50, 5, 2)
    with pytest.raises(BionerError):
        assign_folds(3, 5, 1)


def test_fold_splits_partition_documents_with_a_tenth_for_dev() -> None:
    documents = one_type_corpus("Gene", GENES, 50, 1)
    folds = make_folds(documents, 5, seed=7)
    tested = [d.id for fold in folds for d in fold.test]
    assert sorted(tested) == sorted(d.id for d in documents)  # each tested exactly once
    for fold in folds:
        train, dev, test = ({d.id for d in part} for part in (fold.train, fold.dev, fold.test))
        assert not (train & dev or train & test or dev & test)
        assert len(train | dev | test) == 50 and len(dev) == 4  # 10 % of the 40 others


# ---------------------------------------------------------------- out-of-corpus
def _doc(doc_id: str, words: list[str], tags: list[str]) -> Document:
    return Document.from_tokens(doc_id, [words], [tags])


def test_ooc_maps_labels_and_scores_right_boundaries(tmp_path: Path) -> None:
    source, target = tmp_path / "A", tmp_path / "B"
    source.mkdir()
    target.mkdir()
    a = [_doc("a1", ["BRCA1", "binds", "DNA"], ["B-GENE", "O", "B-DNA"])]
    write_documents(a, source / "train.tsv", "conll")
    write_documents(a, source / "devel.tsv", "conll")
    b = [
        _doc("b1", ["the", "p53", "protein", "level"], ["O", "B-GGP", "I-GGP", "O"]),
        _doc("b2", ["KRAS", "and", "TP53"], ["B-GGP", "O", "B-GGP"]),
    ]
    for split, docs in (("train", b[:1]), ("devel", b[1:]), ("test", b[:1])):
        write_documents(docs, target / f"{split}.tsv", "conll")
    mapping = {"GGP": "GENE"}
    test_docs = load_documents(target, ("train", "devel", "test"), mapping)
    assert {s.label for d in test_docs for s in d.spans} == {"GENE"}
    assert len(test_docs) == 3  # all three splits of the test corpus
    assert shared_types(load_documents(source, ("train",), mapping), test_docs) == ["GENE"]
    job = ooc_jobs(source, target, seeds=[1], label_map=mapping)[0]
    data = job.build()
    assert data.mode == "right" and data.types == ["GENE"] and data.head == "A"
    # Without the mapping the corpora share no type: a clear error, not F1 = 0.
    with pytest.raises(BionerError, match="share no entity type"):
        ooc_jobs(source, target, seeds=[1])

    gold = test_docs[0]  # "the p53 protein level": GENE = "p53 protein"
    protein = gold.text.index("protein")
    predicted = gold.with_spans(
        [Span(protein, protein + len("protein"), "GENE"), Span(0, 3, "DNA")]
    )
    right = evaluate_documents([gold], [predicted], mode="right", types=data.types, align="order")
    assert (right.micro.tp, right.micro.fp, right.micro.fn) == (1, 0, 0)  # DNA not scored
    exact = evaluate_documents([gold], [predicted], mode="exact", types=data.types, align="order")
    assert exact.micro.tp == 0


# ---------------------------------------------------------------- statistics
def test_t_test_matches_hand_arithmetic_and_scipy() -> None:
    method, baseline = [0.80, 0.82, 0.84], [0.70, 0.72, 0.74]
    # pooled sd 0.02, standard error 0.02 * sqrt(2/3), df 4
    expected_t = 0.10 / (0.02 * math.sqrt(2 / 3))
    result = t_test(method, baseline)
    assert result.statistic == pytest.approx(expected_t)
    assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(expected_t, 4))
    assert result.p_value == pytest.approx(0.003602, abs=1e-5)
    assert significance_mark(result.p_value) == "**"
    paired = t_test([0.5, 0.7, 0.65], [0.4, 0.5, 0.6], paired=True)
    assert paired.p_value == pytest.approx(
        scipy_stats.ttest_rel([0.5, 0.7, 0.65], [0.4, 0.5, 0.6]).pvalue
    )
    assert math.isnan(t_test([0.5], [0.4, 0.6]).p_value)
    summary = summarize([0.8, 0.9, 1.0])
    assert (summary.mean, summary.sd, summary.n) == pytest.approx((0.9, 0.1, 3))
    assert summary.format() == "90.00 ± 10.00"
    assert significance_mark(0.03) == "*" and significance_mark(0.2) == ""


def test_tables_have_saber_shapes_and_marks(tmp_path: Path) -> None:
    rows = [
        ComparisonRow("Disease", "NCBI-disease", [0.70, 0.72, 0.74], [0.80, 0.82, 0.84]),
        ComparisonRow("Disease", "BC5CDR-disease", [0.5, 0.6], [0.55, 0.6]),
    ]
    ic = in_corpus_table(rows, "BL", "VD")
    assert "| Entity | Corpus | BL Avg. | BL σ | VD Avg. | VD σ | p | n |" in ic
    assert "| Disease | NCBI-disease | 72.00 | 2.00 | 82.00** | 2.00 |" in ic
    assert "|  | BC5CDR-disease |" in ic  # entity named once per group
    ooc_rows = [ComparisonRow("Disease", "NCBI-disease", [0.7], [0.8], test="BC5CDR-disease")]
    ooc = out_of_corpus_table(ooc_rows, "BL", "MTM")
    assert "| Disease | NCBI-disease | BC5CDR-disease | 70.00 | 80.00 | 10.00 | – | 1/1 |" in ooc
    table4 = generalization_table([GeneralizationRow("Disease", "A", "B", [0.9], [0.6])])
    assert "| Disease | A | B | 90.00 | 60.00 | 30.00 |" in table4
    png = violin_plot(
        {"IC": {"BL": [0.7, 0.8], "VD": [0.9]}, "OOC": {"BL": [0.5, 0.6]}}, tmp_path / "fig.png"
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- resumable run sets
def test_run_all_skips_runs_whose_json_exists(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    done = {"run_id": "seed1", "f1": 0.5, "best_epoch": 1, "train_seconds": 0.0}
    (tmp_path / "runs" / "seed1.json").write_text(json.dumps(done))

    def never() -> None:
        raise AssertionError("a finished run was trained again")

    records = run_all(
        [RunJob("seed1", 1, never)], ModelSettings("saber-baseline"), tmp_path, quiet=True
    )
    assert records == [done]


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpora")
    folders = []
    for name, label, pool, seed in (("genesA", "GENE", GENES, 1), ("genesB", "GGP", GENES, 2)):
        folder = root / name
        folder.mkdir()
        documents = one_type_corpus(label, pool, 16, seed)
        write_documents(documents[:8], folder / "train.tsv", "conll")
        write_documents(documents[8:12], folder / "devel.tsv", "conll")
        write_documents(documents[12:], folder / "test.tsv", "conll")
        folders.append(folder)
    disease = root / "diseases"
    disease.mkdir()
    for split, seed in (("train", 3), ("devel", 4)):
        write_documents(
            one_type_corpus("Disease", DISEASES, 4, seed), disease / f"{split}.tsv", "conll"
        )
    return folders[0], folders[1]


def invoke(*args: object):
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    return CliRunner().invoke(app.app, [str(a) for a in args])


def test_cv_command_writes_runs_results_table_plot_and_resumes(
    two_corpora: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = two_corpora[0]
    out = tmp_path / "cv"
    common = [
        "experiment",
        "cv",
        "saber-baseline",
        "--corpus",
        corpus,
        "--folds",
        2,
        "--seeds",
        "1",
        "-o",
        out,
        "--epochs",
        1,
        "--quiet",
    ]
    for value in SMALL:
        common += ["--set", value]
    result = invoke(*common)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "seed1-fold0.json",
        "seed1-fold1.json",
    ]
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "cv" and results["summary"]["n"] == 2
    assert {r["mode"] for r in results["runs"]} == {"exact"}
    assert (out / "table.md").read_text().count("seed1-fold") == 2
    assert (out / "violin.png").is_file()
    assert not (out / "work").exists() or not any((out / "work").iterdir())  # models removed

    runner = importlib.import_module("bioner.experiments.runner")

    def fail(*_args, **_kwargs):
        raise AssertionError("resume must not train finished runs")

    monkeypatch.setattr(runner, "execute", fail)
    again = invoke(*common)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "results.json").read_text())["runs"] == results["runs"]


def test_ooc_command_with_map_partner_and_baseline(
    two_corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = two_corpora
    partner = train.parent / "diseases"
    base_args = [
        "experiment",
        "ooc",
        "saber-baseline",
        "--train",
        train,
        "--test",
        test,
        "--seeds",
        "1,2",
        "--epochs",
        1,
        "--map",
        "GGP=GENE",
        "--quiet",
    ]
    for value in SMALL:
        base_args += ["--set", value]
    bl = tmp_path / "bl"
    assert invoke(*base_args, "-o", bl, "--name", "BL").exit_code == 0
    mtm = tmp_path / "mtm"
    result = invoke(
        *base_args,
        "-o",
        mtm,
        "--name",
        "MTM",
        "--partner",
        partner,
        "--baseline",
        bl / "results.json",
    )
    assert result.exit_code == 0, result.output
    results = json.loads((mtm / "results.json").read_text())
    run = results["runs"][0]
    assert run["mode"] == "right" and run["scored_types"] == ["GENE"]
    assert run["partners"] == ["diseases"] and set(run["train_sentences"]) == {"genesA", "diseases"}
    assert run["test_sentences"] == 16  # all splits of the test corpus
    comparison = results["baseline"]
    assert comparison["name"] == "BL" and comparison["t_test"]["paired"] is True
    assert "Baseline BL" in (mtm / "table.md").read_text()


def test_cv_refuses_bad_options_before_any_run(tmp_path: Path) -> None:
    """`--folds 0` ran nothing and crashed on the empty summary; `--epochs 0` was a pydantic
    traceback; an OUTPUT that is a file a NotADirectoryError; a missing `--baseline` was only
    found after every run had trained."""
    corpus = tmp_path / "no-corpus"  # never read: each check comes first
    out = tmp_path / "cv"
    common = ["experiment", "cv", "saber-baseline", "--corpus", corpus]
    for option, value in (("--folds", "0"), ("--epochs", "0"), ("--max-train-sentences", "0")):
        result = invoke(*common, "-o", out, option, value)
        assert result.exit_code == 2 and option in result.output
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    result = invoke(*common, "-o", taken)
    assert isinstance(result.exception, BionerError)
    assert "--output must be a folder" in str(result.exception)
    result = invoke(*common, "-o", out, "--baseline", tmp_path / "missing.json")
    assert isinstance(result.exception, BionerError)
    assert "missing.json: cannot read results" in str(result.exception)
    assert not out.exists()


# ---------------------------------------------------------------- audit regressions
def test_a_finished_run_of_another_experiment_is_not_reused(tmp_path: Path) -> None:
    """Run ids name only seed and fold: rerunning into the same OUTPUT with `--folds 3` after
    `--folds 2`, or another config or `--epochs`, silently reused the old runs and mixed two
    experiments in one mean."""
    (tmp_path / "runs").mkdir()
    settings = ModelSettings("saber-baseline", epochs=2)
    info = {"kind": "cv", "corpus": "A", "fold": 0, "folds": 2}
    done = {"run_id": "seed1-fold0", "seed": 1, **info, "f1": 0.5, "best_epoch": 1}
    done["settings"] = settings.describe()
    (tmp_path / "runs" / "seed1-fold0.json").write_text(json.dumps(done))

    def never() -> None:
        raise AssertionError("a finished run was trained again")

    same = RunJob("seed1-fold0", 1, never, dict(info))
    assert run_all([same], settings, tmp_path, quiet=True) == [done]
    other_folds = RunJob("seed1-fold0", 1, never, {**info, "folds": 3})
    with pytest.raises(BionerError, match=r"folds 2 \(now 3\)"):
        run_all([other_folds], settings, tmp_path, quiet=True)
    with pytest.raises(BionerError, match=r"other settings.*'epochs': 2"):
        run_all([same], ModelSettings("saber-baseline", epochs=5), tmp_path, quiet=True)


def test_types_the_corpus_lacks_are_refused(two_corpora: tuple[Path, Path]) -> None:
    """`--types GENE,DNA` (one name) or a name before `--map` filtered every mention away:
    each run trained and scored on nothing and reported F1 = 0."""
    genes_a, genes_b = two_corpora
    with pytest.raises(BionerError, match="no mention of type GENE,DNA"):
        cv_jobs(genes_a, folds=2, seeds=[1], types=["GENE,DNA"])
    assert cv_jobs(genes_a, folds=2, seeds=[1], types=["GENE"])[0].info["scored_types"] == ["GENE"]
    with pytest.raises(BionerError, match=r"genesB: no mention of type GENE.*its types: GGP"):
        ooc_jobs(genes_a, genes_b, seeds=[1], types=["GENE"])
    jobs = ooc_jobs(genes_a, genes_b, seeds=[1], types=["GENE"], label_map={"GGP": "GENE"})
    assert jobs[0].info["scored_types"] == ["GENE"]


def test_a_map_of_a_type_no_corpus_has_is_refused(
    two_corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    """`--map GPP=GENE` (a typo for GGP) renamed nothing: every run trained and scored as if
    it had not been given. It is refused before any run, naming the unknown type and the types
    there are, as `evaluate --map` does; a type that only a partner has may be mapped."""
    genes_a, genes_b = two_corpora
    diseases = genes_a.parent / "diseases"
    with pytest.raises(BionerError) as refused:
        cv_jobs(genes_a, folds=2, seeds=[1], label_map={"GPP": "GENE"})
    assert str(refused.value) == (
        f"--map GPP: no mention in {genes_a} (train+devel) has this type; types present: GENE"
    )
    with pytest.raises(BionerError) as refused:
        ooc_jobs(genes_a, genes_b, seeds=[1], label_map={"GGP": "GENE", "GPP": "GENE"})
    message = str(refused.value)
    assert message.startswith("--map GPP: no mention in ")
    assert f"{genes_b} (train+devel+test)" in message
    assert message.endswith("has this type; types present: GENE, GGP")
    jobs = cv_jobs(genes_a, folds=2, seeds=[1], partners=[diseases], label_map={"Disease": "DIS"})
    partner = jobs[0].build().train["diseases"]
    assert {s.label for d in partner for s in d.spans} == {"DIS"}

    out = tmp_path / "ooc"
    args = ["experiment", "ooc", "saber-baseline", "--train", genes_a, "--test", genes_b]
    result = invoke(*args, "--map", "GPP=GENE", "-o", out, "--quiet")
    assert isinstance(result.exception, BionerError)
    assert str(result.exception).startswith("--map GPP: no mention in ")
    assert not out.exists()


def test_a_baseline_that_cannot_be_written_back_is_refused_before_the_runs(
    tmp_path: Path,
) -> None:
    """A `--baseline` whose name held a `\\ud800` escape was read, and table.md then failed
    with a UnicodeEncodeError traceback after every run had trained; bytes that are not
    UTF-8 were a UnicodeDecodeError traceback."""
    baseline = tmp_path / "results.json"
    baseline.write_text('{"name": "BL\\ud800", "runs": []}')
    with pytest.raises(BionerError) as refused:
        check_before_runs(tmp_path / "out", baseline)
    assert str(refused.value) == (
        f"{baseline}: results.name holds a lone surrogate \\ud800 (not a character) at character 2"
    )
    baseline.write_bytes(b'{"name": "BL\xff", "runs": []}')
    with pytest.raises(BionerError, match=r"results\.json: cannot read results \(not UTF-8"):
        check_before_runs(tmp_path / "out", baseline)


def test_ooc_violin_panel_names_the_matching_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`experiment ooc --mode exact` labelled its plot "OOC (right boundary)"."""
    plots = importlib.import_module("bioner.experiments.plots")
    experiment = importlib.import_module("bioner.cli.experiment")
    drawn: list[str] = []
    monkeypatch.setattr(plots, "violin_plot", lambda panels, path: drawn.extend(panels))
    records = [
        {"run_id": f"seed{s}", "precision": 0.5, "recall": 0.5, "f1": 0.5, "best_epoch": 1}
        for s in (1, 2)
    ]
    experiment.finish("ooc", "BL", records, {"mode": "exact"}, tmp_path, None)
    experiment.finish("cv", "BL", records, {}, tmp_path, None)
    assert drawn == ["OOC (exact)", "IC (exact)"]
