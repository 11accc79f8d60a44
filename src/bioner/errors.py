"""Errors bioner raises on purpose.

Every error a user can cause (a malformed file, an unknown config key, a missing model)
is a `BionerError`; the CLI prints its message and exits with status 2 instead of a
traceback. `InputFormatError` always names the file, the line and the problem.
"""

from __future__ import annotations

from pathlib import Path


class BionerError(Exception):
    """An error caused by the user's input or setup, shown without a traceback."""


class InputFormatError(BionerError):
    """A malformed input file: names the file, the 1-based line number and the problem."""

    def __init__(self, path: str | Path | None, line: int | None, problem: str) -> None:
        self.path = str(path) if path is not None else "<input>"
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}")
