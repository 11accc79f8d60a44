"""Tag schemes (IOB1, IOB2/BIO, BIOES/IOBES) and lossless chunk ⇄ tag conversion.

Written by hand because the conversion must be exact, fast and documented for ill-formed
input, and seqeval (used as the test oracle) exposes neither a writer nor a choice of rule.

A chunk is `(label, first_token, end_token)` with `end_token` exclusive.

Decoding ill-formed sequences — two documented rules:

* **strict** (the default; equals seqeval's `mode="strict"` for IOB2 and BIOES): a mention
  is only what the scheme allows. IOB2: `B-X` then any `I-X`; an `I-X` after `O` or after
  another type belongs to no mention. BIOES: `S-X`, or `B-X I-X* E-X`; a `B-X` not closed
  by `E-X` is dropped. IOB1: a mention starts at `B-X`, or at `I-X` after `O` or after
  another type — the lenient rule, as seqeval's default mode reads it. seqeval's *strict*
  IOB1 is not followed: it reads `O B-X I-X` as a mention of the `I-X` token alone.
* **lenient** (equals conlleval and seqeval's default mode): every `I-X`/`E-X` that cannot
  continue the open mention starts a new one, a type switch starts a new mention, and a
  mention ends where the next one starts or at `O`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

Chunk = tuple[str, int, int]

OUTSIDE = "O"


class TagScheme(StrEnum):
    IOB1 = "IOB1"
    IOB2 = "IOB2"
    BIOES = "BIOES"

    @classmethod
    def parse(cls, name: TagScheme | str) -> TagScheme:
        """Accept the usual aliases: BIO = IOB2, IOBES = BIOES."""
        if isinstance(name, TagScheme):
            return name
        aliases = {"BIO": "IOB2", "IOB": "IOB2", "IOBES": "BIOES", "BIOES": "BIOES"}
        key = name.strip().upper()
        try:
            return cls(aliases.get(key, key))
        except ValueError:
            raise ValueError(
                f"unknown tag scheme {name!r}: use IOB1, IOB2 (BIO) or BIOES (IOBES)"
            ) from None


_PREFIXES = {
    TagScheme.IOB1: frozenset("BI"),
    TagScheme.IOB2: frozenset("BI"),
    TagScheme.BIOES: frozenset("BIES"),
}


def split_tag(tag: str) -> tuple[str, str]:
    """`"B-Disease"` → `("B", "Disease")`; `"O"` → `("O", "")`."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES":
        raise ValueError(f"malformed tag {tag!r}: expected O or B-/I-/E-/S- followed by a type")
    return tag[0], tag[2:]


def validate_tags(tags: Sequence[str], scheme: TagScheme | str) -> None:
    """Raise ValueError if any tag uses a prefix the scheme does not have."""
    allowed = _PREFIXES[TagScheme.parse(scheme)]
    for position, tag in enumerate(tags):
        prefix, _ = split_tag(tag)
        if prefix != OUTSIDE and prefix not in allowed:
            raise ValueError(f"tag {tag!r} at position {position + 1} is not valid in {scheme}")


def chunks_from_tags(
    tags: Sequence[str], scheme: TagScheme | str = TagScheme.IOB2, *, strict: bool = True
) -> list[Chunk]:
    """Mentions encoded by a tag sequence, by the strict or the lenient rule (module doc)."""
    scheme = TagScheme.parse(scheme)
    parsed = [split_tag(tag) for tag in tags]
    if not strict:
        return _lenient_chunks(parsed)
    validate_tags(tags, scheme)
    if scheme is TagScheme.IOB2:
        return _strict_iob2(parsed)
    if scheme is TagScheme.BIOES:
        return _strict_bioes(parsed)
    return _lenient_chunks(parsed)  # IOB1 read strictly is exactly the lenient rule on B/I/O


def _strict_iob2(parsed: list[tuple[str, str]]) -> list[Chunk]:
    chunks: list[Chunk] = []
    i, n = 0, len(parsed)
    while i < n:
        prefix, label = parsed[i]
        if prefix != "B":
            i += 1
            continue
        j = i + 1
        while j < n and parsed[j] == ("I", label):
            j += 1
        chunks.append((label, i, j))
        i = j
    return chunks


def _strict_bioes(parsed: list[tuple[str, str]]) -> list[Chunk]:
    chunks: list[Chunk] = []
    i, n = 0, len(parsed)
    while i < n:
        prefix, label = parsed[i]
        if prefix == "S":
            chunks.append((label, i, i + 1))
            i += 1
            continue
        if prefix != "B":
            i += 1
            continue
        j = i + 1
        last_prefix = "B"
        while j < n and last_prefix in "BI" and parsed[j] in (("I", label), ("E", label)):
            last_prefix = parsed[j][0]
            j += 1
        if last_prefix == "E":
            chunks.append((label, i, j))
        i = j
    return chunks


def _chunk_ends(prev_prefix: str, prefix: str, prev_label: str, label: str) -> bool:
    if prev_prefix in "ES":
        return True
    if prev_prefix == OUTSIDE:
        return False
    if prefix in ("B", "S", OUTSIDE):
        return True
    return prev_label != label


def _chunk_starts(prev_prefix: str, prefix: str, prev_label: str, label: str) -> bool:
    if prefix == OUTSIDE:
        return False
    if prefix in "BS":
        return True
    if prev_prefix in ("E", "S", OUTSIDE):
        return True
    return prev_label != label


def _lenient_chunks(parsed: list[tuple[str, str]]) -> list[Chunk]:
    chunks: list[Chunk] = []
    prev_prefix, prev_label = OUTSIDE, ""
    open_start: int | None = None
    for i, (prefix, label) in enumerate(parsed):
        if open_start is not None and _chunk_ends(prev_prefix, prefix, prev_label, label):
            chunks.append((prev_label, open_start, i))
            open_start = None
        if _chunk_starts(prev_prefix, prefix, prev_label, label):
            open_start = i
        prev_prefix, prev_label = prefix, label
    if open_start is not None:
        chunks.append((prev_label, open_start, len(parsed)))
    return chunks


def tags_from_chunks(
    chunks: Sequence[Chunk], length: int, scheme: TagScheme | str = TagScheme.IOB2
) -> list[str]:
    """Encode non-overlapping chunks as tags of the given scheme."""
    scheme = TagScheme.parse(scheme)
    tags = [OUTSIDE] * length
    previous_end, previous_label = -1, ""
    for label, first, end in sorted(chunks, key=lambda c: c[1]):
        if first < 0 or end > length or end <= first:
            raise ValueError(f"chunk {(label, first, end)} is outside a sequence of {length}")
        if first < previous_end:
            raise ValueError(f"chunk {(label, first, end)} overlaps the one before it")
        if scheme is TagScheme.BIOES:
            if end - first == 1:
                tags[first] = f"S-{label}"
            else:
                tags[first] = f"B-{label}"
                for k in range(first + 1, end - 1):
                    tags[k] = f"I-{label}"
                tags[end - 1] = f"E-{label}"
        else:
            adjacent_same = first == previous_end and label == previous_label
            begin = "B" if scheme is TagScheme.IOB2 or adjacent_same else "I"
            tags[first] = f"{begin}-{label}"
            for k in range(first + 1, end):
                tags[k] = f"I-{label}"
        previous_end, previous_label = end, label
    return tags


def convert_tags(
    tags: Sequence[str],
    source: TagScheme | str,
    target: TagScheme | str,
    *,
    strict: bool = True,
) -> list[str]:
    """Re-encode a tag sequence in another scheme (lossless for well-formed input)."""
    return tags_from_chunks(chunks_from_tags(tags, source, strict=strict), len(tags), target)
