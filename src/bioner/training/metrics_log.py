"""The metrics log: one JSON object per line, appended and flushed as training goes.

A line per evaluation (epoch, step, train loss, dev P/R/F1, lr, seconds, sentences/s) is what
learning curves, convergence plots (Sachan Fig. 7) and benchmark tables are drawn from, and
it must survive a killed run: each record is flushed when written, a reader tolerates a
truncated LAST line (the only damage a kill can do), and reopening for a resumed run cuts
that partial line off before appending. Any other malformed line is an `InputFormatError`
naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from bioner.data.atomic import atomic_write
from bioner.errors import InputFormatError

PathLike = str | os.PathLike[str]


class MetricsRecord(TypedDict, total=False):
    """The usual keys of a record; others (e.g. per-corpus F1) may be added freely."""

    epoch: int
    step: int
    train_loss: float
    dev_precision: float | None
    dev_recall: float | None
    dev_f1: float | None
    learning_rate: float
    seconds: float  # wall time of this epoch
    elapsed_seconds: float  # wall time since training started
    sentences_per_second: float


def _parse_lines(path: Path, data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Records in `data` and the byte length of its well-formed prefix."""
    records: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    # After a final newline split() yields one empty piece: that is not a line.
    ends_with_newline = data.endswith(b"\n")
    if ends_with_newline or not data:
        lines = lines[:-1]
    good_bytes = 0
    for number, raw in enumerate(lines, start=1):
        is_last = number == len(lines)
        truncated_candidate = is_last and not ends_with_newline
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            if truncated_candidate:
                break  # a kill cut the last line short: drop it
            problem = "empty line" if not raw.strip() else f"not valid JSON ({error})"
            raise InputFormatError(path, number, problem) from error
        if not isinstance(record, dict):
            if truncated_candidate:
                break
            raise InputFormatError(path, number, "expected a JSON object per line")
        records.append(record)
        good_bytes += len(raw) + (0 if truncated_candidate else 1)
    return records, good_bytes


def read_metrics(path: PathLike) -> list[dict[str, Any]]:
    """All records of a metrics log, tolerating only a truncated last line."""
    file = Path(path)
    return _parse_lines(file, file.read_bytes())[0]


class MetricsLog:
    """Append-only JSONL writer; every `append` is flushed before it returns.

    By default an existing log is continued, after cutting off a truncated last line; pass
    `keep_until_step` (the resumed checkpoint's step) to also drop records written after that
    checkpoint. `fresh=True` starts an empty log (a new run).
    """

    def __init__(
        self, path: PathLike, *, fresh: bool = False, keep_until_step: int | None = None
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            with atomic_write(self.path) as stream:
                stream.write("")
        elif self.path.exists():
            self._repair(keep_until_step)

    def _repair(self, keep_until_step: int | None) -> None:
        data = self.path.read_bytes()
        records, good_bytes = _parse_lines(self.path, data)
        if keep_until_step is not None:
            kept = [r for r in records if int(r.get("step", 0)) <= keep_until_step]
            if len(kept) != len(records):
                with atomic_write(self.path) as stream:
                    stream.writelines(_dumps(r) + "\n" for r in kept)
                return
        if good_bytes != len(data):
            with open(self.path, "r+b") as stream:
                stream.truncate(good_bytes)
        elif data and not data.endswith(b"\n"):
            # A complete last record that lost only its newline.
            with open(self.path, "ab") as stream:
                stream.write(b"\n")

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line and flush it."""
        line = _dumps(dict(record))
        with open(self.path, "a", encoding="utf-8", newline="\n") as stream:
            stream.write(line + "\n")
            stream.flush()

    def read(self) -> list[dict[str, Any]]:
        """All records written so far."""
        return read_metrics(self.path) if self.path.exists() else []


def _dumps(record: dict[str, Any]) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise TypeError(f"metrics record is not JSON-serializable: {error}") from error
