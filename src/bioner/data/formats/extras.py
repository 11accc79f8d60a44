"""Format-specific span details carried in `Span.extra` as `"namespace.key=value"` strings.

`Span.extra` is a plain tuple of strings so that spans stay hashable and format-neutral; a
namespace per format (`pubtator.`, `brat.`, `bioc.`) lets each writer find the details it can
reproduce (a BRAT id, discontinuous fragments, a PubTator 7th column) and ignore the rest.
"""

from __future__ import annotations

from bioner.data.document import Span


def make(key: str, value: str) -> str:
    return f"{key}={value}"


def get(span: Span, key: str) -> str | None:
    """The value stored under `key`, or None."""
    prefix = f"{key}="
    for item in span.extra:
        if item.startswith(prefix):
            return item[len(prefix) :]
    return None


def with_prefix(span: Span, prefix: str) -> list[tuple[str, str]]:
    """`(key without prefix, value)` for every detail whose key starts with `prefix`."""
    found = []
    for item in span.extra:
        key, sep, value = item.partition("=")
        if sep and key.startswith(prefix):
            found.append((key[len(prefix) :], value))
    return found


def fragments_of(span: Span) -> list[tuple[int, int]]:
    """The character ranges of a discontinuous mention, or just `[(start, end)]`."""
    stored = get(span, "fragments")
    if not stored:
        return [(span.start, span.end)]
    pieces = []
    for piece in stored.split(";"):
        start, end = piece.split()
        pieces.append((int(start), int(end)))
    return pieces


def fragments_value(fragments: list[tuple[int, int]]) -> str:
    return ";".join(f"{start} {end}" for start, end in fragments)
