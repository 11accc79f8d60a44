"""A string ⇄ index table saved as plain JSON (no pickle), with optional special entries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Maps strings to contiguous ids; specials come first, in the order given."""

    def __init__(self, items: Iterable[str], specials: Iterable[str] = (PAD, UNK)) -> None:
        self.specials = list(specials)
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        for item in [*self.specials, *items]:
            if item not in self.index:
                self.index[item] = len(self.items)
                self.items.append(item)
        self.unk_id = self.index.get(UNK)

    @classmethod
    def from_counts(
        cls,
        counts: Counter[str],
        min_count: int = 1,
        specials: Iterable[str] = (PAD, UNK),
        extra: Iterable[str] = (),
    ) -> Vocabulary:
        """Frequent items first (ties alphabetical, so ids are reproducible), then `extra`."""
        kept = sorted(
            (item for item, n in counts.items() if n >= min_count),
            key=lambda item: (-counts[item], item),
        )
        return cls([*kept, *extra], specials)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    def id(self, item: str) -> int:
        """The item's id, or the unknown id (KeyError when the vocabulary has no UNK)."""
        found = self.index.get(item)
        if found is not None:
            return found
        if self.unk_id is None:
            raise KeyError(f"{item!r} is not in a vocabulary without an unknown entry")
        return self.unk_id

    def ids(self, items: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk_id
        if unk is None:
            return [self.id(item) for item in items]
        return [get(item, unk) for item in items]

    def to_json(self) -> dict[str, list[str]]:
        return {"specials": self.specials, "items": self.items[len(self.specials) :]}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> Vocabulary:
        return cls(data["items"], data["specials"])
