"""Progress bars for the long steps of pretraining, drawn on stderr.

One job: a `progress(stage, done, total)` callback that library code calls without knowing
about rich, and that the commands turn into one bar per stage (or nothing with `--quiet`).
stderr, so that a command's own output on stdout stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: `progress(stage, done, total)`: `total` None when unknown.
ProgressCallback = Callable[[str, int, int | None], None]


@contextmanager
def progress_bars(enabled: bool, console: Console | None = None) -> Iterator[ProgressCallback]:
    """A `progress(stage, done, total)` function drawing one rich bar per stage."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update
