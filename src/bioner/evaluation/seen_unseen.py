"""Recall on gold mentions seen vs unseen in training (Sachan et al. §4.4).

Written by hand: it needs the training documents' mention texts, which no metric library
takes. A gold mention is *seen* when its surface text (the document text under its offsets)
is the text of some mention in the training documents — whatever that mention's type.
Comparison is case-sensitive unless `lowercase` is set, and ignores whitespace: a CoNLL file's
text is its tokens joined by spaces ("IL - 2"), so a training corpus read from CoNLL would
otherwise never match the raw text of a PubTator or BioC gold standard ("IL-2"). Counted per
mention occurrence, and also per distinct surface text (Sachan counts distinct mentions: a
distinct text counts as found when at least one of its occurrences was found).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, computed_field

from bioner.data.document import Document


class RecallCount(BaseModel):
    """How many gold mentions there were and how many of them were found."""

    model_config = ConfigDict(frozen=True)

    total: int = 0
    found: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 0.0


class SeenUnseenRecall(BaseModel):
    """Recall split by whether the mention text occurs as a mention in the training set."""

    model_config = ConfigDict(frozen=True)

    lowercase: bool
    distinct_training_mentions: int
    seen: RecallCount
    unseen: RecallCount
    seen_distinct: RecallCount
    unseen_distinct: RecallCount


def _normal(text: str, lowercase: bool) -> str:
    """The comparison key of a mention text: whitespace removed, lower-cased if asked."""
    key = "".join(text.split())
    return key.lower() if lowercase else key


def training_vocabulary(documents: Iterable[Document], *, lowercase: bool = False) -> set[str]:
    """The set of mention surface texts in the training documents."""
    return {
        _normal(document.span_text(span), lowercase)
        for document in documents
        for span in document.spans
    }


def seen_unseen_recall(
    mentions: Iterable[tuple[str, bool]], vocabulary: set[str], *, lowercase: bool = False
) -> SeenUnseenRecall:
    """Recall on seen/unseen gold mentions from `(surface text, was found)` pairs."""
    counts = {True: [0, 0], False: [0, 0]}
    distinct: dict[str, bool] = {}
    for text, found in mentions:
        key = _normal(text, lowercase)
        seen = key in vocabulary
        counts[seen][0] += 1
        counts[seen][1] += int(found)
        distinct[key] = distinct.get(key, False) or found
    distinct_counts = {True: [0, 0], False: [0, 0]}
    for key, found in distinct.items():
        seen = key in vocabulary
        distinct_counts[seen][0] += 1
        distinct_counts[seen][1] += int(found)
    return SeenUnseenRecall(
        lowercase=lowercase,
        distinct_training_mentions=len(vocabulary),
        seen=RecallCount(total=counts[True][0], found=counts[True][1]),
        unseen=RecallCount(total=counts[False][0], found=counts[False][1]),
        seen_distinct=RecallCount(total=distinct_counts[True][0], found=distinct_counts[True][1]),
        unseen_distinct=RecallCount(
            total=distinct_counts[False][0], found=distinct_counts[False][1]
        ),
    )
