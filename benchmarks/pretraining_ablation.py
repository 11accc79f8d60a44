"""Pretraining ablation: random init vs word2vec vs BiLM transfer vs other presets (char LM).

Sachan Table 3 (none / LM_f / LM_b / BiLM) and Lyu Table 3 / DeepVar Table 6 (word vectors)
on the same corpora, test-set exact-match F1 with the best epoch on devel.

Reproduce (full run: hours per cell on a CPU; pretrain first, see docs/pretraining.md):

    .venv/bin/python benchmarks/pretraining_ablation.py \
        --word2vec runs/pretrain/w2v-cased-300.txt --bilm runs/pretrain/bilm-sachan \
        --table3 --extra-preset bionerflair --seeds 1 2 3

Variants (each a `bioner train` run of `--preset`, default sachan-cnn, unless named):
    random     the preset as it is (random embeddings)
    word2vec   + model.embedder.word.vectors=<--word2vec> (fine-tuned)
    word2vec-frozen   the same vectors, frozen (Lyu Table 3)
    bilm       --init-from <--bilm> --init-directions both
    lmf, lmb   --init-directions forward / backward (with --table3)
    <preset>   every --extra-preset, run as it is (e.g. bionerflair: char LM + word2vec);
               NAME=PRESET runs it as row NAME (e.g. with other LMs given by --set)
    <v>-refit  with `--refit v`: variant v retrained on train + devel (`bioner train --no-dev`)
               for the epoch count v's own cell chose on devel (same corpus and seed)

`--partner TARGET=PARTNER` trains every cell of corpus TARGET as a multi-task model with one
more head for PARTNER's training split (docs/multitask.md); only TARGET's dev F1 selects the
epoch (training.selection_heads) and its head's test F1 is the cell's. Give such rows their
own name (`--extra-preset NAME=PRESET`), since the partner is not part of a variant's argv.

`--transfer TARGET=SOURCE` (transfer learning, Saber §2.4) first trains each variant's cell on
SOURCE (or reuses it: it is the ordinary `<runs>/<variant>/SOURCE/seed<k>` cell), then trains
TARGET starting from that model (`bioner train --init-from`, every layer but the decoder);
such cells form row `<variant>-from-SOURCE`. A variant that itself starts from a BiLM keeps
that start through its SOURCE model (BiLM → SOURCE → TARGET). With `--source-refit` the SOURCE
model is that cell's refit instead (`<runs>/<variant>-refit/SOURCE/seed<k>`: SOURCE's train +
devel for the epoch count its cell chose on devel), so the transferred model has seen twice the
SOURCE data; TARGET still chooses its epoch on its own devel. Such rows are named
`<variant>-from-SOURCE-refit`. `--refit v` works with `--transfer` too (Sachan's final
training on train + devel): row `v-refit-from-SOURCE` starts from the same SOURCE model as
row `v-from-SOURCE` and trains on TARGET's train + devel for the epoch count that row's cell
chose on devel.

`--source-set KEY=VALUE ...` overrides the SOURCE cells' config only (after `--set`), e.g. fewer
epochs on a large silver SOURCE.

`--corpus-path NAME=FOLDER` adds a corpus folder outside `--corpora-dir` under NAME, e.g. a
silver corpus made by benchmarks/silver_corpus.py as a `--transfer` SOURCE.

Every cell (variant × corpus × seed) is one subprocess writing `<runs>/<variant>/<corpus>/
seed<k>/summary.json`; finished cells are skipped and an interrupted cell is resumed with
`--resume`, so the command can simply be run again. After every cell the results JSON and
the markdown table (mean ± sd over seeds) under benchmarks/results/ are rewritten. Cells of
variants that an earlier command measured and this one does not run are kept from the results
JSON, each with the command that made it, so rows can be added one command at a time.
`--reference random=benchmarks/results/saber-baseline.json` shows the test F1 of an earlier
`bench_train_corpora.py` run as a row (its own seed and command, stated in the table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("BIONER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPORA = ["NCBI-disease", "BC5CDR-chem", "BC5CDR-disease", "BC2GM", "JNLPBA"]
SOURCE_REFIT_NOTE = (
    " A `-from-SOURCE-refit` row is not a refit: it starts from SOURCE's refit model "
    "(`--source-refit`) and chooses its epoch on its own devel."
)

TARGET_REFIT_NOTE = (
    " A `-refit-from-SOURCE` row is the refit of row `-from-SOURCE`: the same SOURCE models, "
    "then the target's train + devel for the epoch count that row chose on devel."
)


def vector_dim(path: Path) -> int:
    """The dimension in a word2vec file's `count dim` header (text and binary alike)."""
    with open(path, "rb") as stream:
        fields = stream.readline().split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        sys.exit(f"{path}: not a word2vec file with a 'count dim' header")
    return int(fields[1])


def variants(args: argparse.Namespace) -> dict[str, list[str]]:
    """Variant name → the `bioner train` arguments that differ between variants."""
    table: dict[str, list[str]] = {"random": [args.preset]}
    if args.word2vec:
        table["word2vec"] = [
            args.preset,
            "--set",
            f"model.embedder.word.vectors={args.word2vec}",
            "--set",  # the saved config must state the vectors' dimension to reload
            f"model.embedder.word.dim={vector_dim(Path(args.word2vec))}",
        ]
        # Lyu Table 3: the same vectors kept frozen instead of fine-tuned.
        table["word2vec-frozen"] = [*table["word2vec"], "--set", "model.embedder.word.freeze=true"]
    if args.bilm:
        table["bilm"] = [args.preset, "--init-from", args.bilm, "--init-directions", "both"]
        if args.table3:
            table["lmf"] = [args.preset, "--init-from", args.bilm, "--init-directions", "forward"]
            table["lmb"] = [args.preset, "--init-from", args.bilm, "--init-directions", "backward"]
    for spec in args.extra_preset:  # PRESET, or NAME=PRESET to run a preset under a new name
        name, _, preset = spec.rpartition("=")
        table[name or preset] = [preset]
    for source in args.refit:
        if source not in table:
            sys.exit(f"--refit {source}: no such variant here (known: {', '.join(table)})")
        table[f"{source}-refit"] = [*table[source], "--no-dev"]
    return table


def refit_epochs(cells: list[dict], source: str, corpus: str, seed: int) -> int:
    """The best devel epoch of `source`'s cell for this corpus and seed (what a refit trains)."""
    for cell in cells:
        key = (cell["variant"], cell["corpus"], cell["seed"])
        if key == (source, corpus, seed) and cell.get("best_epoch"):
            return int(cell["best_epoch"])
    sys.exit(f"the refit of {source} on {corpus} seed {seed}: run the {source} cell first")


def transferred(argv: list[str], source_model: Path) -> list[str]:
    """`argv` starting from `source_model` instead of any pretrained LM it named."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--init-from", "--init-directions"):
            skip = True
        else:
            kept.append(arg)
    return [*kept, "--init-from", str(source_model)]


def split_pair(option: str, form: str, spec: str) -> tuple[str, str]:
    """`LEFT=RIGHT` of an option's value, both non-empty; exits naming the option otherwise."""
    left, _, right = spec.partition("=")
    if not left or not right:
        sys.exit(f"{option} wants {form}, got {spec!r}")
    return left, right


def corpus_folder(args: argparse.Namespace, corpus: str) -> Path:
    """A corpus's folder: its `--corpus-path NAME=PATH`, else `--corpora-dir/NAME`."""
    return args.corpus_path.get(corpus) or args.corpora_dir / corpus


def corpus_pairs(args: argparse.Namespace, option: str, form: str) -> list[tuple[str, str]]:
    """`--option TARGET=OTHER` values as pairs; OTHER must name a corpus folder."""
    pairs = []
    for spec in getattr(args, option.removeprefix("--")):
        target, other = split_pair(option, form, spec)
        folder = corpus_folder(args, other)
        if not folder.is_dir():
            sys.exit(f"{option} {spec}: no corpus folder {folder}")
        pairs.append((target, other))
    return pairs


def row_name(args: argparse.Namespace, variant: str, corpus: str) -> str:
    """The results row of a variant's cells on `corpus` (transferred cells get their own)."""
    source = args.transfer.get(corpus)
    if not source:
        return variant
    return f"{variant}-from-{source}" + ("-refit" if args.source_refit else "")


def refit_base(variant: str, known: dict[str, list[str]]) -> str | None:
    """`bilm-refit` → `bilm`: the variant whose devel-chosen epochs a refit trains for (None
    for a variant that is not a `--refit` one, e.g. a preset whose own name ends in -refit)."""
    base = variant.removesuffix("-refit")
    return base if variant.endswith("-refit") and base in known else None


def is_source_refit_row(variant: str) -> bool:
    """Whether a results row was made with `--source-refit` (`<variant>-from-SOURCE-refit`)."""
    return "-from-" in variant and variant.endswith("-refit")


def source_dir(args: argparse.Namespace, variant: str, source_corpus: str, seed: str) -> Path:
    """Where a transfer's SOURCE model lives: the variant's SOURCE cell, or its refit."""
    row = f"{variant}-refit" if args.source_refit else variant
    return args.runs / row / source_corpus / f"seed{seed}"


def source_model(
    args: argparse.Namespace, variant: str, argv: list[str], source_corpus: str, seed: int
) -> Path:
    """The SOURCE model's run directory for a transfer (trained or refit here if missing)."""
    cell_dir = args.runs / variant / source_corpus / f"seed{seed}"
    source_sets = tuple(item for value in args.source_set for item in ("--set", value))
    summary = run_cell(args, argv, source_corpus, cell_dir, source_sets)
    model_dir = source_dir(args, variant, source_corpus, str(seed))
    if args.source_refit:
        epochs = ("--set", f"training.epochs={summary['best_epoch']}")
        run_cell(args, [*argv, "--no-dev"], source_corpus, model_dir, (*source_sets, *epochs))
    return model_dir


def run_cell(
    args: argparse.Namespace,
    argv: list[str],
    corpus: str,
    run_dir: Path,
    final: tuple[str, ...] = (),
) -> dict:
    """One `bioner train` subprocess; `final` overrides come after the command's --set."""
    summary = run_dir / "summary.json"
    if summary.is_file():
        return json.loads(summary.read_text())
    partners: list[str] = []
    for partner in args.partner.get(corpus, []):
        partners += ["--corpus", str(corpus_folder(args, partner))]
    if partners:  # the target corpus's head alone chooses the epoch
        partners += ["--set", f'training.selection_heads=["{corpus}"]']
    command = [
        sys.executable,
        "-c",
        "from bioner.cli.app import main; main()",
        "train",
        *argv,
        "--corpus",
        str(corpus_folder(args, corpus)),
        *partners,
        "--output",
        str(run_dir),
        "--quiet",
        "--set",
        f"training.num_threads={args.threads}",
    ]
    for override in args.set:
        command += ["--set", override]
    command += list(final)
    if (run_dir / "checkpoint").exists():
        command.append("--resume")
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    record = json.loads(summary.read_text())
    record.setdefault("wall_seconds", time.perf_counter() - started)
    return record


def cell_record(variant: str, corpus: str, seed: int, summary: dict[str, Any]) -> dict:
    test = summary.get("test") or summary.get("test_per_corpus", {}).get(corpus) or {}
    return {
        "variant": variant,
        "corpus": corpus,
        "seed": seed,
        "test_precision": test.get("precision"),
        "test_recall": test.get("recall"),
        "test_f1": test.get("f1"),
        "best_dev_f1": summary.get("best_dev_f1"),
        "best_epoch": summary.get("best_epoch"),
        "epochs_run": summary.get("epochs_run"),
        "train_seconds": summary.get("train_seconds"),
    }


def reference_cells(spec: str) -> tuple[str, list[dict], str]:
    """`NAME=FILE` of a bench_train_corpora results JSON as cells of variant NAME."""
    name, path = split_pair("--reference", "NAME=FILE", spec)
    record = json.loads(Path(path).read_text())
    cells = []
    for run in record["runs"]:
        seed = next(
            (o.split("=", 1)[1] for o in run["overrides"] if o.startswith("training.seed=")),
            run["config"]["training"]["seed"],
        )
        summary = {
            "test": {k: run[f"test_{k}"] for k in ("precision", "recall", "f1")},
            **{k: run.get(k) for k in ("best_dev_f1", "best_epoch", "epochs_run")},
            "train_seconds": run.get("train_seconds"),
        }
        cells.append(cell_record(name, run["corpus"], int(seed), summary))
    return name, cells, f"{record['command']} (reported from {path})"


def previous_results(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"cells": [], "commands": {}}
    record = json.loads(path.read_text())
    if "commands" not in record:  # results written before per-variant commands existed
        record["commands"] = {c["variant"]: record["command"] for c in record["cells"]}
    return record


def write_results(
    args: argparse.Namespace,
    table: dict[str, list[str]],
    cells: list[dict],
    commands: dict[str, Any],
):
    from bioner.data.atomic import atomic_write

    results = args.results
    results.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "commands": commands,
        "variants": table,
        "cells": cells,
    }
    with atomic_write(results / f"{args.name}.json") as stream:
        stream.write(json.dumps(payload, indent=2) + "\n")
    named = dict.fromkeys([*CORPORA, *args.corpora, *(x["corpus"] for x in cells)])
    corpora = [c for c in named if any(x["corpus"] == c for x in cells)]
    variant_order = list(dict.fromkeys(c["variant"] for c in cells))
    lines = [
        "# Pretraining ablation: test exact-match F1 (%), mean ± sd over seeds",
        "",
        "Best epoch chosen on devel; one row per variant, each made by the command listed "
        "under the table. A `-refit` row trains its source row's recipe on train + devel for "
        "the epoch count the source chose on devel and keeps the last epoch."
        + (SOURCE_REFIT_NOTE if any(is_source_refit_row(v) for v in variant_order) else "")
        + (TARGET_REFIT_NOTE if any("-refit-from-" in v for v in variant_order) else ""),
        "",
        "| variant | seeds | " + " | ".join(corpora) + " |",
        "|---|---|" + "---|" * len(corpora),
    ]
    for variant in variant_order:
        seeds = sorted({c["seed"] for c in cells if c["variant"] == variant})
        row = [variant, ", ".join(map(str, seeds))]
        for corpus in corpora:
            scored = [
                c
                for c in cells
                if c["variant"] == variant and c["corpus"] == corpus and c["test_f1"] is not None
            ]
            scores = [100 * c["test_f1"] for c in scored]
            # a cell with fewer seeds than its row says which (e.g. one seed on a big corpus)
            cell_seeds = sorted(c["seed"] for c in scored)
            which = (
                f" (seed{'s' if len(cell_seeds) > 1 else ''} {', '.join(map(str, cell_seeds))})"
                if scored and cell_seeds != seeds
                else ""
            )
            if not scores:
                row.append("—")
            elif len(scores) == 1:
                row.append(f"{scores[0]:.2f}{which}")
            else:
                mean, sd = statistics.mean(scores), statistics.stdev(scores)
                row.append(f"{mean:.2f} ± {sd:.2f}{which}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Commands:", ""]
    for variant in variant_order:
        made_by = commands[variant]
        made_by = [made_by] if isinstance(made_by, str) else made_by
        lines.append(f"* {variant}: " + "; then ".join(f"`{c}`" for c in made_by))
    with atomic_write(results / f"{args.name}.md") as stream:
        stream.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="sachan-cnn")
    parser.add_argument("--word2vec", help="word2vec file for the word2vec variant")
    parser.add_argument("--bilm", help="BiLM run directory (bioner pretrain bilm)")
    parser.add_argument("--table3", action="store_true", help="also LM_f and LM_b transfer")
    parser.add_argument(
        "--extra-preset", nargs="*", default=[], help="e.g. bionerflair or NAME=bionerflair"
    )
    parser.add_argument("--only", nargs="*", help="run only these variant names")
    parser.add_argument(
        "--refit", nargs="*", default=[], help="variants to refit on train + devel (VARIANT-refit)"
    )
    parser.add_argument("--corpora", nargs="*", default=CORPORA)
    parser.add_argument("--corpora-dir", type=Path, default=SHARED / "corpora")
    parser.add_argument(
        "--corpus-path",
        nargs="*",
        default=[],
        help="NAME=FOLDER: a corpus outside --corpora-dir (e.g. a silver corpus)",
    )
    parser.add_argument(
        "--partner",
        nargs="*",
        default=[],
        help="TARGET=PARTNER: multi-task cells of TARGET with a PARTNER head",
    )
    parser.add_argument(
        "--transfer",
        nargs="*",
        default=[],
        help="TARGET=SOURCE: cells of TARGET start from the same variant's SOURCE model",
    )
    parser.add_argument(
        "--source-refit",
        action="store_true",
        help="--transfer from the SOURCE cell's refit on train + devel",
    )
    parser.add_argument(
        "--source-set",
        nargs="*",
        default=[],
        help="overrides for --transfer SOURCE cells only, after --set (e.g. training.epochs=2)",
    )
    parser.add_argument("--seeds", nargs="*", type=int, default=[1])
    parser.add_argument("--set", nargs="*", default=[], help="overrides for every run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=Path, default=Path("runs/pretraining_ablation"))
    parser.add_argument("--name", default="pretraining_ablation", help="results file stem")
    parser.add_argument("--results", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--reference", nargs="*", default=[], help="NAME=bench_train_corpora results JSON"
    )
    args = parser.parse_args()
    pairs = (split_pair("--corpus-path", "NAME=FOLDER", spec) for spec in args.corpus_path)
    args.corpus_path = {name: Path(folder) for name, folder in pairs}
    partners: dict[str, list[str]] = {}
    for target, partner in corpus_pairs(args, "--partner", "TARGET=PARTNER"):
        partners.setdefault(target, []).append(partner)
    args.partner = partners
    transfers: dict[str, str] = {}
    for target, source in corpus_pairs(args, "--transfer", "TARGET=SOURCE"):
        if target in transfers:
            sys.exit(f"--transfer: one source per target, {target} has two")
        transfers[target] = source
    args.transfer = transfers
    if args.source_refit and not transfers:
        sys.exit("--source-refit: only with --transfer TARGET=SOURCE")
    every_variant = variants(args)
    table = {n: argv for n, argv in every_variant.items() if not args.only or n in args.only}
    previous = previous_results(args.results / f"{args.name}.json")
    commands: dict[str, Any] = previous["commands"]  # variant → command(s) that made it
    planned = dict.fromkeys(row_name(args, v, c) for v in table for c in args.corpora)
    kept = [  # earlier cells this command does not rerun
        c
        for c in previous["cells"]
        if not (c["variant"] in planned and c["corpus"] in args.corpora and c["seed"] in args.seeds)
    ]
    reproduce = "python " + " ".join(sys.argv)
    for spec in args.reference:
        name, reference, command = reference_cells(spec)
        kept = [c for c in kept if c["variant"] != name] + reference
        commands[name] = command
    cells: list[dict] = []
    for row in planned:  # a row made by several commands (e.g. more seeds) lists them all
        known = commands.get(row, [])
        known = [known] if isinstance(known, str) else known
        commands[row] = known if reproduce in known else [*known, reproduce]
    rows = {**previous.get("variants", {}), **table}  # every row's train arguments
    for corpus in args.corpora:
        source_corpus = args.transfer.get(corpus)
        for variant, argv in table.items():
            row = row_name(args, variant, corpus)
            base = refit_base(variant, every_variant)
            # a refit starts from the same SOURCE model as the row whose epochs it trains for
            source_variant = base or variant
            if source_corpus:
                rows[row] = transferred(
                    argv, source_dir(args, source_variant, source_corpus, "<k>") / "model"
                )
            for seed in args.seeds:
                run_dir = args.runs / row / corpus / f"seed{seed}"
                seeded = [*argv, "--set", f"training.seed={seed}"]
                final: tuple[str, ...] = ()
                if base:
                    chosen_by = row_name(args, base, corpus)
                    epochs = refit_epochs(kept + cells, chosen_by, corpus, seed)
                    final = ("--set", f"training.epochs={epochs}")
                if source_corpus:
                    source_argv = [*every_variant[source_variant], "--set", f"training.seed={seed}"]
                    model_dir = source_model(args, source_variant, source_argv, source_corpus, seed)
                    seeded = transferred(seeded, model_dir / "model")
                summary = run_cell(args, seeded, corpus, run_dir, final)
                cells.append(cell_record(row, corpus, seed, summary))
                write_results(args, rows, kept + cells, commands)
    write_results(args, rows, kept + cells, commands)
    print(f"wrote {args.results / (args.name + '.md')}")


if __name__ == "__main__":
    main()
