"""Out-of-fold predictions on tmVar train: evidence for post-processing rules without test.

Why a script of its own: the 20 % dev hold-out has only 67 abstracts (233 mentions), too few
to tell a systematic error from a one-off. Here the refit recipe of
benchmarks/deepvar_tmvar.py (`generic-fine-w2v-refit`: fixed epoch count, no dev) is trained
k times, each time on k-1 folds of the 334 training abstracts, and tags the remaining fold,
so every training abstract gets a prediction from a model that never saw it. The report
scores those predictions without and with each step of `bioner.postprocessing`, and lists
the remaining errors by category with examples — the material rules are judged on. The test
split is never read.

Reproduce (about 2.5 minutes per fold on one core; finished folds are kept, so the same
command resumes; `--fold K` runs one fold, so two processes can share the work):

    .venv/bin/python benchmarks/tmvar_out_of_fold.py

Writes benchmarks/results/tmvar_out_of_fold.{json,md}; predictions stay under --runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bioner.postprocessing.variant_spans import STEPS as RULE_STEPS

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("BIONER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
NAME = "tmvar_out_of_fold"
RECIPE = "generic-fine-w2v-refit"
# Cumulative prefixes of the rules' steps, in their order.
STEPS = [RULE_STEPS[:n] for n in range(len(RULE_STEPS) + 1)]
EXAMPLES = 12


def training_documents(config: Any) -> list[Any]:
    from bioner.training.data import load_splits

    config.data.corpus = str(SHARED / "corpora" / "tmVar")
    config.data.dev_fraction = 0.0
    return load_splits(config.data).train


def recipe_config(threads: int) -> Any:
    from deepvar_tmvar import VARIANTS

    from bioner.config import load_config

    variant = next(v for v in VARIANTS if v.name == RECIPE)
    return load_config(variant.preset, [*variant.overrides, f"training.num_threads={threads}"])


def run_fold(index: int, folds: int, seed: int, runs: Path, threads: int) -> Path:
    """Train on every fold but `index`, tag fold `index`; returns the predictions file."""
    import torch

    from bioner.data.formats import write_documents
    from bioner.experiments.cv import assign_folds
    from bioner.tagger import Tagger
    from bioner.training.trainer import Trainer

    out = runs / f"fold{index}" / "predicted.jsonl"
    if out.exists():
        print(f"fold {index}: done already ({out})", flush=True)
        return out
    torch.set_num_threads(threads)
    config = recipe_config(threads)
    documents = training_documents(config)
    assignment = assign_folds(len(documents), folds, seed)
    train = [d for d, f in zip(documents, assignment, strict=True) if f != index]
    held = [d for d, f in zip(documents, assignment, strict=True) if f == index]
    run_dir = runs / f"fold{index}"
    tagger = Tagger.build(config, {"default": train})
    Trainer(
        tagger,
        {"default": train},
        None,
        run_dir,
        show_progress=False,
        on_epoch=lambda r: print(f"fold {index} epoch {r['epoch']} loss {r['train_loss']:.3f}"),
    ).train(resume=(run_dir / "checkpoint" / "last").exists())
    model = Tagger.load(run_dir / "model")
    model.postprocess = []
    write_documents(model.predict_documents(held), out, "jsonl")
    return out


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    left = text[max(0, start - width) : start].replace("\n", " ")
    right = text[end : end + width].replace("\n", " ")
    return f"{left}[{text[start:end]}]{right}"


def error_table(gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, list[dict[str, str]]]:
    """Every error in Lyu's categories (`bioner.evaluation`), as "FN missing DNAMutation"
    → [{text, other (the closest overlapping span of the other side), context}], largest
    category first."""
    from bioner.evaluation import evaluate_documents

    analysis = evaluate_documents(
        gold, predicted, mode="exact", align="order", errors=True, max_examples=10**6
    ).errors
    assert analysis is not None
    texts = {d.id: d.text for d in gold}
    errors: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for e in analysis.examples:
        errors[f"{e.side} {e.category.value} {e.label}"].append(
            {
                "text": e.text,
                "other": f"{e.other_text} ({e.other_label})" if e.other_text else "",
                "context": _context(texts[e.document_id], e.start, e.end),
            }
        )
    return dict(sorted(errors.items(), key=lambda item: -len(item[1])))


def report(folds: int, seed: int, runs: Path) -> dict[str, Any]:
    from bioner.data.formats import read_documents
    from bioner.evaluation import evaluate_documents
    from bioner.experiments.cv import assign_folds
    from bioner.postprocessing.variant_spans import postprocess_variants

    documents = training_documents(recipe_config(1))
    assignment = assign_folds(len(documents), folds, seed)
    gold, predicted = [], []
    for index in range(folds):
        held = [d for d, f in zip(documents, assignment, strict=True) if f == index]
        tagged = list(read_documents(runs / f"fold{index}" / "predicted.jsonl", "jsonl"))
        if [d.id for d in tagged] != [d.id for d in held]:
            raise SystemExit(f"fold {index}: predictions do not match the fold's documents")
        gold += held
        # the saved spans on the gold documents' tokens (sentences are needed by the rules)
        predicted += [h.with_spans(t.spans) for h, t in zip(held, tagged, strict=True)]
    scores = {}
    for steps in STEPS:
        ruled = [postprocess_variants(d, steps) for d in predicted]
        result = evaluate_documents(gold, ruled, mode="exact", align="order")
        scores["+".join(steps) or "none"] = {
            "precision": result.micro.precision,
            "recall": result.micro.recall,
            "f1": result.micro.f1,
            "per_type_f1": {label: s.f1 for label, s in sorted(result.per_type.items())},
        }
    final = [postprocess_variants(d, STEPS[-1]) for d in predicted]
    return {
        "command": "python benchmarks/tmvar_out_of_fold.py",
        "recipe": RECIPE,
        "folds": folds,
        "seed": seed,
        "documents": len(gold),
        "mentions": sum(len(d.spans) for d in gold),
        "scores": scores,
        "errors_with_rules": error_table(gold, final),
    }


def write_report(result: dict[str, Any]) -> None:
    from bioner.data.atomic import atomic_write

    lines = [
        "# tmVar train, out-of-fold predictions (rule evidence without the test split)",
        "",
        f"Reproduce: `.venv/bin/{result['command']}`. Recipe `{result['recipe']}` of "
        f"benchmarks/deepvar_tmvar.py, {result['folds']} folds by document (seed "
        f"{result['seed']}); every one of the {result['documents']} training abstracts "
        f"({result['mentions']} mentions) is tagged by the model trained on the other folds. "
        "Exact matching, %.",
        "",
        "| rules | P | R | F1 | "
        + " | ".join(next(iter(result["scores"].values()))["per_type_f1"])
        + " |",
        "|---|---|---|---|" + "---|" * len(next(iter(result["scores"].values()))["per_type_f1"]),
    ]
    for name, s in result["scores"].items():
        lines.append(
            f"| {name} | {100 * s['precision']:.2f} | {100 * s['recall']:.2f} | "
            f"{100 * s['f1']:.2f} | "
            + " | ".join(f"{100 * f:.2f}" for f in s["per_type_f1"].values())
            + " |"
        )
    lines += ["", "## Errors left with every rule on", ""]
    for category, items in result["errors_with_rules"].items():
        lines += [
            f"### {category}: {len(items)}",
            "",
            "| error span | closest span of the other side | context |",
            "|---|---|---|",
        ]
        for item in items[:EXAMPLES]:
            cells = [re.sub(r"([|`])", r"\\\1", item[k]) for k in ("text", "other", "context")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for path, text in (
        (RESULTS / f"{NAME}.json", json.dumps(result, indent=2, ensure_ascii=False)),
        (RESULTS / f"{NAME}.md", "\n".join(lines)),
    ):
        with atomic_write(path) as stream:
            stream.write(text)
    print("\n".join(lines[:12]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fold", type=int, action="append", help="Run only these folds.")
    parser.add_argument("--runs", type=Path, default=Path("runs/tmvar_out_of_fold"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        for index in args.fold or range(args.folds):
            run_fold(index, args.folds, args.seed, args.runs, args.threads)
    if args.fold and not args.report_only:
        return
    write_report(report(args.folds, args.seed, args.runs))


if __name__ == "__main__":
    main()
