"""A run set on disk: `results.json` with every run's record, the F1 summary, and a comparison.

An experiment's output folder holds `runs/<run id>.json` (one per fold/seed, written as each
finishes) and, once all are done, `results.json` gathering them. A later experiment names an
earlier `results.json` as its baseline; the comparison (mean ± sd of both, ΔF1, two-tailed
t-test, paired when both sets have exactly the same run ids, i.e. the same folds and seeds)
is stored with the method's results so tables can be drawn from the files alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bioner.data.atomic import atomic_write
from bioner.data.formats.textio import json_lone_surrogate
from bioner.errors import BionerError
from bioner.experiments.stats import summarize, t_test


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (an untestable set) becomes null: JSON has no NaN."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def f1_values(records: Sequence[dict[str, Any]]) -> list[float]:
    """F1 of each run, ordered by run id (so two sets with equal ids pair up)."""
    return [r["f1"] for r in sorted(records, key=lambda r: r["run_id"])]


def read_results(path: str | Path) -> dict[str, Any]:
    """A `results.json` written by `write_results` (clear error otherwise)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as error:
        raise BionerError(f"{file}: cannot read results ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise BionerError(f"{file}: cannot read results (not UTF-8: {error.reason})") from None
    except json.JSONDecodeError as error:
        raise BionerError(f"{file}, line {error.lineno}: invalid JSON ({error.msg})") from None
    # Its names go into table.md: a `\\ud800` escape there failed after all the runs.
    problem = json_lone_surrogate(text, data, "results")
    if problem is not None:
        raise BionerError(f"{file}: {problem}")
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise BionerError(f"{file}: not a bioner experiment results file (no 'runs' list)")
    return data


#: The record keys that fix what a run measured: test data (corpus and folds, or the test
#: corpus), matching and scored types. Method variants — config, partners and their --map,
#: --init-from, epochs, even the training corpus of an OOC run — are what a baseline
#: comparison is for, so they are not among them.
MEASURED_KEYS = ("kind", "corpus", "folds", "grouped_by", "fold_groups", "test", "mode")


def measured(record: dict[str, Any]) -> dict[str, Any]:
    """What a run record (or a job's info with "mode" and "settings") says it measured."""
    found = {key: record[key] for key in MEASURED_KEYS if key in record}
    if "scored_types" in record:
        found["scored_types"] = record["scored_types"]
    settings = record.get("settings")
    if isinstance(settings, dict) and "max_eval_sentences" in settings:
        found["max_eval_sentences"] = settings["max_eval_sentences"]
    return found


def differing_settings(expected: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[str]:
    """`key <recorded> (now <expected>)` for each key both name with different values; a key
    the record lacks (an older file) is not compared."""
    return [
        f"{key} {recorded[key]!r} (now {value!r})"
        for key, value in expected.items()
        if key in recorded and recorded[key] != value
    ]


def check_baseline(baseline: dict[str, Any], path: str | Path, expected: dict[str, Any]) -> None:
    """Refuse a baseline whose runs measured something else than `expected` (`measured`).

    ΔF1 and the t-test only mean something between runs scored on the same test data the
    same way; a CV baseline for an OOC run, another test corpus, `--mode` or `--types`
    compared two different measurements without a word. Keys an old record lacks are not
    compared.
    """
    runs = [r for r in baseline["runs"] if isinstance(r, dict)]
    if not runs:
        return
    differ = differing_settings(expected, measured(runs[0]))
    if differ:
        raise BionerError(
            f"{path}: the --baseline runs measured something else: {'; '.join(differ)}. "
            "A baseline must be scored on the same test data, the same way."
        )


def compare(method: Sequence[dict[str, Any]], baseline: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summary of both sets, ΔF1 of the means, and the t-test of method against baseline."""
    ids_method = sorted(r["run_id"] for r in method)
    ids_baseline = sorted(r["run_id"] for r in baseline)
    paired = ids_method == ids_baseline and len(ids_method) > 1
    a, b = f1_values(method), f1_values(baseline)
    test = t_test(a, b, paired=paired)
    ours, theirs = summarize(a), summarize(b)
    return {
        "method": _json_safe(asdict(ours)),
        "baseline": _json_safe(asdict(theirs)),
        "delta_f1": ours.mean - theirs.mean,
        "t_test": _json_safe(asdict(test)),
    }


def build_results(
    kind: str,
    name: str,
    records: Sequence[dict[str, Any]],
    settings: dict[str, Any],
    command: str,
    baseline: dict[str, Any] | None = None,
    baseline_path: str | None = None,
) -> dict[str, Any]:
    """The `results.json` content for a finished run set."""
    data: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "command": command,
        "settings": settings,
        "summary": _json_safe(asdict(summarize(f1_values(records)))),
        "runs": sorted(records, key=lambda r: r["run_id"]),
    }
    if baseline is not None:
        data["baseline"] = {
            "path": baseline_path,
            "name": baseline.get("name", "baseline"),
            **compare(records, baseline["runs"]),
        }
    return data


def write_results(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2))
