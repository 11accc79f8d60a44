"""The bundled default tagger (or a candidate to replace it), head by head, on each test split.

Why a script of its own: a candidate default tagger is a multi-task model, and choosing
between candidates needs every head scored the same way, on the splits the heads were trained
for, as `bioner annotate --head` runs it (the model's own rules included). Each head is scored
on its corpus's devel split (dev: tmVar's 20 % document hold-out of train, the one the model
early-stopped on) and test split; the candidate to ship is chosen on the mean devel F1 of the
heads, as the training chose its epoch. BC5CDR's CoNLL sentences are put back into their
abstracts (`bioner.data.regroup`) so that its document rules see whole abstracts; the mention
set is the same.

Reproduce (the committed table was made before the swap: `bundled` is the previous default
tagger, `v2` the one that replaced it; to score the previous one again, restore its four
files from the commit before the swap into a folder and name that folder):

    .venv/bin/python benchmarks/default_tagger.py bundled=default v2=runs/default-v2/model
    git archive e4599c9^ src/bioner/resources/models/default | tar -x -C /tmp   # previous
    .venv/bin/python benchmarks/default_tagger.py \
        previous=/tmp/src/bioner/resources/models/default current=default

Writes benchmarks/results/default_tagger.{json,md}.

`--choose-rules NAME=PATH` instead chooses the model's rules on dev: each head's spans are
predicted once without rules, every candidate rule list (`RULE_CANDIDATES`; the variant
rules first or not where the head outputs variant types) is applied to them, and each head
keeps the candidate with the best dev F1 (ties: the shorter list). Test F1 is listed for
every candidate. Writes benchmarks/results/default_tagger_rules.{json,md}; the chosen lists,
each entry scoped to its head, are the `postprocess` to set in the model's config.json:

    .venv/bin/python benchmarks/default_tagger.py --choose-rules bundled=default

benchmarks/results/default_tagger_rechosen.md then scored the model with its previous rule
lists (`current`: `default` before the change) against the chosen ones (`rechosen`: a copy
of the model folder with the chosen `postprocess`). Now that `default` has the chosen lists,
the same comparison is: copy src/bioner/resources/models/default to /tmp/previous-rules, set
its `postprocess` to `["variants", "BC5CDR:repeats", "BC5CDR:abbreviations"]`, and run

    .venv/bin/python benchmarks/default_tagger.py --name default_tagger_rechosen \
        current=/tmp/previous-rules rechosen=default
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIONER_SHARED", ROOT.parent / "shared"))
NAME = "default_tagger"
# Head → the PubTator release its CoNLL sentences were cut from, per split (None: as read).
ABSTRACTS: dict[str, dict[str, str]] = {
    "BC5CDR": {
        "dev": "BC5CDR/original/CDR_DevelopmentSet.PubTator.txt",
        "test": "BC5CDR/original/CDR_TestSet.PubTator.txt",
    },
}
SPLITS = ("dev", "test")
#: The document-rule lists tried per head (docs/document_rules.md), in order of preference.
RULE_CANDIDATES: tuple[tuple[str, ...], ...] = (
    (),
    ("repeats",),
    ("abbreviations",),
    ("abbreviations-keep",),
    ("abbreviations", "repeats"),
    ("repeats", "abbreviations"),
    ("abbreviations-keep", "repeats"),
    ("repeats", "abbreviations-keep"),
)


def trained_splits(tagger: Any, head: str) -> Any:
    """One head's corpus (staged under SHARED) split and tokenized as the model trained on it."""
    from bioner.config import DataConfig
    from bioner.training.data import load_splits

    corpus = SHARED / "corpora" / Path(tagger.meta.get("corpora", {}).get(head, head)).name
    data = tagger.config.data
    return load_splits(
        DataConfig(
            corpus=str(corpus),
            dev_fraction=data.dev_fraction,
            split_seed=data.split_seed,
            tokenizer=data.tokenizer,
        )
    )


def head_splits(tagger: Any, head: str) -> dict[str, list[Any]]:
    """The dev and test documents of one head's corpus, split and tokenized as in training."""
    from bioner.data.formats import read_documents
    from bioner.data.regroup import regroup

    splits = trained_splits(tagger, head)
    found: dict[str, list[Any]] = {}
    for split in SPLITS:
        documents = list(getattr(splits, split))
        reference = ABSTRACTS.get(head, {}).get(split)
        if reference is not None:
            documents = regroup(documents, list(read_documents(SHARED / "corpora" / reference)))
        found[split] = documents
    return found


def _prf(gold: list[Any], predicted: list[Any]) -> dict[str, float]:
    from bioner.evaluation.evaluator import evaluate_documents

    micro = evaluate_documents(gold, predicted).micro
    return {"precision": micro.precision, "recall": micro.recall, "f1": micro.f1}


def score_model(path: str) -> dict[str, Any]:
    """Per head and split, exact-match P / R / F1 with the model's rules: the head alone,
    and (`merged`) every head merged as `bioner annotate` runs them, kept to this head's
    types: what a user of the whole model gets for those types."""
    from bioner.tagger import Tagger

    tagger = Tagger.load(path)
    heads: dict[str, Any] = {}
    started = time.perf_counter()
    for head in tagger.tags:
        types = set(tagger.labels([head]))
        for split, gold in head_splits(tagger, head).items():
            alone = tagger.predict_documents(gold, [head])
            merged = [
                d.with_spans([s for s in d.spans if s.label in types])
                for d in tagger.predict_documents(gold)
            ]
            heads.setdefault(head, {})[split] = {**_prf(gold, alone), "merged": _prf(gold, merged)}
    return {
        "path": path,
        "postprocess": tagger.postprocess,
        "heads": heads,
        "mean_dev_f1": statistics.fmean(h["dev"]["f1"] for h in heads.values()),
        "mean_test_f1": statistics.fmean(h["test"]["f1"] for h in heads.values()),
        "seconds": time.perf_counter() - started,
    }


def choose_rules(path: str) -> dict[str, Any]:
    """Per head, dev and test F1 of the head alone under every candidate rule list, and the
    candidate chosen on dev."""
    from bioner.postprocessing import apply_rule_sets
    from bioner.postprocessing.variant_spans import VARIANT_LABELS
    from bioner.tagger import Tagger

    tagger = Tagger.load(path)
    tagger.postprocess = []
    heads: dict[str, Any] = {}
    for head in tagger.tags:
        types = tagger.labels([head])
        candidates = list(RULE_CANDIDATES)
        if VARIANT_LABELS & set(types):
            candidates = [("variants", *rules) for rules in candidates] + candidates
        splits = head_splits(tagger, head)
        bare = {split: tagger.predict_documents(gold, [head]) for split, gold in splits.items()}
        rows = []
        for rules in candidates:
            started = time.perf_counter()
            scores = {
                split: _prf(gold, apply_rule_sets(bare[split], rules, types))["f1"]
                for split, gold in splits.items()
            }
            rows.append({"rules": list(rules), **scores, "seconds": time.perf_counter() - started})
        chosen = max(rows, key=lambda row: (row["dev"], -len(row["rules"])))
        heads[head] = {"candidates": rows, "chosen": chosen["rules"]}
    postprocess = [f"{head}:{rule}" for head, result in heads.items() for rule in result["chosen"]]
    return {"path": path, "heads": heads, "postprocess": postprocess}


def save_report(stem: str, report: dict[str, Any], lines: list[str]) -> None:
    """`report` as benchmarks/results/<stem>.json and `lines` as <stem>.md."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


def write_rules_report(report: dict[str, Any], stem: str) -> None:
    lines = [
        "# Default tagger rules chosen on dev: each head alone, exact-match F1 (%), dev / test",
        "",
        "Each head's spans are predicted once without rules; every candidate rule list runs on "
        "them (BC5CDR in whole abstracts). ✓: the best dev F1 of the head (ties: the shorter "
        "list), the list the model is given. dev is the split the model early-stopped on "
        "(tmVar: its 20 % document hold-out of train).",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Chosen `postprocess`: `{json.dumps(report['postprocess'])}`",
    ]
    for head, result in report["heads"].items():
        lines += ["", f"## {head}", "", "| rules | dev | test |", "|---|---|---|"]
        for row in result["candidates"]:
            mark = " ✓" if row["rules"] == result["chosen"] else ""
            rules = " + ".join(row["rules"]) or "none"
            lines.append(f"| {rules}{mark} | {100 * row['dev']:.2f} | {100 * row['test']:.2f} |")
    save_report(stem, report, lines)


def write_report(report: dict[str, Any], stem: str) -> None:
    models = report["models"]
    heads = list(next(iter(models.values()))["heads"])
    lines = [
        "# Default tagger candidates: each head alone, exact-match F1 (%), dev → test",
        "",
        "Each head runs as `bioner annotate --head HEAD` runs it, with the model's own rules; "
        "BC5CDR is scored in whole abstracts. dev is the split the model early-stopped on "
        "(tmVar: its 20 % document hold-out of train). The candidate to ship is the one with "
        "the best mean dev F1.",
        "",
        f"Command: `{report['command']}`",
        "",
        "| model | " + " | ".join(heads) + " | mean |",
        "|---|" + "---|" * (len(heads) + 1),
    ]
    for name, result in models.items():
        scores = result["heads"]
        cells = [
            f"{100 * scores[h]['dev']['f1']:.2f} → {100 * scores[h]['test']['f1']:.2f}"
            for h in heads
        ]
        mean = f"{100 * result['mean_dev_f1']:.2f} → {100 * result['mean_test_f1']:.2f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    lines += [
        "",
        "Test precision / recall / F1 of the head alone, and of all heads merged as `bioner "
        "annotate` runs them, kept to the head's types:",
        "",
        "| model | head | alone P / R / F1 | merged P / R / F1 |",
        "|---|---|---|---|",
    ]
    for name, result in models.items():
        for head in heads:
            test = result["heads"][head]["test"]
            lines.append(f"| {name} | {head} | {_cells(test)} | {_cells(test['merged'])} |")
    save_report(stem, report, lines)


def _cells(scores: dict[str, Any]) -> str:
    return " / ".join(f"{100 * scores[key]:.2f}" for key in ("precision", "recall", "f1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=PATH (PATH: a model folder or 'default')")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--name", default=NAME, help=f"results file stem under benchmarks/results (default {NAME})"
    )
    parser.add_argument(
        "--choose-rules", action="store_true", help="choose each head's rules on dev (one model)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.choose_rules:
        if len(args.models) != 1 or "=" not in args.models[0]:
            parser.error("--choose-rules takes one NAME=PATH")
        report = choose_rules(args.models[0].partition("=")[2])
        print(json.dumps(report["postprocess"]))
        command = "python benchmarks/default_tagger.py --choose-rules " + args.models[0]
        write_rules_report({"command": command, **report}, f"{args.name}_rules")
        return
    models: dict[str, Any] = {}
    for entry in args.models:
        name, sep, path = entry.partition("=")
        if not sep:
            parser.error(f"{entry!r}: expected NAME=PATH")
        models[name] = score_model(path)
        print(name, json.dumps({h: v["test"]["f1"] for h, v in models[name]["heads"].items()}))
    named = "" if args.name == NAME else f"--name {args.name} "
    command = f"python benchmarks/default_tagger.py {named}" + " ".join(args.models)
    write_report({"command": command, "models": models}, args.name)


if __name__ == "__main__":
    main()
