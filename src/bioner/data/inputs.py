"""Type checks on what Python callers pass in, with messages that say what to pass instead.

One job: every public function that takes texts or Documents refuses anything else the
same way, at the call and naming the item. Without these checks a str is iterated one
character at a time, a dict by its keys, and a str item fails deep inside a writer with
"'str' object has no attribute 'spans'". The formats, the evaluator, the tagger and the
annotation pipeline all call here, so this module sits in `bioner.data` and imports
nothing above it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping

from bioner.data.document import Document

#: What an iterable of Documents is called in the messages.
DOCUMENTS = "an iterable of Documents"


def describe_non_text(value: object) -> str:
    """What `value` is, and for bytes or a path what to pass instead (for TypeErrors).

    Bytes are not decoded (the encoding is unknown) and a path is not read (plain text,
    one document per line or a corpus format?): the caller decides, so both are errors.
    """
    kind = type(value).__name__
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{kind}, not text (decode it first, e.g. data.decode('utf-8'))"
    if isinstance(value, os.PathLike):
        return (
            f"a path ({kind}); paths are not read: pass the file's text "
            "(Path.read_text(encoding='utf-8')) or read a corpus file with "
            "bioner.data.formats.read_documents"
        )
    return kind


def check_items(
    items: object, caller: str, takes: str = "an iterable of texts or Documents"
) -> None:
    """Refuse what is not an iterable of inputs, before it is iterated into nonsense.

    A str would be tagged one character at a time and a dict by its keys; bytes, paths and
    non-iterables get a TypeError that says what to pass.
    """
    if isinstance(items, str | Document):
        raise TypeError(f"{caller} takes {takes}, not one {type(items).__name__}: pass a list")
    if isinstance(items, Mapping):
        raise TypeError(
            f"{caller} takes {takes}, not a {type(items).__name__} "
            "(iterating it gives its keys): pass its values"
        )
    if not isinstance(items, Iterable) or isinstance(items, bytes | bytearray | memoryview):
        raise TypeError(f"{caller} takes {takes}; got {describe_non_text(items)}")


def checked_documents(
    documents: Iterable[Document],
    caller: str,
    *,
    text_hint: str = "make one with Document(id=..., text=...)",
) -> Iterator[Document]:
    """The documents, refused at the call if not an iterable and item by item if not Documents.

    Items are checked as they are read, so a generator stays lazy (a writer's atomic write
    then leaves no file behind). `text_hint` tells a caller who passed a str item what to
    do instead; it differs by caller (the tagger points at `annotate`).
    """
    check_items(documents, caller, DOCUMENTS)

    def checked() -> Iterator[Document]:
        for index, document in enumerate(documents):
            if not isinstance(document, Document):
                hint = f" ({text_hint})" if isinstance(document, str) else ""
                raise TypeError(
                    f"{caller}: item {index} is {describe_non_text(document)}; "
                    f"expected a Document{hint}"
                )
            yield document

    return checked()


def input_document(item: object, number: int) -> Document:
    """An input item as a Document: a str becomes document `doc<number>`; else a TypeError."""
    if isinstance(item, str):
        return Document(id=f"doc{number}", text=item)
    if not isinstance(item, Document):
        raise TypeError(
            f"input item {number} is {describe_non_text(item)}; expected a str or a Document"
        )
    if not isinstance(item.text, str):
        raise TypeError(
            f"input item {number}: document {item.id!r} has text of type "
            f"{describe_non_text(item.text)}; expected a str"
        )
    return item
