"""Which entity types named by a user (in `--type`, `--map`, `--types`) no mention carries.

One job: such a name (a typo, a type of another corpus) would silently score nothing or
change nothing, so commands refuse it; each words its own error from what this finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bioner.data.document import Document


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
