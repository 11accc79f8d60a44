"""Put the sentences of a sentence-per-document corpus back into the documents they came from.

Why: most CoNLL releases (BC5CDR, NCBI-disease, BC2GM) drop document boundaries, yet the
document-level rules (`bioner.postprocessing.document_rules`: an abbreviation takes its long
form's type, a name tagged once is tagged everywhere) need the whole abstract. The original
releases (PubTator for BC5CDR and NCBI-disease) still have the documents, and the CoNLL
sentences are those documents cut into sentences and tokens in order, so each sentence's
characters (whitespace removed) continue the text of the document it belongs to. Written by
hand: this is an alignment between two of the project's own data structures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from bioner.data.document import Document, Sentence, Span, Token
from bioner.errors import BionerError

_WHITESPACE = re.compile(r"\s+")


def merge_documents(doc_id: str, parts: Sequence[Document]) -> Document:
    """One document whose text is the parts' texts joined by newlines, spans and tokens shifted."""
    texts: list[str] = []
    sentences: list[Sentence] = []
    spans: list[Span] = []
    offset = 0
    for index, part in enumerate(parts):
        if index:
            texts.append("\n")
            offset += 1
        texts.append(part.text)
        for sentence in part.sentences:
            shifted = [Token(t.text, t.start + offset, t.end + offset) for t in sentence.tokens]
            sentences.append(Sentence(shifted))
        spans.extend(
            replace(span, start=span.start + offset, end=span.end + offset) for span in part.spans
        )
        offset += len(part.text)
    return Document(id=doc_id, text="".join(texts), sentences=sentences, spans=spans)


def group_by_reference(
    sentence_docs: Sequence[Document], references: Sequence[Document]
) -> list[tuple[int, list[int]]]:
    """(reference index, sentence indices) for each run of sentences that forms one document.

    Sentences must appear in document order; a run of consecutive sentences whose joined
    characters (whitespace ignored) start a reference document's characters and continue them
    forms one group (a sentence that could start several documents starts the first of them).
    Raises BionerError naming the first sentence that fits no document.
    """
    keys = [_WHITESPACE.sub("", reference.text) for reference in references]
    groups: list[tuple[int, list[int]]] = []
    current: int | None = None
    position = 0
    for index, document in enumerate(sentence_docs):
        key = _WHITESPACE.sub("", document.text)
        if current is not None and keys[current].startswith(key, position):
            groups[-1][1].append(index)
            position += len(key)
            continue
        starts = [i for i, reference_key in enumerate(keys) if reference_key.startswith(key)]
        if not starts:
            raise BionerError(
                f"sentence {index + 1} ({document.id}: {document.text[:60]!r}) neither continues "
                "the previous document nor starts any reference document"
            )
        current = starts[0]
        position = len(key)
        groups.append((current, [index]))
    return groups


def regroup(sentence_docs: Sequence[Document], references: Sequence[Document]) -> list[Document]:
    """The sentence documents merged into their reference documents (ids from the references).

    Gold and predicted copies of one corpus regroup identically, since only text decides.
    """
    return [
        merge_documents(references[owner].id, [sentence_docs[i] for i in members])
        for owner, members in group_by_reference(sentence_docs, references)
    ]
