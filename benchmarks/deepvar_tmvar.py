"""DeepVar on tmVar: train preset variants, score them on the test set, tabulate as the paper.

Why a script of its own: DeepVar's tables (5: DeepVar vs generic DNN vs vanilla Lample /
Ma & Hovy; char BiLSTM vs char CNN; 7: SGD / RMSprop / Adam) are comparisons between
presets on one corpus with no devel split, so every variant trains on tmVar train minus a
20 % document hold-out (the preset's `dev_fraction`, fixed `split_seed`), picks its best
epoch on that hold-out and is scored once on tmVar test with exact matching, per type and
overall. Each finished variant is one JSON file under `benchmarks/results/deepvar_tmvar/`;
running the command again skips those and resumes an interrupted variant from its last
checkpoint. The tables `deepvar_tmvar.md` / `.json` are rebuilt after every variant.

Reproduce (the committed figures came from this command, on a shared 2-core CPU):

    nice -n 19 .venv/bin/python benchmarks/deepvar_tmvar.py --epochs 15 --patience 4 \
        --set training.learning_rate=0.001

`--only NAME ...` runs a subset in the given order; `--budget-minutes M` stops starting new
variants after M minutes; `--sweep` runs the dev-only grid instead (see `SWEEP`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("BIONER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
NAME = "deepvar_tmvar"
TYPES = ("DNAMutation", "ProteinMutation", "SNP")

# The project's full cased word2vec build (docs/pretraining.md): training text only — the
# cased unlabeled folders and every corpus's training split, tmVar's included.
W2V = "runs/pretrain/w2v-cased-100.txt"
W2V_COMMAND = (
    f"bioner pretrain word2vec {W2V} --dim 100 --window 5 --min-count 5 --epochs 5 --sg "
    "--workers 2 --quiet"
)
SGD = ["training.optimizer=sgd", "training.momentum=0.9", "training.nesterov=true"]
ADAM = ["training.optimizer=adam"]
CHAR_LSTM = ['model.embedder.char.kind="lstm"']
# The `deepvar-fine` preset's changes, for the presets that do not extend it.
FINE = [
    'data.tokenizer="fine"',
    'model.embedder.char.alphabet="learned"',
    "model.embedder.word.normalize_digits=true",
    "training.optimizer=adam",
    "training.learning_rate=0.001",
]


@dataclass(frozen=True)
class Variant:
    name: str
    preset: str
    overrides: list[str] = field(default_factory=list)
    model: str = ""  # row label in the paper-shaped tables
    char: str = ""
    optimizer: str = "RMSprop"
    note: str = ""
    group: str = "paper"  # "paper": the paper's setting; "fine": our tmVar-style recipe
    refit: bool = False  # train on all of tmVar train for a fixed epoch count, no hold-out


def fine_w2v_seed(seed: int) -> Variant:
    """The generic network with our tmVar recipe and word2vec vectors, one more seed."""
    return Variant(
        f"generic-fine-w2v-seed{seed}",
        "generic",
        [*FINE, f'model.embedder.word.vectors="{W2V}"', f"training.seed={seed}"],
        "DNN",
        "CNN",
        "Adam",
        note=f"word2vec vectors, seed {seed}",
        group="fine",
    )


# The refit (`Trainer` without dev): a tmVar-style recipe retrained on all 334 training
# abstracts for the epoch count its dev runs chose (the median best epoch of the family's
# seeds: generic-fine-w2v 12, 11, 19, 13, 6; generic-fine 12, 11, 15; deepvar-fine 13, 18, 16),
# keeping the last epoch. Decided before any refit was scored on test.
REFIT_EPOCHS = {"generic-fine-w2v": 12, "generic-fine": 12, "deepvar-fine": 16}


def refit_name(name: str) -> str:
    """The refit counterpart of a run or vote: `generic-fine-seed2` → `generic-fine-refit-seed2`."""
    for marker in ("-seed", "-vote"):
        if marker in name:
            head, _, tail = name.partition(marker)
            return f"{head}-refit{marker}{tail}"
    return f"{name}-refit"


def refit(variant: Variant) -> Variant:
    """`variant` retrained on every training document for its family's REFIT_EPOCHS."""
    epochs = REFIT_EPOCHS[variant.name.partition("-seed")[0]]
    return Variant(
        refit_name(variant.name),
        variant.preset,
        [*variant.overrides, "data.dev_fraction=0.0", f"training.epochs={epochs}"],
        variant.model,
        variant.char,
        variant.optimizer,
        note=", ".join(filter(None, [variant.note, f"refit on all of train, {epochs} epochs"])),
        group="refit",
        refit=True,
    )


# Most important first (the runner goes in this order and a budget cuts the tail).
VARIANTS: list[Variant] = [
    Variant("deepvar-cnn", "deepvar", [], "DeepVar", "CNN"),
    Variant("deepvar-lstm", "deepvar", CHAR_LSTM, "DeepVar", "BiLSTM"),
    Variant("generic-cnn", "generic", [], "DNN", "CNN"),
    Variant("vanilla-lample", "vanilla-lample", [], "Vanilla (Lample)", "BiLSTM"),
    Variant("vanilla-ma-hovy", "vanilla-ma-hovy", [], "Vanilla (Ma & Hovy)", "CNN"),
    Variant("generic-lstm", "generic", CHAR_LSTM, "DNN", "BiLSTM"),
    Variant("deepvar-cnn-adam", "deepvar", ADAM, "DeepVar", "CNN", "Adam"),
    Variant("deepvar-cnn-sgd", "deepvar", SGD, "DeepVar", "CNN", "SGD"),
    Variant(
        "deepvar-cnn-general-tok",
        "deepvar",
        ['data.tokenizer="default"'],
        "DeepVar",
        "CNN",
        note="general tokenizer instead of the variant-aware one",
    ),
    Variant(
        "deepvar-cnn-w2v",
        "deepvar",
        [f'model.embedder.word.vectors="{W2V}"'],
        "DeepVar",
        "CNN",
        note="word2vec skip-gram vectors trained here (stand-in for BioW2V)",
    ),
    Variant(
        "deepvar-cnn-w2v-general-tok",
        "deepvar",
        [f'model.embedder.word.vectors="{W2V}"', 'data.tokenizer="default"'],
        "DeepVar",
        "CNN",
        note="word2vec vectors and the general tokenizer",
    ),
    Variant("generic-cnn-adam", "generic", ADAM, "DNN", "CNN", "Adam"),
    Variant("generic-cnn-sgd", "generic", SGD, "DNN", "CNN", "SGD"),
    # Ours: the `deepvar-fine` recipe (tmVar-style tokens, case-sensitive learned characters,
    # digits normalised in the word lookup, Adam 1e-3; see the preset's comments) on each
    # architecture, and three seeds of DeepVar for the vote below.
    Variant("deepvar-fine", "deepvar-fine", [], "DeepVar", "CNN", "Adam", group="fine"),
    Variant("generic-fine", "generic", FINE, "DNN", "CNN", "Adam", group="fine"),
    Variant("generic-fine-seed2", "generic", [*FINE, "training.seed=2"], "DNN", "CNN", "Adam",
            note="seed 2", group="fine"),
    Variant("generic-fine-seed3", "generic", [*FINE, "training.seed=3"], "DNN", "CNN", "Adam",
            note="seed 3", group="fine"),
    Variant("generic-fine-w2v", "generic", [*FINE, f'model.embedder.word.vectors="{W2V}"'],
            "DNN", "CNN", "Adam", note="word2vec vectors", group="fine"),
    *[fine_w2v_seed(seed) for seed in (2, 3, 4, 5)],
    Variant("generic-fine-bioes", "generic", [*FINE, 'model.tag_scheme="BIOES"'], "DNN", "CNN",
            "Adam", note="BIOES tags", group="fine"),
    Variant("deepvar-fine-seed2", "deepvar-fine", ["training.seed=2"], "DeepVar", "CNN", "Adam",
            note="seed 2", group="fine"),
    Variant("deepvar-fine-seed3", "deepvar-fine", ["training.seed=3"], "DeepVar", "CNN", "Adam",
            note="seed 3", group="fine"),
    Variant("deepvar-fine-lstm", "deepvar-fine", CHAR_LSTM, "DeepVar", "BiLSTM", "Adam",
            group="fine"),
    Variant("vanilla-lample-fine", "vanilla-lample", FINE, "Vanilla (Lample)", "BiLSTM", "Adam",
            group="fine"),
    Variant("vanilla-ma-hovy-fine", "vanilla-ma-hovy", FINE, "Vanilla (Ma & Hovy)", "CNN",
            "Adam", group="fine"),
]  # fmt: skip
VARIANTS += [refit(v) for v in VARIANTS if v.name.partition("-seed")[0] in REFIT_EPOCHS]

# Majority votes over finished variants' test predictions (bioner.ensemble.vote_spans).
VOTES: dict[str, list[str]] = {
    "deepvar-fine-vote": ["deepvar-fine", "deepvar-fine-seed2", "deepvar-fine-seed3"],
    "generic-fine-vote": ["generic-fine", "generic-fine-seed2", "generic-fine-seed3"],
    "generic-fine-w2v-vote": [
        "generic-fine-w2v",
        "generic-fine-w2v-seed2",
        "generic-fine-w2v-seed3",
    ],
    "generic-fine-w2v-vote5": [
        "generic-fine-w2v",
        "generic-fine-w2v-seed2",
        "generic-fine-w2v-seed3",
        "generic-fine-w2v-seed4",
        "generic-fine-w2v-seed5",
    ],
}
VOTES[refit_name("generic-fine-w2v-vote5")] = [
    refit_name(m) for m in VOTES["generic-fine-w2v-vote5"]
]
# The refit of variant_postprocessing.py's dev-chosen system (all eleven tmVar-style runs).
VOTES["all-fine-refit-vote"] = [v.name for v in VARIANTS if v.group == "refit"]

# Dev-only sweep over Table 4 values around the deepvar preset; never scored on test.
SWEEP: list[Variant] = [
    Variant("sweep-lr3e-3", "deepvar", ["training.learning_rate=0.003"]),
    Variant(
        "sweep-unk0.5",
        "deepvar",
        ["model.embedder.word.unk_replace_prob=0.5"],
        note="outside Table 4: Lample's singleton-to-UNK replacement",
    ),
    Variant(
        "sweep-dropout0.5",
        "deepvar",
        [
            "model.embedder.dropout=0.5",
            "model.encoder.output_dropout=0.5",
            "model.encoder.hidden_dropout=0.5",
        ],
    ),
    Variant("sweep-units1", "deepvar", ["model.encoder.units=1"]),
]

# DeepVar Tables 5 and 7 (test set, %): (P, R, F1).
PAPER: dict[tuple[str, str, str], tuple[float, float, float]] = {
    ("DeepVar", "BiLSTM", "RMSprop"): (91.72, 89.86, 90.78),
    ("DeepVar", "CNN", "RMSprop"): (90.67, 90.48, 90.58),
    ("DNN", "BiLSTM", "RMSprop"): (91.84, 89.05, 90.42),
    ("DNN", "CNN", "RMSprop"): (90.91, 89.25, 90.07),
    ("Vanilla (Lample)", "BiLSTM", "RMSprop"): (88.76, 89.66, 89.20),
    ("Vanilla (Ma & Hovy)", "CNN", "RMSprop"): (90.32, 87.02, 88.64),
}
# Table 7 does not say which character encoder it used; its RMSP rows equal the BiLSTM rows
# of Table 5 (DeepVar) and of Table 6 BioELMO (DNN).
PAPER_OPTIMIZERS: dict[tuple[str, str], tuple[float, float, float]] = {
    ("DeepVar", "SGD"): (87.45, 85.86, 86.65),
    ("DeepVar", "RMSprop"): (91.72, 89.86, 90.78),
    ("DeepVar", "Adam"): (91.84, 89.05, 90.42),
    ("DNN", "SGD"): (82.52, 82.35, 82.44),
    ("DNN", "RMSprop"): (91.84, 89.05, 90.42),
    ("DNN", "Adam"): (88.36, 90.87, 89.60),
}
TARGET_F1, STRETCH_F1 = 90.8, 91.4
REPRODUCE = (
    "python benchmarks/deepvar_tmvar.py --epochs 15 --patience 4 --set training.learning_rate=0.001"
)


def intact_share(documents: list[Any]) -> dict[str, float]:
    """Share of gold mentions whose both edges fall on token edges (the exact-match ceiling)."""
    kept: dict[str, list[int]] = {}
    for document in documents:
        starts = {t.start for s in document.sentences for t in s.tokens}
        ends = {t.end for s in document.sentences for t in s.tokens}
        for span in document.spans:
            row = kept.setdefault(span.label, [0, 0])
            row[0] += span.start in starts and span.end in ends
            row[1] += 1
    total = [sum(r[0] for r in kept.values()), sum(r[1] for r in kept.values())]
    shares = {label: r[0] / r[1] for label, r in sorted(kept.items())}
    shares["overall"] = total[0] / total[1] if total[1] else 0.0
    return shares


def run_variant(variant: Variant, args: argparse.Namespace, out_file: Path) -> dict[str, Any]:
    import torch

    from bioner.config import load_config
    from bioner.tagger import Tagger
    from bioner.training.data import load_splits
    from bioner.training.trainer import Trainer, peak_rss_mb

    torch.set_num_threads(args.threads)
    overrides = [
        f"training.epochs={args.epochs}",
        f"training.early_stopping_patience={args.patience}",
        f"training.num_threads={args.threads}",
        *args.set,
        *variant.overrides,
    ]
    config = load_config(variant.preset, overrides)
    vectors = config.model.embedder.word.vectors
    if vectors == W2V and not Path(W2V).exists():
        import subprocess

        bioner = str(Path(sys.executable).with_name("bioner"))
        subprocess.run(
            [bioner, *shlex.split(W2V_COMMAND.replace("../shared", str(SHARED)))[1:]],
            check=True,
        )
    config.data.corpus = str(SHARED / "corpora" / "tmVar")
    splits = load_splits(config.data)
    run_dir = Path(args.runs) / variant.name
    resume = (run_dir / "checkpoint" / "last").exists()
    tagger = Tagger.build(config, {"default": splits.train})
    trainer = Trainer(
        tagger,
        {"default": splits.train},
        None if variant.refit else {"default": splits.dev},
        run_dir,
        show_progress=args.progress,
        on_epoch=lambda r: print(
            f"[{variant.name}] epoch {r['epoch']} loss {r['train_loss']:.3f} dev F1 "
            f"{r.get('dev_f1', float('nan')):.4f} ({r['seconds']:.0f} s)",
            flush=True,
        ),
    )
    result = trainer.train(resume=resume)
    best = Tagger.load(run_dir / "model")
    torch.set_num_threads(args.threads)
    record: dict[str, Any] = {
        "variant": variant.name,
        "command": args.command,
        "preset": variant.preset,
        "overrides": overrides,
        "model": variant.model,
        "char": variant.char,
        "optimizer": variant.optimizer,
        "note": variant.note,
        "tokenizer": config.data.tokenizer,
        "documents": {"train": len(splits.train), "dev": len(splits.dev)},
        "sentences": {
            "train": sum(len(d.sentences) for d in splits.train),
            "dev": sum(len(d.sentences) for d in splits.dev),
        },
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_because": result.stopped_because,
        "best_dev_f1": None if variant.refit else result.best_dev_f1,
        "train_seconds": result.train_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "threads": args.threads,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}",
    }
    if not args.dev_only:
        started = time.perf_counter()
        predicted = best.predict_documents(splits.test)
        record.update(test_record(splits.test, predicted, time.perf_counter() - started))
    _write(out_file, json.dumps(record, indent=2))
    return record


def test_record(gold: list[Any], predicted: list[Any], seconds: float) -> dict[str, Any]:
    """Exact-match scores on tmVar test, per type and overall, as every row stores them."""
    from bioner.evaluation import evaluate_documents

    scores = evaluate_documents(gold, predicted, mode="exact", align="order")
    return {
        "documents_test": len(gold),
        "sentences_test": sum(len(d.sentences) for d in gold),
        "test": {
            "precision": scores.micro.precision,
            "recall": scores.micro.recall,
            "f1": scores.micro.f1,
            "macro_f1": scores.macro.f1,
            "support": scores.micro.support,
            "per_type": {
                label: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                }
                for label, s in sorted(scores.per_type.items())
            },
        },
        "test_mentions_intact": intact_share(gold),
        "inference_seconds": seconds,
    }


def run_vote(name: str, members: list[str], args: argparse.Namespace, out_file: Path) -> dict:
    """Majority vote of finished variants' best models on tmVar test (`bioner.ensemble`)."""
    import torch

    from bioner.ensemble import vote_spans
    from bioner.tagger import Tagger
    from bioner.training.data import load_splits

    torch.set_num_threads(args.threads)
    missing = [m for m in members if not (Path(args.runs) / m / "model").is_dir()]
    if missing:
        sys.exit(f"[{name}] needs the finished runs {missing}; run them with --only first")
    taggers = [Tagger.load(Path(args.runs) / m / "model") for m in members]
    torch.set_num_threads(args.threads)
    config = taggers[0].config
    config.data.corpus = str(SHARED / "corpora" / "tmVar")
    splits = load_splits(config.data)
    started = time.perf_counter()
    voted = vote_spans([t.predict_documents(splits.test) for t in taggers])
    members_rows = [json.loads((RESULTS / NAME / f"{m}.json").read_text()) for m in members]
    record: dict[str, Any] = {
        "variant": name,
        "command": args.command,
        "preset": "vote: " + ", ".join(members),
        "overrides": [],
        **{
            key: values.pop() if len(values) == 1 else "mixed"
            for key in ("model", "char", "optimizer")
            for values in [{r[key] for r in members_rows}]
        },
        "note": f"majority vote of {len(members)} runs",
        "tokenizer": config.data.tokenizer,
        "members": members,
        "epochs_run": "—",
        "best_epoch": "—",
        "stopped_because": "—",
        "best_dev_f1": _mean_or_none([r["best_dev_f1"] for r in members_rows]),
        "train_seconds": sum(r["train_seconds"] for r in members_rows),
        "threads": args.threads,
        **test_record(splits.test, voted, time.perf_counter() - started),
    }
    _write(out_file, json.dumps(record, indent=2))
    return record


def _mean_or_none(values: list[float | None]) -> float | None:
    """Mean dev F1 of a vote's members; refit members have none."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def _write(path: Path, text: str) -> None:
    from bioner.data.atomic import atomic_write

    with atomic_write(path) as stream:
        stream.write(text)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _prf(test: dict[str, Any]) -> str:
    return f"{_pct(test['precision'])} | {_pct(test['recall'])} | {_pct(test['f1'])}"


def _paper(values: tuple[float, float, float] | None) -> str:
    return " | ".join(f"{v:.2f}" for v in values) if values else "— | — | —"


def write_tables(command: str, runs: Path) -> None:
    folder = RESULTS / NAME
    rows = {
        name: json.loads((folder / f"{name}.json").read_text())
        for name in [*(v.name for v in VARIANTS), *VOTES]
        if (folder / f"{name}.json").exists()
    }
    sweep = {
        v.name: json.loads((folder / f"{v.name}.json").read_text())
        for v in SWEEP
        if (folder / f"{v.name}.json").exists()
    }
    commands = sorted({r["command"] for r in [*rows.values(), *sweep.values()]} | {command})
    _write(
        RESULTS / f"{NAME}.json",
        json.dumps({"commands": commands, "variants": rows, "sweep_dev_only": sweep}, indent=2),
    )
    lines = [
        "# DeepVar on tmVar",
        "",
        "Reproduce every row (finished variants are skipped, so it also resumes):",
        "",
        f"    nice -n 19 .venv/bin/{REPRODUCE}",
        "    # and the dev-only sweep:",
        f"    nice -n 19 .venv/bin/{REPRODUCE} --sweep",
        "    # and our tmVar-style recipe (the fine rows and the votes):",
        "    nice -n 19 .venv/bin/python benchmarks/deepvar_tmvar.py --epochs 40 --patience 8 "
        "--only "
        + " ".join([v.name for v in VARIANTS if v.group in ("fine", "refit")] + list(VOTES)),
        "",
        "The rows below came from these invocations (some ran side by side; each row's own "
        "command is in the Runs table and the JSON):",
        "",
        *[f"    {c}" for c in commands if c != command or "--only" in c],
        "",
        "tmVar test set (166 abstracts), exact matching: a prediction counts only with the "
        "gold boundaries and type. P/R/F1 are micro-averaged over all mentions (%); the best "
        "epoch was chosen on a 20 % document hold-out of tmVar train (`split_seed` 0). "
        "Trained on a shared 2-core CPU, one thread, with the epoch cap and patience of the "
        "command above, random-initialised word vectors (no BioW2V) unless the row says "
        "word2vec. Paper figures are "
        "DeepVar Tables 5 and 7 (trained up to 100 epochs with BioW2V on a GPU). "
        f"Target: overall F1 ≥ {TARGET_F1} (stretch ≥ {STRETCH_F1}).",
        "",
        "## Table 5 shape: DeepVar vs generic DNN vs vanilla",
        "",
        "| model | char repr | P | R | F1 | paper P | paper R | paper F1 | epochs (best) | "
        "dev F1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = rows.get(v.name)
        if r is None or v.optimizer != "RMSprop" or v.group != "paper":
            continue
        paper = None if v.note else PAPER.get((v.model, v.char, v.optimizer))
        label = f"{v.model} ({v.note})" if v.note else v.model
        lines.append(
            f"| {label} | {v.char} | {_prf(r['test'])} | {_paper(paper)} | "
            f"{r['epochs_run']} ({r['best_epoch']}) | {_pct(r['best_dev_f1'])} |"
        )
    fine = [v.name for v in VARIANTS if v.group in ("fine", "refit")] + list(VOTES)
    if any(name in rows for name in fine):
        lines += [
            "",
            "## Ours: tmVar-style tokens (`deepvar-fine` recipe)",
            "",
            "Every architecture above, trained with the `deepvar-fine` preset's changes "
            "(fine-grained tmVar-style tokens, case-sensitive learned character embeddings, "
            "digits normalised in the word lookup, Adam 1e-3, up to the command's epochs), "
            "random word vectors unless the row says word2vec; a vote keeps a span when a "
            "strict majority of its seeds predict it (`bioner.ensemble.vote_spans`). Dev F1 "
            "of a vote is the mean of its members'. The `-refit` rows retrain a recipe on all "
            "334 training abstracts for the median best epoch of its dev runs "
            f"({', '.join(f'{k} {v}' for k, v in REFIT_EPOCHS.items())}) and keep the last "
            "epoch, so they have no dev F1.",
            "",
            "| variant | model | char repr | P | R | F1 | epochs (best) | dev F1 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name in fine:
            r = rows.get(name)
            if r is None:
                continue
            label = f"{r['model']} ({r['note']})" if r["note"] else r["model"]
            lines.append(
                f"| {name} | {label} | {r['char']} | {_prf(r['test'])} | "
                f"{r['epochs_run']} ({r['best_epoch']}) | {_pct(r['best_dev_f1'])} |"
            )
        for vote, members in VOTES.items():
            got = [rows[m]["test"]["f1"] for m in members if m in rows]
            if len(got) < 2:
                continue
            mean = sum(got) / len(got)
            sd = (sum((f - mean) ** 2 for f in got) / (len(got) - 1)) ** 0.5
            voted = _pct(rows[vote]["test"]["f1"]) if vote in rows else "not run"
            lines.append(
                f"\n{vote}: its {len(got)} runs score {', '.join(_pct(f) for f in got)} "
                f"(mean {_pct(mean)} ± {_pct(sd)} sd); the vote {voted}."
            )
    lines += [
        "",
        "## Character representation: BiLSTM vs CNN (F1, %)",
        "",
        "| model | char BiLSTM | char CNN | paper BiLSTM | paper CNN |",
        "|---|---|---|---|---|",
    ]
    for model, lstm, cnn in (
        ("DeepVar", "deepvar-lstm", "deepvar-cnn"),
        ("DNN", "generic-lstm", "generic-cnn"),
        ("Vanilla", "vanilla-lample", "vanilla-ma-hovy"),
    ):
        got = [_pct(rows[n]["test"]["f1"]) if n in rows else "—" for n in (lstm, cnn)]
        paper_model = {"Vanilla": None}.get(model, model)
        if paper_model:
            paper = [PAPER[(paper_model, c, "RMSprop")][2] for c in ("BiLSTM", "CNN")]
        else:
            paper = [
                PAPER[("Vanilla (Lample)", "BiLSTM", "RMSprop")][2],
                PAPER[("Vanilla (Ma & Hovy)", "CNN", "RMSprop")][2],
            ]
        lines.append(f"| {model} | {got[0]} | {got[1]} | {paper[0]:.2f} | {paper[1]:.2f} |")
    lines += [
        "",
        "## Table 7 shape: optimizers (char CNN)",
        "",
        "| model | optimizer | P | R | F1 | paper P | paper R | paper F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, prefix in (("DeepVar", "deepvar-cnn"), ("DNN", "generic-cnn")):
        for optimizer, suffix in (("SGD", "-sgd"), ("RMSprop", ""), ("Adam", "-adam")):
            r = rows.get(prefix + suffix)
            got = _prf(r["test"]) if r else "— | — | —"
            lines.append(
                f"| {model} | {optimizer} | {got} | "
                f"{_paper(PAPER_OPTIMIZERS[(model, optimizer)])} |"
            )
    lines += [
        "",
        "## Per type (test, exact; P / R / F1, %)",
        "",
        "| variant | " + " | ".join(f"{t} (n)" for t in TYPES) + " | overall | macro F1 |",
        "|---|" + "---|" * (len(TYPES) + 2),
    ]
    for name, r in rows.items():
        cells = []
        for t in TYPES:
            s = r["test"]["per_type"].get(t)
            cells.append(
                f"{_pct(s['precision'])} / {_pct(s['recall'])} / {_pct(s['f1'])} ({s['support']})"
                if s
                else "—"
            )
        overall = r["test"]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {_pct(overall['precision'])} / "
            f"{_pct(overall['recall'])} / {_pct(overall['f1'])} | {_pct(overall['macro_f1'])} |"
        )
    lines += [
        "",
        "## Tokenization: exact-match ceiling on test",
        "",
        "Share of test mentions whose both edges are token edges (no exact match is possible "
        "otherwise); see also `tokenizer_agreement.md`.",
        "",
        "| variant | tokenizer | " + " | ".join(TYPES) + " | overall | test F1 |",
        "|---|---|" + "---|" * (len(TYPES) + 2),
    ]
    seen_tokenizers: set[str] = set()
    for name, r in rows.items():
        if r["tokenizer"] in seen_tokenizers and not r["note"]:
            continue
        seen_tokenizers.add(r["tokenizer"])
        intact = r["test_mentions_intact"]
        lines.append(
            f"| {name} | {r['tokenizer']} | "
            + " | ".join(_pct(intact.get(t, 0.0)) for t in TYPES)
            + f" | {_pct(intact['overall'])} | {_pct(r['test']['f1'])} |"
        )
    if sweep:
        lines += [
            "",
            "## Dev-only sweep (Table 4 grid; never scored on test)",
            "",
            "| variant | overrides | dev F1 | epochs (best) |",
            "|---|---|---|---|",
        ]
        for name, r in sweep.items():
            extra = [
                o
                for o in r["overrides"]
                if not o.startswith(
                    ("training.epochs", "training.early_stopping", "training.num_threads")
                )
            ]
            lines.append(
                f"| {name} | `{' '.join(extra)}` | {_pct(r['best_dev_f1'])} | "
                f"{r['epochs_run']} ({r['best_epoch']}) |"
            )
    partial = []
    for v in [*VARIANTS, *SWEEP]:
        log = runs / v.name / "metrics.jsonl"
        if v.name in rows or v.name in sweep or not log.exists():
            continue
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        curve = " ".join(f"{r['epoch']}: {_pct(r['dev_f1'])}" for r in records if "dev_f1" in r)
        partial.append(f"| {v.name} | {curve} |")
    if partial:
        lines += [
            "",
            "## Unfinished runs (dev F1 by epoch so far; no test figures)",
            "",
            "Stopped for lack of CPU time; the command resumes them from their last checkpoint.",
            "",
            "| variant | dev F1 by epoch |",
            "|---|---|",
            *partial,
        ]
    lines += [
        "",
        "## Runs",
        "",
        "| variant | preset | overrides | train s | stopped because | command |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in [*rows.items(), *sweep.items()]:
        lines.append(
            f"| {name} | {r['preset']} | `{' '.join(r['overrides'])}` | "
            f"{r['train_seconds']:.0f} | {r['stopped_because']} | `{r['command']}` |"
        )
    _write(RESULTS / f"{NAME}.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="Variant names, in order.")
    parser.add_argument("--sweep", action="store_true", help="Run the dev-only sweep.")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="Override for all variants.")
    parser.add_argument("--budget-minutes", type=float, default=None)
    parser.add_argument("--runs", default="runs/deepvar_tmvar")
    parser.add_argument("--progress", action="store_true", help="Show per-batch progress bars.")
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args()
    args.dev_only = args.sweep
    command = "python benchmarks/deepvar_tmvar.py " + shlex.join(
        a for a in sys.argv[1:] if a != "--tables-only"
    )
    args.command = command
    if args.tables_only:
        write_tables(command, Path(args.runs))
        return
    pool = SWEEP if args.sweep else VARIANTS
    by_name = {v.name: v for v in pool}
    votes = {} if args.sweep else VOTES
    unknown = [n for n in args.only or [] if n not in by_name and n not in votes]
    if unknown:
        sys.exit(f"unknown variants {unknown}; known: {', '.join([*by_name, *votes])}")
    # Without --only: the paper-setting rows (the fine rows have their own command, above).
    paper_rows = [v for v in pool if v.group == "paper"]
    chosen = [by_name.get(n, n) for n in args.only] if args.only else paper_rows
    started = time.time()
    for variant in chosen:
        name = variant if isinstance(variant, str) else variant.name
        out_file = RESULTS / NAME / f"{name}.json"
        if out_file.exists():
            print(f"[{name}] done already: {out_file}", flush=True)
            continue
        if args.budget_minutes and time.time() - started > 60 * args.budget_minutes:
            print(f"budget of {args.budget_minutes} min spent; stopping before {name}")
            break
        t0 = time.time()
        if isinstance(variant, str):
            record = run_vote(name, votes[name], args, out_file)
        else:
            record = run_variant(variant, args, out_file)
        summary = record.get("test", {}).get("f1", record["best_dev_f1"]) or 0.0
        print(f"[{name}] F1 {100 * summary:.2f} in {time.time() - t0:.0f} s", flush=True)
        write_tables(command, Path(args.runs))
    write_tables(command, Path(args.runs))


if __name__ == "__main__":
    main()
