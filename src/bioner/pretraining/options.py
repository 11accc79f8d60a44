"""Range checks for the numeric options of the `bioner pretrain` commands.

A zero or negative size must be refused before any text is read, with the option's
command-line name, not surface later as a traceback (a modulo by zero) or as a run that
quietly does nothing (gensim with no worker threads).
"""

from __future__ import annotations

from bioner.errors import BionerError


def check_option(
    option: str,
    value: float | None,
    minimum: float,
    *,
    strict: bool = False,
    maximum: float | None = None,
) -> None:
    """Raise BionerError unless `value` (None: not given) is ≥ `minimum` (> when `strict`)
    and ≤ `maximum`; `option` is the flag the message names, e.g. "--dim"."""
    if value is None:
        return
    if value < minimum or (strict and value == minimum):
        bound = "greater than" if strict else "at least"
        raise BionerError(f"{option} must be {bound} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise BionerError(f"{option} must be at most {maximum}, got {value}")
