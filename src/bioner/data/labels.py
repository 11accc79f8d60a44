"""Entity types named by a user (`--type`, `--map OLD=NEW`, `--types`): read, and checked.

One job: the `--map` pairs are read the same way by every command, and a name no mention
carries (a typo, a type of another corpus) would silently score or change nothing, so
commands refuse it; each words its own error from what `absent_types` finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bioner.data.document import Document
from bioner.errors import BionerError


def parse_label_map(pairs: Iterable[str]) -> dict[str, str]:
    """`["GGP=GENE", "protein=GENE"]` → `{"GGP": "GENE", "protein": "GENE"}`."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise BionerError(f"--map {pair!r}: expected OLD=NEW, e.g. --map GGP=GENE")
        mapping[source.strip()] = target.strip()
    return mapping


def absent_types(
    names: Iterable[str],
    documents: Iterable[Document],
    label_map: Mapping[str, str] | None = None,
) -> tuple[list[str], str]:
    """(the names no mention carries, sorted; the types present as "A, B", or "none").

    `label_map` renames the mentions' types first.
    """
    mapping = label_map or {}
    present = {mapping.get(s.label, s.label) for d in documents for s in d.spans}
    return sorted(set(names) - present), ", ".join(sorted(present)) or "none"
