"""One experiment run (train a model, score it on held-out documents) and many runs, resumably.

Cross-validation and out-of-corpus evaluation differ only in which documents a run trains,
validates and tests on and how it matches spans; everything else — config overrides, seed,
transfer from a source model, multi-task partner corpora, scoring, writing one JSON per run
and skipping runs whose JSON exists — lives here once. A run interrupted mid-training
resumes from its own checkpoint (the Trainer's), so a killed grid loses at most one epoch.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bioner.config import load_config
from bioner.data.atomic import atomic_write
from bioner.data.corpus import load_corpus
from bioner.data.document import Document
from bioner.data.labels import absent_types
from bioner.errors import BionerError
from bioner.experiments.results import differing_settings
from bioner.text import make_tokenizer
from bioner.training.config import apply_limits
from bioner.training.data import ensure_tokenized, hold_out, relabel

console = Console(stderr=True)


@dataclass
class ModelSettings:
    """How every run of an experiment builds and trains its model."""

    config: str
    overrides: list[str] = field(default_factory=list)
    epochs: int | None = None
    max_train_sentences: int | None = None
    max_eval_sentences: int | None = None
    init_from: str | None = None
    threads: int | None = None
    keep_models: bool = False
    dev_fraction: float = 0.1

    def describe(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "overrides": self.overrides,
            "epochs": self.epochs,
            "max_train_sentences": self.max_train_sentences,
            "max_eval_sentences": self.max_eval_sentences,
            "init_from": self.init_from,
            "dev_fraction": self.dev_fraction,
        }


@dataclass
class RunData:
    """What one run trains on (head → documents), validates on, and tests with which head."""

    train: dict[str, list[Document]]
    dev: dict[str, list[Document]]
    test: list[Document]
    head: str
    mode: str
    types: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunJob:
    """A run's id (its JSON file name), seed, and a deferred builder of its data."""

    run_id: str
    seed: int
    build: Callable[[], RunData]
    info: dict[str, Any] = field(default_factory=dict)


#: The splits an experiment trains on (and cross-validates), of a corpus or partner.
TRAIN_SPLITS = ("train", "devel")


def _read_splits(path: str | Path, splits: Sequence[str]) -> list[Document]:
    """The named splits of a corpus folder, tokenized, with the corpus's own type names."""
    corpus = load_corpus(path)
    missing = [s for s in splits if s not in corpus.splits]
    if len(missing) == len(splits):
        raise BionerError(f"{path}: none of the splits {list(splits)} found")
    documents: list[Document] = []
    tokenizer = make_tokenizer("default")
    for split in splits:
        if split in corpus.splits:
            documents.extend(ensure_tokenized(list(corpus.documents(split)), tokenizer))
    return documents


def _select_types(
    documents: list[Document],
    path: str | Path,
    splits: Sequence[str],
    label_map: dict[str, str] | None,
    types: Sequence[str] | None,
    *,
    require_types: bool,
) -> list[Document]:
    """`documents` relabelled by `label_map` and filtered to `types` (see `load_documents`)."""
    documents = relabel(documents, label_map or {}, None)
    if require_types and types:
        missing, present = absent_types(types, documents)
        if missing:
            raise BionerError(
                f"{path}: no mention of type {', '.join(missing)} in {'+'.join(splits)} "
                f"(after --map); its types: {present}"
            )
    return relabel(documents, {}, types)


def load_documents(
    path: str | Path,
    splits: Sequence[str],
    label_map: dict[str, str] | None = None,
    types: Sequence[str] | None = None,
    *,
    require_types: bool = False,
) -> list[Document]:
    """The named splits of a corpus folder, tokenized, relabelled and filtered to `types`.

    `require_types`: every name in `types` must be annotated in these documents (after
    `label_map`). An experiment's `--types` that the corpus lacks (a typo, a name before
    mapping, `--types A,B` read as one name) would otherwise train and score every run on
    no mention at all, and report F1 = 0 after hours of training.
    """
    documents = _read_splits(path, splits)
    return _select_types(documents, path, splits, label_map, types, require_types=require_types)


def load_corpora(
    corpora: Sequence[tuple[str | Path, Sequence[str]]],
    partners: Sequence[str | Path],
    label_map: dict[str, str] | None,
    types: Sequence[str] | None,
) -> tuple[list[list[Document]], dict[str, list[Document]]]:
    """An experiment's (corpus, splits) pairs and partners, each read once before any run.

    Returns each corpus's documents as `load_documents(..., require_types=True)` gives them,
    and the partners' train+devel, relabelled only, keyed as `partner_data` caches them.
    Every OLD of `--map OLD=NEW` must be a type of one of them (as their files name it),
    like `evaluate --map`: a typo, or the name after mapping, would rename nothing and
    every run would silently train and score without the rename.
    """
    read = [(path, splits, _read_splits(path, splits)) for path, splits in corpora]
    partner_docs = {str(path): _read_splits(path, TRAIN_SPLITS) for path in partners}
    if label_map:
        everything = [d for *_, docs in read for d in docs]
        everything += [d for docs in partner_docs.values() for d in docs]
        unknown, present = absent_types(label_map, everything)
        if unknown:
            where = [f"{path} ({'+'.join(splits)})" for path, splits, _ in read]
            where += [f"{path} ({'+'.join(TRAIN_SPLITS)})" for path in partners]
            raise BionerError(
                f"--map {', '.join(unknown)}: no mention in {', '.join(where)} has this type; "
                f"types present: {present}"
            )
    selected = [
        _select_types(docs, path, splits, label_map, types, require_types=True)
        for path, splits, docs in read
    ]
    mapped = {key: relabel(docs, label_map or {}, None) for key, docs in partner_docs.items()}
    return selected, mapped


def first_sentences(documents: Sequence[Document], limit: int | None) -> list[Document]:
    """Whole documents, in order, until at least `limit` sentences (all when None)."""
    if limit is None:
        return list(documents)
    kept: list[Document] = []
    count = 0
    for document in documents:
        if count >= limit:
            break
        kept.append(document)
        count += len(document.sentences)
    return kept


def head_name(path: str | Path) -> str:
    """A corpus's decoder head is named after its folder (Saber: one output layer per corpus)."""
    return Path(path).resolve().name


def partner_data(
    partners: Sequence[str | Path],
    seed: int,
    dev_fraction: float,
    label_map: dict[str, str] | None,
    cache: dict[str, list[Document]],
) -> tuple[dict[str, list[Document]], dict[str, list[Document]]]:
    """Multi-task partners: all train+devel documents, `dev_fraction` of them held out.

    Partners keep all their entity types (mapped names): each has its own head, and a
    partner of another class would otherwise be left with nothing to learn.
    """
    train: dict[str, list[Document]] = {}
    dev: dict[str, list[Document]] = {}
    for path in partners:
        key = str(path)
        if key not in cache:
            cache[key] = load_documents(path, TRAIN_SPLITS, label_map)
        head = head_name(path)
        train[head], dev[head] = hold_out(cache[key], dev_fraction, seed)
    return train, dev


def execute(job: RunJob, settings: ModelSettings, work_dir: Path) -> dict[str, Any]:
    """Train and score one run; the returned record is what its JSON file holds."""
    from bioner.evaluation import evaluate_documents
    from bioner.tagger import Tagger
    from bioner.training.checkpoints import checkpoint_exists
    from bioner.training.trainer import Trainer
    from bioner.training.transfer import tagger_from_source

    experiment = load_config(settings.config, settings.overrides)
    experiment.training.seed = job.seed
    apply_limits(
        experiment.training,
        epochs=settings.epochs,
        max_train_sentences=settings.max_train_sentences,
        threads=settings.threads,
    )
    data = job.build()
    dev = {h: first_sentences(d, settings.max_eval_sentences) for h, d in data.dev.items()}
    test = first_sentences(data.test, settings.max_eval_sentences)
    if not test:
        raise BionerError(f"run {job.run_id}: no test documents")
    if settings.init_from:
        tagger = tagger_from_source(settings.init_from, experiment, data.train)
    else:
        tagger = Tagger.build(experiment, data.train)
    run_dir = work_dir / job.run_id
    resume = checkpoint_exists(run_dir / "checkpoint")
    trainer = Trainer(tagger, data.train, dev, run_dir, show_progress=False)
    result = trainer.train(resume=resume)
    best = Tagger.load(run_dir / "model")
    started = time.perf_counter()
    predicted = best.predict_documents(test, [data.head])
    predict_seconds = time.perf_counter() - started
    scores = evaluate_documents(test, predicted, mode=data.mode, types=data.types, align="order")
    record: dict[str, Any] = {
        "run_id": job.run_id,
        "seed": job.seed,
        **job.info,
        **data.info,
        "head": data.head,
        "mode": data.mode,
        "types": data.types,
        "precision": scores.micro.precision,
        "recall": scores.micro.recall,
        "f1": scores.micro.f1,
        "tp": scores.micro.tp,
        "fp": scores.micro.fp,
        "fn": scores.micro.fn,
        "best_epoch": result.best_epoch,
        "best_dev_f1": result.best_dev_f1,
        "epochs_run": result.epochs_run,
        "train_seconds": result.train_seconds,
        "predict_seconds": predict_seconds,
        "train_sentences": {
            h: sum(len(d.sentences) for d in docs) for h, docs in trainer.train_docs.items()
        },
        "test_sentences": sum(len(d.sentences) for d in test),
        "resumed": resume,
        "settings": settings.describe(),
    }
    if not settings.keep_models:
        shutil.rmtree(run_dir, ignore_errors=True)
    return record


# What a record written before a key existed meant by its absence (compared, not skipped).
_BEFORE_THE_KEY: dict[str, Any] = {"grouped_by": None, "fold_groups": None}


def check_reusable(
    record: dict[str, Any], job: RunJob, settings: ModelSettings, path: Path
) -> None:
    """Refuse a finished run's JSON made for another job or with other settings.

    Run ids only name the seed and fold, so rerunning into the same OUTPUT with another
    `--folds`, `--test`, `--map`, config or `--epochs` would otherwise reuse the old runs
    and mix two experiments in one mean. Keys a record lacks (older files) are not compared,
    except those in `_BEFORE_THE_KEY`, whose old meaning is known: a record without
    `grouped_by` had sentence-level folds, so `cv --documents` refuses it.
    """
    expected = {"seed": job.seed, **job.info, "settings": settings.describe()}
    recorded = {**_BEFORE_THE_KEY, **record}
    differ = differing_settings(expected, recorded)
    if differ:
        raise BionerError(
            f"{path}: this finished run was made with other settings: {'; '.join(differ)}. "
            "Use another --output (or delete the file to run it again)."
        )


def run_all(
    jobs: Sequence[RunJob],
    settings: ModelSettings,
    output: Path,
    *,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Every job's record, training only those without a `runs/<id>.json` (resume).

    An existing record is reused only when `check_reusable` finds it made for this job.
    """
    runs_dir = output / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet,
        transient=True,
        console=console,
    ) as progress:
        task = progress.add_task("runs", total=len(jobs))
        for job in jobs:
            path = runs_dir / f"{job.run_id}.json"
            if path.is_file():
                record = json.loads(path.read_text(encoding="utf-8"))
                check_reusable(record, job, settings, path)
                records.append(record)
                progress.advance(task)
                continue
            progress.update(task, description=f"run {job.run_id}")
            record = execute(job, settings, output / "work")
            with atomic_write(path) as handle:
                handle.write(json.dumps(record, indent=2))
            records.append(record)
            if not quiet:
                console.print(
                    f"{job.run_id}: F1 {100 * record['f1']:.2f} "
                    f"(best epoch {record['best_epoch']}, {record['train_seconds']:.0f} s)"
                )
            progress.advance(task)
    return records


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' → [1, 2, 3]; a clear error for anything else."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BionerError(f"--seeds {text!r}: expected comma-separated integers") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise BionerError(f"--seeds {text!r}: expected distinct non-negative integers")
    return seeds
