"""The training loop: epochs over one or several corpora, dev evaluation, checkpoints, resume.

One loop serves single-corpus training and multi-task training (Saber §2.7): every head
(corpus) is visited once per epoch in random order, each updating the shared layers and its
own decoder (`multitask_sampling` can interleave corpora instead, see
`bioner.training.multitask`). Dev F1 (exact, micro) is averaged over heads; it drives early
stopping and learning-rate annealing. Each epoch ends with a resumable `last` checkpoint;
the best model so far is also saved as a ready-to-load model directory.

Without dev documents (`dev=None`) the loop is a *refit*: once an epoch count has been chosen
on a dev run, the same recipe trains on every labelled document for exactly that many epochs
and keeps the last one. Early stopping is off, and annealing follows the training loss
instead of dev F1 (what Flair does when it trains with its dev split).
"""

from __future__ import annotations

import random
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bioner.data.document import Document
from bioner.encoding.batching import EncodedSentence
from bioner.encoding.vocabulary import UNK
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.tagger import Tagger
from bioner.training.checkpoints import (
    StateShape,
    checkpoint_exists,
    load_checkpoint,
    read_trainer_state,
    save_checkpoint,
)
from bioner.training.config import flat_settings
from bioner.training.metrics_log import MetricsLog
from bioner.training.multitask import multitask_schedule
from bioner.training.optimizers import build_optimizer, clip_gradients
from bioner.training.plots import plot_learning_curve
from bioner.training.schedules import (
    ANNEALER_STATE,
    STOPPER_STATE,
    EarlyStopping,
    PlateauAnnealer,
)
from bioner.training.seeding import configure_threads, seed_everything, select_device


@dataclass
class TrainingResult:
    """What a run achieved; `history` holds one dict per evaluated epoch."""

    output_dir: Path
    best_dev_f1: float
    best_epoch: int
    epochs_run: int
    train_seconds: float
    train_sentences_per_second: float
    peak_rss_mb: float
    stopped_because: str
    history: list[dict[str, Any]] = field(default_factory=list)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dev_f1(tagger: Tagger, dev: Mapping[str, Sequence[Document]]) -> dict[str, float]:
    """Exact-match micro F1 on each head's dev documents."""
    scores: dict[str, float] = {}
    for head, documents in dev.items():
        predicted = tagger.predict_documents(documents, [head])
        result = evaluate_documents(documents, predicted, mode="exact", align="order")
        scores[head] = result.micro.f1
    return scores


class Trainer:
    """Trains a Tagger on `train` (head → documents), choosing the best epoch on `dev`.

    `dev=None` refits: a fixed number of epochs, the last one kept (see the module docstring).
    """

    def __init__(
        self,
        tagger: Tagger,
        train: Mapping[str, Sequence[Document]],
        dev: Mapping[str, Sequence[Document]] | None,
        output_dir: str | Path,
        *,
        show_progress: bool = True,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        missing = set(train) - set(tagger.tags)
        if missing:
            raise BionerError(f"no decoder head for corpora {sorted(missing)}")
        if dev is not None and (not dev or any(not docs for docs in dev.values())):
            raise BionerError(
                "training needs dev documents for every corpus (or dev_fraction); "
                "to refit on everything for a fixed number of epochs, train without dev"
            )
        self.tagger = tagger
        self.train_docs = {head: list(docs) for head, docs in train.items()}
        self.config = tagger.config.training
        self.dev_docs = None if dev is None else self._selection_dev(dev)
        self.output_dir = Path(output_dir)
        self.show_progress = show_progress
        self.on_epoch = on_epoch
        limit = self.config.max_train_sentences
        if limit is not None:
            self.train_docs = {h: _first_sentences(d, limit) for h, d in self.train_docs.items()}
        # Each corpus is encoded once; epochs only redraw the UNK replacement.
        self._encoded = {head: tagger.encode(docs, head) for head, docs in self.train_docs.items()}
        self._singletons = self._training_singletons()

    # ------------------------------------------------------------------ helpers
    def _selection_dev(self, dev: Mapping[str, Sequence[Document]]) -> dict[str, list[Document]]:
        """The dev documents of the heads that select the model (training.selection_heads)."""
        heads = self.config.selection_heads
        if heads is None:
            return {head: list(docs) for head, docs in dev.items()}
        unknown = [head for head in heads if head not in dev]
        if unknown:
            raise BionerError(
                f"training.selection_heads names {unknown}, which are not heads of this run "
                f"(heads: {sorted(dev)})"
            )
        return {head: list(dev[head]) for head in heads}

    def _epoch_sentences(
        self, head: str, unk_replace_prob: float, rng: random.Random
    ) -> list[EncodedSentence]:
        """The head's training sentences as ids, training singletons → UNK at random."""
        encoded = self._encoded[head]
        if not unk_replace_prob or not self._singletons:
            return encoded
        unk, singletons = self.tagger.words.id(UNK), self._singletons
        return [
            EncodedSentence(
                s.words,
                [
                    unk if i in singletons and rng.random() < unk_replace_prob else i
                    for i in s.word_ids
                ],
                s.tag_ids,
            )
            for s in encoded
        ]

    def _training_singletons(self) -> frozenset[int]:
        counts: Counter[int] = Counter()
        for sentences in self._encoded.values():
            for sentence in sentences:
                counts.update(sentence.word_ids)
        return frozenset(i for i, n in counts.items() if n == 1)

    def _batch_options(self) -> dict[str, Any]:
        size = self.config.batch_size
        tokens = self.config.batch_tokens
        if size is None and tokens is None:
            size = 32
        return {
            "batch_size": size,
            "batch_tokens": tokens,
            "bucket": self.config.bucket_by_length,
            "shuffle": self.config.shuffle,
        }

    # ------------------------------------------------------------------ the loop
    def train(self, *, resume: bool = False) -> TrainingResult:
        config = self.config
        configure_threads(config.num_threads)
        device = select_device(config.device)
        seed_everything(config.seed)
        model = self.tagger.model.to(device)
        optimizer = build_optimizer(model.parameters(), config)
        annealer = (
            PlateauAnnealer(config.anneal_factor, config.anneal_patience, config.min_learning_rate)
            if config.anneal_factor
            else None
        )
        refit = self.dev_docs is None
        stopper = (
            EarlyStopping(config.early_stopping_patience)
            if config.early_stopping_patience and not refit
            else None
        )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        checkpoint_dir = self.output_dir / "checkpoint"
        state: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "best_f1": -1.0,
            "best_epoch": 0,
            "train_seconds": 0.0,
            "train_sentences": 0,
            "history": [],
        }
        fingerprint = self.tagger.vocabulary_fingerprint()
        settings = _settings_record(self.tagger)
        if resume:
            if not checkpoint_exists(checkpoint_dir):
                raise BionerError(f"{checkpoint_dir / 'last'}: no checkpoint to resume from")
            saved = read_trainer_state(checkpoint_dir, "last", TRAINER_STATE_SHAPE)
            if saved.get("vocabulary") not in (None, fingerprint):
                raise BionerError(
                    f"{checkpoint_dir}: the checkpoint was trained with other vocabularies "
                    "(different data or preprocessing); cannot resume"
                )
            _check_same_settings(saved.get("settings"), settings, checkpoint_dir)
            state = load_checkpoint(
                checkpoint_dir, model, optimizer, tag="last", shape=TRAINER_STATE_SHAPE
            )
            if annealer is not None and "annealer" in state:
                annealer.load_state_dict(state["annealer"])
            if stopper is not None and "stopper" in state:
                stopper.load_state_dict(state["stopper"])
        elif checkpoint_exists(checkpoint_dir):
            raise BionerError(
                f"{self.output_dir} already holds a training run; use --resume or another --output"
            )
        state["vocabulary"] = fingerprint
        state["settings"] = settings
        log = MetricsLog(
            self.output_dir / "metrics.jsonl",
            fresh=not resume,
            keep_until_step=state["step"] if resume else None,
        )
        stopped_because = "max epochs"
        word_config = self.tagger.config.model.embedder.word
        memo = _frozen_embedding_memo(model, config.memo_frozen_embeddings)
        with _progress(self.show_progress) as progress, memo:
            while state["epoch"] < config.epochs:
                epoch = state["epoch"] + 1
                # One RNG per epoch, derived from the seed: a resumed run replays the same order.
                rng = random.Random(config.seed * 1_000_003 + epoch)
                model.train()
                started = time.perf_counter()
                heads = list(self.train_docs)
                rng.shuffle(heads)
                losses: list[float] = []
                sentences_seen = 0
                per_head: dict[str, list[Any]] = {}
                for head in heads:
                    encoded = self._epoch_sentences(head, word_config.unk_replace_prob, rng)
                    per_head[head] = list(
                        self.tagger.batches(encoded, rng=rng, **self._batch_options())
                    )
                schedule = multitask_schedule(
                    {head: len(batches) for head, batches in per_head.items()},
                    config.multitask_sampling,
                    rng,
                    temperature=config.sampling_temperature,
                    order=heads,
                )
                cursors = dict.fromkeys(per_head, 0)
                task = progress.add_task(f"epoch {epoch}", total=len(schedule))
                for head in schedule:
                    batches = per_head[head]
                    # Temperature sampling may ask a corpus for more batches than it has: cycle.
                    batch = batches[cursors[head] % len(batches)].to(device)
                    cursors[head] += 1
                    optimizer.zero_grad(set_to_none=True)
                    loss = model.loss(batch, head)
                    loss.backward()
                    if config.clip_grad_norm:
                        clip_gradients(model.parameters(), config.clip_grad_norm)
                    optimizer.step()
                    losses.append(loss.item())
                    sentences_seen += len(batch.order)
                    state["step"] += 1
                    progress.update(task, advance=1, description=f"epoch {epoch} {head}")
                progress.remove_task(task)
                seconds = time.perf_counter() - started
                state["train_seconds"] += seconds
                state["train_sentences"] += sentences_seen
                state["epoch"] = epoch
                record: dict[str, Any] = {
                    "epoch": epoch,
                    "step": state["step"],
                    "train_loss": sum(losses) / max(len(losses), 1),
                    "learning_rate": optimizer.param_groups[0]["lr"],
                    "seconds": seconds,
                    "sentences_per_second": sentences_seen / seconds if seconds else 0.0,
                }
                improved = False
                if refit:
                    if annealer is not None and annealer.step(-record["train_loss"], optimizer):
                        stopped_because = "learning rate annealed below the minimum"
                    if stopped_because != "max epochs" or epoch == config.epochs:
                        self.tagger.meta.update({"best_epoch": epoch, "selection": "last epoch"})
                        self.tagger.save(self.output_dir / "model", overwrite=True)
                        state["best_epoch"] = epoch
                elif epoch % config.eval_every_epochs == 0 or epoch == config.epochs:
                    assert self.dev_docs is not None
                    per_head = dev_f1(self.tagger, self.dev_docs)
                    mean_f1 = sum(per_head.values()) / len(per_head)
                    record.update({"dev_f1": mean_f1, "dev_f1_per_corpus": per_head})
                    if mean_f1 > state["best_f1"]:
                        state["best_f1"], state["best_epoch"] = mean_f1, epoch
                        self.tagger.meta.update(
                            {"best_epoch": epoch, "dev_f1": mean_f1, "dev_f1_per_corpus": per_head}
                        )
                        self.tagger.save(self.output_dir / "model", overwrite=True)
                        improved = True
                    reasons = []
                    if annealer is not None and annealer.step(mean_f1, optimizer):
                        reasons.append("learning rate annealed below the minimum")
                    if stopper is not None and stopper.step(mean_f1, epoch):
                        reasons.append("early stopping")
                    if reasons:
                        stopped_because = " and ".join(reasons)
                record["elapsed_seconds"] = state["train_seconds"]
                log.append(record)
                state["history"].append(record)
                if annealer is not None:
                    state["annealer"] = annealer.state_dict()
                if stopper is not None:
                    state["stopper"] = stopper.state_dict()
                save_checkpoint(checkpoint_dir, model, optimizer, state, tag="last")
                if improved:
                    save_checkpoint(checkpoint_dir, model, optimizer, state, tag="best")
                if self.on_epoch is not None:
                    self.on_epoch(record)
                if stopped_because != "max epochs":
                    break
        plot_learning_curve(
            self.output_dir / "metrics.jsonl", self.output_dir / "learning_curve.png"
        )
        throughput = (
            state["train_sentences"] / state["train_seconds"] if state["train_seconds"] else 0.0
        )
        return TrainingResult(
            output_dir=self.output_dir,
            best_dev_f1=float("nan") if refit else state["best_f1"],
            best_epoch=state["best_epoch"],
            epochs_run=state["epoch"],
            train_seconds=state["train_seconds"],
            train_sentences_per_second=throughput,
            peak_rss_mb=peak_rss_mb(),
            stopped_because=stopped_because,
            history=state["history"],
        )


#: What `train` keeps in trainer_state.json (checked on resume: the file can be damaged or
#: hand-edited). The annealer and stopper hold their `state_dict`s, present when configured;
#: older checkpoints lack the vocabulary fingerprint and the settings record.
TRAINER_STATE_SHAPE = StateShape(
    {
        "epoch": int,
        "step": int,
        "best_f1": float,
        "best_epoch": int,
        "train_seconds": float,
        "train_sentences": int,
        "history": list,
    },
    optional={
        "vocabulary": str,
        "settings": dict,
        "annealer": ANNEALER_STATE,
        "stopper": STOPPER_STATE,
    },
)

#: Settings a resumed run may change: how long and where it runs (the word vectors only
#: initialize weights the checkpoint replaces), and rules that run after prediction.
_CHANGEABLE_ON_RESUME = frozenset(
    {
        "training.epochs",
        "training.num_threads",
        "training.device",
        "training.memo_frozen_embeddings",
        "model.embedder.word.vectors",
        "model.postprocess",
    }
)


def _settings_record(tagger: Tagger) -> dict[str, Any]:
    """The model and training settings as flat JSON values, `section.key` → value."""
    return {
        **flat_settings(tagger.config.model, "model"),
        **flat_settings(tagger.config.training, "training"),
    }


def _check_same_settings(saved: Any, current: dict[str, Any], checkpoint_dir: Path) -> None:
    """A resumed run must continue the run it resumes: the optimizer state restores the old
    learning rate and update rule, and a different model or schedule would silently mix two
    runs (an optimizer switch even crashed at the first step). Old checkpoints lack the record.
    """
    if not isinstance(saved, dict):
        return
    # Only keys both runs know: a setting new in this version keeps its default behaviour.
    changed = [
        f"{key} {saved[key]!r} → {current[key]!r}"
        for key in sorted(saved.keys() & current.keys())
        if key not in _CHANGEABLE_ON_RESUME and saved[key] != current[key]
    ]
    if changed:
        more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
        raise BionerError(
            f"{checkpoint_dir}: the checkpoint was trained with other settings "
            f"({'; '.join(changed[:3])}{more}); resume with the same config (only "
            "training.epochs may change) or train into another --output"
        )


def _first_sentences(documents: Sequence[Document], limit: int) -> list[Document]:
    """Whole documents until `limit` sentences are reached (the last one is cut)."""
    kept: list[Document] = []
    remaining = limit
    for document in documents:
        if remaining <= 0:
            break
        if len(document.sentences) <= remaining:
            kept.append(document)
            remaining -= len(document.sentences)
        else:
            sentences = document.sentences[:remaining]
            end = sentences[-1].end
            kept.append(
                Document(
                    id=document.id,
                    text=document.text,
                    sentences=sentences,
                    spans=[s for s in document.spans if s.end <= end],
                )
            )
            remaining = 0
    return kept


@contextmanager
def _frozen_embedding_memo(model: Any, enabled: bool) -> Iterator[None]:
    """Frozen contextual-LM states are the same every epoch: keep them for the run
    (`ContextualStringEmbedding.start_memo`) and drop them when it ends, however it ends."""
    contextual = model.embedder.contextual
    if not enabled or contextual is None:
        yield
        return
    contextual.start_memo()
    try:
        yield
    finally:
        contextual.stop_memo()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )
