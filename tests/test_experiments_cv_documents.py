"""`experiment cv --documents`: sentence-per-document corpora cross-validated by abstract.

The staged CoNLL corpora have one document per sentence, so folds drawn by document put one
abstract's sentences in training and test folds (its abbreviations and repeated names leak
and inflate CV F1). These tests build a few fake abstracts, their sentences as a CoNLL
corpus and the abstracts as PubTator references.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bioner.data.document import Document
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.experiments.cv import cv_jobs, make_folds
from bioner.experiments.runner import ModelSettings, RunJob, run_all
from bioner.training.data import hold_out
from test_experiments import SMALL, invoke

ABSTRACTS = 12  # 2 folds: 6 abstracts train each, round(10 %) = 1 of them is its dev set
IN_TRAIN = 9  # abstracts 0-8 in train.tsv, 9-11 in devel.tsv
SENTENCES = 3
GENES = ["BRCA1", "TP53", "KRAS", "EGFR"]


def sentence_words(abstract: int, sentence: int) -> list[str]:
    gene = GENES[(abstract + sentence) % len(GENES)]
    return ["Study", f"A{abstract}", "sentence", f"S{sentence}", "shows", gene, "."]


def abstract_of(document: Document) -> str:
    return document.text.split()[1]  # "A3"


@pytest.fixture
def abstracts(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Corpus folder (sentences of IN_TRAIN abstracts in train, the rest in devel) and one
    PubTator file per split."""
    corpus = tmp_path / "fake-corpus"
    corpus.mkdir()
    sentences = {
        (a, s): Document.from_tokens(
            f"a{a}s{s}", [sentence_words(a, s)], [["O"] * 5 + ["B-GENE", "O"]]
        )
        for a in range(ABSTRACTS)
        for s in range(SENTENCES)
    }
    references = []
    for split, members in (("train", range(IN_TRAIN)), ("devel", range(IN_TRAIN, ABSTRACTS))):
        docs = [sentences[a, s] for a in members for s in range(SENTENCES)]
        write_documents(docs, corpus / f"{split}.tsv", "conll")
        lines = []
        for a in members:
            title, *rest = [" ".join(sentence_words(a, s)) for s in range(SENTENCES)]
            lines += [f"{1000 + a}|t|{title}", f"{1000 + a}|a|{' '.join(rest)}", ""]
        reference = tmp_path / f"{split}.PubTator.txt"
        reference.write_text("\n".join(lines) + "\n", encoding="utf-8")
        references.append(reference)
    return corpus, references


def folds_of(corpus: Path, references: list[Path], seeds: list[int]) -> list[dict]:
    """Per run: the abstracts and sentences (texts) of its train, dev and test parts."""
    parts = []
    for job in cv_jobs(corpus, folds=2, seeds=seeds, references=references):
        data = job.build()
        named = {"train": data.train[data.head], "dev": data.dev[data.head], "test": data.test}
        parts.append(
            {f"{k}_abstracts": {abstract_of(d) for d in v} for k, v in named.items()}
            | {f"{k}_sentences": [d.text for d in v] for k, v in named.items()}
            | {"seed": job.seed}
        )
    return parts


def test_documents_keep_every_abstract_in_one_fold(abstracts: tuple[Path, list[Path]]) -> None:
    corpus, references = abstracts
    runs = folds_of(corpus, references, seeds=[1, 2, 3])
    for run in runs:
        train, dev, test = run["train_abstracts"], run["dev_abstracts"], run["test_abstracts"]
        assert not (test & train or test & dev or train & dev)
    for seed in (1, 2, 3):
        tested = [t for run in runs if run["seed"] == seed for t in run["test_sentences"]]
        every = [" ".join(sentence_words(a, s)) for a in range(ABSTRACTS) for s in range(SENTENCES)]
        assert sorted(tested) == sorted(every)  # each sentence tested exactly once per seed
    # Without --documents the same corpus is dealt by sentence: abstracts are split.
    ungrouped = folds_of(corpus, [], seeds=[1, 2, 3])
    assert any(run["test_abstracts"] & run["train_abstracts"] for run in ungrouped)


def test_grouped_runs_record_the_references_and_refuse_ungrouped_runs(
    abstracts: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """A rerun into the same OUTPUT with or without --documents must not mix both fold kinds;
    a run file from before `grouped_by` existed had sentence-level folds."""
    corpus, references = abstracts
    grouped = cv_jobs(corpus, folds=2, seeds=[1], references=references)[0]
    assert grouped.info["grouped_by"] == ["train.PubTator.txt", "devel.PubTator.txt"]
    assert grouped.info["fold_groups"] == ABSTRACTS
    plain = cv_jobs(corpus, folds=2, seeds=[1])[0]
    assert plain.info["grouped_by"] is None
    settings = ModelSettings("saber-baseline")
    (tmp_path / "runs").mkdir()
    old = {"run_id": plain.run_id, "seed": 1, "kind": "cv", "f1": 0.5, "best_epoch": 1}
    (tmp_path / "runs" / f"{plain.run_id}.json").write_text(json.dumps(old))

    def never() -> None:
        raise AssertionError("a finished run was trained again")

    assert run_all([RunJob(plain.run_id, 1, never, plain.info)], settings, tmp_path, quiet=True)
    with pytest.raises(BionerError, match=r"grouped_by None \(now \['train.PubTator.txt'"):
        run_all([RunJob(grouped.run_id, 1, never, grouped.info)], settings, tmp_path, quiet=True)


def test_a_sentence_missing_from_the_references_is_a_one_line_error(
    abstracts: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    corpus, references = abstracts
    with pytest.raises(BionerError) as error:
        cv_jobs(corpus, folds=2, seeds=[1], references=references[:1])  # no devel abstracts
    message = str(error.value)
    assert "\n" not in message and "cannot group by --documents" in message
    assert f"A{IN_TRAIN} sentence S0" in message  # the first devel sentence
    with pytest.raises(BionerError, match="no such file"):
        cv_jobs(corpus, folds=2, seeds=[1], references=[tmp_path / "missing.txt"])


def test_sentence_level_folds_are_warned_about_once(
    abstracts: tuple[Path, list[Path]], caplog: pytest.LogCaptureFixture
) -> None:
    corpus, references = abstracts
    with caplog.at_level(logging.WARNING, logger="bioner.experiments.cv"):
        cv_jobs(corpus, folds=2, seeds=[1, 2])
    warnings = [r.getMessage() for r in caplog.records if r.name == "bioner.experiments.cv"]
    assert len(warnings) == 1 and "--documents" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bioner.experiments.cv"):
        cv_jobs(corpus, folds=2, seeds=[1], references=references)
    assert not [r for r in caplog.records if r.name == "bioner.experiments.cv"]


def test_ungrouped_folds_are_the_ones_drawn_before_grouping() -> None:
    """Grouping must not change the folds (and dev sets) of existing ungrouped experiments."""
    documents = [Document.from_tokens(f"d{i}", [["word", str(i)]]) for i in range(23)]
    for fold in make_folds(documents, 5, seed=4):
        rest = [d for d in documents if d not in fold.test]
        assert (fold.train, fold.dev) == hold_out(rest, 0.1, 4_000 + fold.index)


def test_cv_command_with_documents_writes_grouped_runs(
    abstracts: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    corpus, references = abstracts
    out = tmp_path / "cv"
    args = ["experiment", "cv", "saber-baseline", "--corpus", corpus, "--folds", 2]
    args += ["--seeds", "1", "-o", out, "--epochs", 1, "--quiet"]
    for value in SMALL:
        args += ["--set", value]
    grouped = [*args, "--documents", references[0], "--documents", references[1]]
    result = invoke(*grouped)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["documents"] == [str(p) for p in references]
    assert results["settings"]["fold_groups"] == ABSTRACTS
    assert sum(run["test_sentences"] for run in results["runs"]) == ABSTRACTS * SENTENCES
    again = invoke(*args)  # the same OUTPUT without --documents: refused, not mixed
    assert isinstance(again.exception, BionerError)
    assert "grouped_by" in str(again.exception)
