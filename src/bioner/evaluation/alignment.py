"""Pairs each predicted document with its gold document and checks they hold the same text.

Span offsets are only comparable when both sides index the same text, so a prediction file
for another corpus, another split or a differently tokenized copy must stop the evaluation
with a message naming the first place where they differ — not produce a silently low score.
The text alone decides: spans are character offsets into it, so the same text tokenized or
sentence-split another way (a JSONL or BioC file from another tokenizer) is scored as is;
sentences and tokens only serve to name where two different texts part.

Pairing rule (``align="auto"``): by document id when both sides have unique ids and the same
id set; otherwise by position when both sides have the same number of documents (CoNLL files
carry no ids, so readers number them); otherwise an error naming unmatched ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from bioner.data.document import Document
from bioner.errors import BionerError

Alignment = Literal["auto", "id", "order"]


def _ids_unique(documents: Sequence[Document]) -> bool:
    return len({d.id for d in documents}) == len(documents)


def align_documents(
    gold: Sequence[Document], pred: Sequence[Document], align: Alignment = "auto"
) -> list[tuple[Document, Document]]:
    """Gold/prediction document pairs, in gold order, each checked by `check_same_text`."""
    by_id = _ids_unique(gold) and _ids_unique(pred) and {d.id for d in gold} == {d.id for d in pred}
    if align == "id" or (align == "auto" and by_id):
        if not by_id:
            raise BionerError(_id_problem(gold, pred))
        predicted = {d.id: d for d in pred}
        pairs = [(g, predicted[g.id]) for g in gold]
    else:
        if len(gold) != len(pred):
            problem = f"gold has {len(gold)} documents but predictions have {len(pred)}"
            if align == "auto" and _ids_unique(gold) and _ids_unique(pred):
                problem += "; " + _id_problem(gold, pred)
            raise BionerError(problem)
        pairs = list(zip(gold, pred, strict=True))
    for position, (g, p) in enumerate(pairs, start=1):
        check_same_text(g, p, position)
    return pairs


def _id_problem(gold: Sequence[Document], pred: Sequence[Document]) -> str:
    if not _ids_unique(gold) or not _ids_unique(pred):
        return "document ids are not unique, so documents cannot be paired by id"
    gold_ids, pred_ids = [d.id for d in gold], {d.id for d in pred}
    missing = [i for i in gold_ids if i not in pred_ids][:5]
    extra = sorted(pred_ids - set(gold_ids))[:5]
    return (
        f"document ids differ: gold documents without prediction {missing}, "
        f"predicted documents not in gold {extra}"
    )


def check_same_text(gold: Document, pred: Document, position: int = 1) -> None:
    """Raise BionerError naming the first sentence/token (or character) where texts differ.

    Equal texts pass whatever their tokens: the offsets of both sides then mean the same.
    """
    if gold.text == pred.text:
        return
    name = f"document {gold.id!r} (#{position})"
    if gold.id != pred.id:
        name += f" / predicted {pred.id!r}"
    if gold.sentences and pred.sentences:
        for index, (gs, ps) in enumerate(zip(gold.sentences, pred.sentences, strict=False), 1):
            if gs.words != ps.words:
                where = next(
                    (k for k, (a, b) in enumerate(zip(gs.words, ps.words, strict=False)) if a != b),
                    min(len(gs.words), len(ps.words)),
                )
                raise BionerError(
                    f"{name}, sentence {index}: gold and predicted tokens differ at token "
                    f"{where + 1} (gold {_token(gs.words, where)}, "
                    f"predicted {_token(ps.words, where)}); gold sentence starts "
                    f"{' '.join(gs.words[:8])!r}"
                )
        if len(gold.sentences) != len(pred.sentences):
            raise BionerError(
                f"{name}: gold has {len(gold.sentences)} sentences, "
                f"predictions have {len(pred.sentences)}"
            )
    # Same tokens, other spacing (or no tokens on one side): the character says where.
    where = next(
        (k for k, (a, b) in enumerate(zip(gold.text, pred.text, strict=False)) if a != b),
        min(len(gold.text), len(pred.text)),
    )
    line = gold.text.count("\n", 0, where) + 1
    raise BionerError(
        f"{name}: texts differ at character {where} (line {line}): "
        f"gold {gold.text[where : where + 20]!r}, predicted {pred.text[where : where + 20]!r}"
    )


def _token(words: Sequence[str], index: int) -> str:
    return repr(words[index]) if index < len(words) else "<end of sentence>"
