"""Rule-based repairs and additions applied to a tagger's predicted spans.

A model names the rule sets it applies in `model.postprocess` (saved with the model), so
every way of running it — `annotate`, `predict`, `evaluate`, the web service, workers —
gives the same spans; `Tagger.postprocess` overrides the list for one loaded model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from bioner.data.document import Document
from bioner.errors import BionerError
from bioner.postprocessing.variant_spans import postprocess_variants

# Each rule set takes a document and the types the tagger can output (None: any type).
RULE_SETS: dict[str, Callable[..., Document]] = {"variants": postprocess_variants}


def check_rule_sets(names: Sequence[str]) -> list[str]:
    """The names as a list, or a BionerError naming the unknown ones."""
    unknown = [name for name in names if name not in RULE_SETS]
    if unknown:
        known = ", ".join(sorted(RULE_SETS))
        raise BionerError(f"unknown post-processing {', '.join(unknown)}; known: {known}")
    return list(names)


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
) -> list[Document]:
    """The documents after each named rule set, in order, limited to `labels` if given."""
    out = list(documents)
    for name in check_rule_sets(names):
        out = [RULE_SETS[name](document, labels=labels) for document in out]
    return out
