"""The wire format between an annotation driver and its remote taggers (processes or Ray).

One job: turn a batch of documents into a plain JSON string, tag such a string with a loaded
`Tagger`, and merge the JSON reply back into the original documents. Both engines — worker
processes (`parallel`) and Ray tasks (`ray_engine`) — speak it, so only plain strings cross a
process or machine boundary and both engines give identical output.

A task is ``{"seq", "tokens", "types", "docs": [[text, passage_ends, sentences | null], ...]}``
(``types``: the entity types wanted, or null for all);
``sentences`` (token offsets) travel only when the document arrived tokenized. A reply is
``{"seq", "docs": [{"spans": [[start, end, label, score], ...], "sentences"?: ...}]}``, with
token offsets only when the task asked for them (`tokens`): they are most of the payload and
only token-level outputs (CoNLL) need them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from bioner.data.document import Document, Sentence, Span, Token
from bioner.errors import BionerError

if TYPE_CHECKING:
    from bioner.tagger import Tagger
    from bioner.text import Tokenizer


def encode_task(
    seq: int, batch: list[Document], *, tokens: bool, types: Collection[str] | None = None
) -> str:
    """A batch as JSON: each document's text, forced sentence breaks and given sentences."""
    docs = [
        [
            d.text,
            [p.end for p in d.passages],
            [[[t.start, t.end] for t in s.tokens] for s in d.sentences] if d.sentences else None,
        ]
        for d in batch
    ]
    wanted = None if types is None else sorted(types)
    message = {"seq": seq, "tokens": tokens, "types": wanted, "docs": docs}
    return json.dumps(message, ensure_ascii=False)


def _document(item: list[Any], tokenizer: Tokenizer) -> Document:
    """A task item `[text, breaks, sentences | None]` as a tokenized document."""
    text, breaks, offsets = item
    if offsets is not None:
        sentences = [Sentence([Token(text[s:e], s, e) for s, e in tokens]) for tokens in offsets]
    else:
        sentences = tokenizer.tokenize(text, boundaries=breaks) if text else []
    return Document(id="task", text=text, sentences=sentences)


def run_task(tagger: Tagger, tokenizer: Tokenizer, message: str, batch_tokens: int) -> str:
    """Tag one JSON task; the reply carries the task's `seq`, or an `error` for this batch."""
    task = json.loads(message)
    try:
        documents = [_document(item, tokenizer) for item in task["docs"]]
        predicted = tagger.predict_documents(
            documents, batch_tokens=batch_tokens, types=task.get("types")
        )
        payload = []
        for document in predicted:
            reply: dict[str, Any] = {
                "spans": [[s.start, s.end, s.label, s.score] for s in document.spans]
            }
            if task["tokens"]:
                reply["sentences"] = [
                    [[t.start, t.end] for t in s.tokens] for s in document.sentences
                ]
            payload.append(reply)
        return json.dumps({"seq": task["seq"], "docs": payload})
    except Exception as error:  # one bad batch must not kill the worker (signals still do)
        return json.dumps({"seq": task["seq"], "error": str(error)})


def read_reply(message: str) -> dict[str, Any]:
    """A reply as a dict with `seq` and `docs`; a failed batch or worker is a BionerError."""
    reply = json.loads(message)
    if "fatal" in reply:
        raise BionerError(reply["fatal"])
    if "error" in reply:
        raise BionerError(f"annotation failed: {reply['error']}")
    return reply


def merge_result(document: Document, result: dict[str, Any]) -> Document:
    """The original document with the remote tagger's spans (and sentences, when sent)."""
    text = document.text
    merged = document.with_predictions(
        Span(s, e, label, score) for s, e, label, score in result["spans"]
    )
    if not document.sentences and "sentences" in result:
        merged.sentences = [
            Sentence([Token(text[s:e], s, e) for s, e in tokens]) for tokens in result["sentences"]
        ]
    return merged


__all__ = ["encode_task", "merge_result", "read_reply", "run_task"]
