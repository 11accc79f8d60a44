"""Colour-highlighted terminal view of annotated documents (the default on a TTY).

One job: show a person, at a glance, what the model found: each document's text with every
entity on a background colour of its type, followed by a legend. Colours are assigned to the
model's labels in sorted order, so a type keeps its colour across documents and runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TextIO

from rich.console import Console
from rich.text import Text

from bioner.data.document import Document

_PALETTE = (
    "black on #ffd166",
    "black on #7bdff2",
    "black on #b2f7ef",
    "black on #f7a072",
    "black on #cdb4db",
    "black on #a7c957",
    "black on #ffafcc",
    "black on #e9ff70",
)


#: Control characters drawn as visible symbols, one for one so span offsets still apply:
#: written raw, an escape sequence in the input would drive the reader's terminal (colours,
#: window title, cursor). C0 codes become their Unicode control pictures (ESC → ␛), a CR a
#: space (CRLF text shows as usual), DEL ␡ and C1 codes �. Tabs and line breaks stay.
_VISIBLE = str.maketrans(
    {
        **{chr(code): chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\t\n"},
        "\r": " ",
        "\x7f": "\u2421",
        **{chr(code): "\ufffd" for code in range(0x80, 0xA0)},
    }
)


def palette(labels: Iterable[str]) -> dict[str, str]:
    """A style per label, stable for a given set of labels."""
    return {label: _PALETTE[i % len(_PALETTE)] for i, label in enumerate(sorted(set(labels)))}


def highlighted(document: Document, styles: dict[str, str]) -> Text:
    """The document text with each span styled by its type (overlaps: the later span wins)."""
    text = Text(document.text.translate(_VISIBLE))
    for span in sorted(document.spans, key=lambda s: (s.start, s.end)):
        style = styles.get(span.label)
        if style is None:
            style = styles[span.label] = _PALETTE[len(styles) % len(_PALETTE)]
        text.stylize(f"bold {style}", span.start, span.end)
    return text


def legend(styles: dict[str, str]) -> Text:
    """`Legend: Disease Gene` with each name in its colour."""
    line = Text("Legend: ", style="dim")
    for index, (label, style) in enumerate(sorted(styles.items())):
        if index:
            line.append(" ")
        line.append(f" {label} ", style=f"bold {style}")
    return line


def print_documents(
    documents: Iterable[Document], *, labels: Sequence[str] = (), stream: TextIO | None = None
) -> int:
    """Print each document as it arrives (id, highlighted text), then the legend."""
    console = Console(file=stream, highlight=False, soft_wrap=False)
    styles = palette(labels)
    written = 0
    for document in documents:
        mentions = len(document.spans)
        console.print(
            Text(
                f"── {document.id.translate(_VISIBLE)} "
                f"({mentions} mention{'s' if mentions != 1 else ''})",
                "dim",
            )
        )
        console.print(highlighted(document, styles))
        written += 1
    if styles:
        console.print(legend(styles))
    return written


__all__ = ["highlighted", "legend", "palette", "print_documents"]
