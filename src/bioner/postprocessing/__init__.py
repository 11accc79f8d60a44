"""Rule-based repairs and additions applied to a tagger's predicted spans.

A model names the rule sets it applies in `model.postprocess` (saved with the model), so
every way of running it — `annotate`, `predict`, `evaluate`, the web service, workers —
gives the same spans; `Tagger.postprocess` overrides the list for one loaded model. An entry
is a rule set's name (run on every head's spans) or `HEAD:name` (run on that head's only:
the default tagger's `BC5CDR:abbreviations` leaves its gene and variant heads alone).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from bioner.data.document import Document
from bioner.errors import BionerError
from bioner.postprocessing.document_rules import (
    postprocess_abbreviations,
    postprocess_abbreviations_keep,
    postprocess_repeats,
)
from bioner.postprocessing.variant_spans import postprocess_variants

# Each rule set takes a document and the types the tagger can output (None: any type).
RULE_SETS: dict[str, Callable[..., Document]] = {
    "variants": postprocess_variants,
    "abbreviations": postprocess_abbreviations,
    "abbreviations-keep": postprocess_abbreviations_keep,
    "repeats": postprocess_repeats,
}


def split_entry(entry: str) -> tuple[str | None, str]:
    """`abbreviations` → (None, "abbreviations"); `BC5CDR:abbreviations` → ("BC5CDR", …)."""
    head, _, name = entry.rpartition(":")
    return (head or None), name


def check_rule_sets(names: Sequence[str]) -> list[str]:
    """The entries as a list, or a BionerError naming the unknown rule sets."""
    unknown = [entry for entry in names if split_entry(entry)[1] not in RULE_SETS]
    if unknown:
        known = ", ".join(sorted(RULE_SETS))
        raise BionerError(
            f"unknown post-processing {', '.join(unknown)}; known: {known} "
            "(each optionally as HEAD:name for one head)"
        )
    return list(names)


def rules_for_head(entries: Sequence[str], head: str | None) -> list[str]:
    """The rule-set names to run on one head's spans: unscoped entries and that head's."""
    chosen = []
    for entry in entries:
        scope, name = split_entry(entry)
        if scope is None or scope == head:
            chosen.append(name)
    return chosen


def rule_sets_option(asked: Sequence[str]) -> list[str] | None:
    """A `--postprocess` option's rule sets: None if not given (the model's own), [] for none."""
    if not asked:
        return None
    if list(asked) == ["none"]:
        return []
    return check_rule_sets(asked)


def apply_rule_sets(
    documents: Sequence[Document],
    names: Sequence[str],
    labels: Collection[str] | None = None,
    head: str | None = None,
) -> list[Document]:
    """The documents after each rule set, in order, limited to `labels` if given.

    `HEAD:name` entries run only when `head` is that head (the spans are that head's).
    """
    out = list(documents)
    for name in rules_for_head(check_rule_sets(names), head):
        out = [RULE_SETS[name](document, labels=labels) for document in out]
    return out
