"""Terminal view of annotated documents (the default on a TTY): what the model found, at a glance.

Each document prints as a header line (`── id (n mentions)`), its text with every mention
marked by type, and at the end a legend.

In colour, each label has a style of its own, kept across documents and runs (labels take
styles in sorted order; a label the model does not list takes the next free one). Eight colours
were not enough for twelve labels, and rich turned the pastel backgrounds into one or two
colours on a 16-colour terminal, so the styles are chosen per colour system:

* truecolor and 256 colours: black text on nine pastel backgrounds, then bold underlined text
  in nine mid-tone colours (readable on dark and on light terminals);
* 16 colours (TERM=xterm, the Windows console): six ANSI backgrounds, then the same six hues
  as bold underlined text, then as bold italic text.

Either way 18 labels are told apart (more reuse styles from the start); the legend prints each
label in exactly its mentions' style.

Without colour (a pipe or a file, NO_COLOR, TERM=dumb) each mention is written as
`[[mention text|Label]]`, e.g. `predispose [[women|Species]] to [[breast cancer|Disease]].`
Double brackets because single ones are common in biomedical text (citations `[12]`, `[3H]`),
and the closing `]]` keeps the label off the next word. Nested mentions nest
(`[[[[BRCA1|DNA]] gene|GENE]]`); one crossing an earlier mention is marked from where that one
ends, so the brackets always pair. Lines are not wrapped there (a pager or editor wraps), and
FORCE_COLOR=1 keeps colour through a pipe (`| less -R`). This is a view only: the offsets of
the other formats are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TextIO

from rich.console import Console
from rich.text import Text

from bioner.data.document import Document, Span

#: Truecolor (and 256-colour, which rich downgrades to distinct cube colours): backgrounds
#: first, hues alternating warm and cool so neighbouring labels differ most.
_RICH_STYLES = (
    "bold black on #ffd166",  # yellow
    "bold black on #8ecae6",  # light blue
    "bold black on #ff9b85",  # salmon
    "bold black on #a7c957",  # green
    "bold black on #cdb4db",  # lavender
    "bold black on #72efdd",  # aqua
    "bold black on #f4a261",  # orange
    "bold black on #ffafcc",  # pink
    "bold black on #c8c8c8",  # grey
    "bold underline #e63946",  # red
    "bold underline #0096c7",  # blue
    "bold underline #f77f00",  # orange
    "bold underline #43aa8b",  # green
    "bold underline #9d4edd",  # purple
    "bold underline #c99700",  # gold
    "bold underline #d63384",  # magenta
    "bold underline #3a86ff",  # bright blue
    "bold underline #a0522d",  # brown
)

_ANSI_HUES = ("yellow", "blue", "green", "magenta", "cyan", "red")
#: 16 colours: only the ANSI names survive unchanged, so hue × (background, underlined text,
#: italic text). White text on the dark backgrounds, black on the light ones.
_ANSI_STYLES = (
    *(
        f"bold {'black' if hue in ('yellow', 'green', 'cyan') else 'white'} on {hue}"
        for hue in _ANSI_HUES
    ),
    *(f"bold underline {hue}" for hue in ("red", "cyan", "magenta", "green", "blue", "yellow")),
    *(f"bold italic {hue}" for hue in ("green", "magenta", "yellow", "red", "cyan", "blue")),
)

#: Marks of a mention without colour: `[[text|Label]]`.
_OPEN, _SEPARATOR, _CLOSE = "[[", "|", "]]"

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


def _styles_for(color_system: str | None) -> tuple[str, ...]:
    """The style table that stays distinct on `color_system` (a rich Console's name for it)."""
    return _ANSI_STYLES if color_system in ("standard", "windows") else _RICH_STYLES


def palette(labels: Iterable[str], color_system: str | None = "truecolor") -> dict[str, str]:
    """A style per label, stable for a given set of labels and colour system."""
    table = _styles_for(color_system)
    return {label: table[i % len(table)] for i, label in enumerate(sorted(set(labels)))}


def _style(label: str, styles: dict[str, str], color_system: str | None) -> str:
    """The label's style; a label the model did not list takes the next free one."""
    style = styles.get(label)
    if style is None:
        table = _styles_for(color_system)
        style = styles[label] = table[len(styles) % len(table)]
    return style


def _in_order(spans: Iterable[Span]) -> list[Span]:
    """By start, the longer first: an outer mention opens before (and is styled under) the
    inner one sharing its start, so the inner one stays visible."""
    return sorted(spans, key=lambda s: (s.start, -s.end))


def highlighted(
    document: Document, styles: dict[str, str], color_system: str | None = "truecolor"
) -> Text:
    """The document text with each span styled by its type (overlaps: the later span wins)."""
    text = Text(document.text.translate(_VISIBLE))
    for span in _in_order(document.spans):
        text.stylize(_style(span.label, styles, color_system), span.start, span.end)
    return text


def marked(document: Document, labels: set[str] | None = None) -> Text:
    """The document text with each span written as `[[text|Label]]`, for output without colour.

    Marks always pair: nested spans nest, and a span crossing an open one starts after it.
    The mention is bold and the marks dim, which shows only where attributes survive (NO_COLOR
    on a terminal). Labels met are added to `labels`, for the legend.
    """
    source = document.text.translate(_VISIBLE)
    text = Text()
    opened: list[tuple[int, str]] = []  # (end, label), innermost last
    position = 0

    def close_innermost() -> None:
        nonlocal position
        end, label = opened.pop()
        text.append(source[position:end], style="bold")
        text.append(f"{_SEPARATOR}{label.translate(_VISIBLE)}{_CLOSE}", style="dim")
        position = end

    for span in _in_order(document.spans):
        start = span.start
        while opened and (opened[-1][0] <= start or span.end > opened[-1][0]):
            start = max(start, opened[-1][0])  # crossing: begin where the open one ends
            close_innermost()
        if start >= span.end:
            continue
        text.append(source[position:start], style="bold" if opened else "")
        text.append(_OPEN, style="dim")
        opened.append((span.end, span.label))
        position = start
        if labels is not None:
            labels.add(span.label)
    while opened:
        close_innermost()
    text.append(source[position:])
    return text


def legend(styles: dict[str, str], width: int | None = None) -> Text:
    """`Legend: Disease Gene` with each name in exactly the style of its mentions.

    Broken into lines of at most `width` between names: rich's word wrap would break inside a
    padded name, leaving a stray coloured blank at the end of a line.
    """
    line = Text()
    line.append("Legend:", style="dim")
    column = len("Legend:")
    for label, style in sorted(styles.items()):
        item = f" {label.translate(_VISIBLE)} "
        if width is not None and column + 1 + len(item) > width:
            line.append("\n")
            column = 0
        else:
            line.append(" ")
            column += 1
        line.append(item, style=style)
        column += len(item)
    return line


def plain_legend(labels: Iterable[str]) -> Text:
    """The mark convention and the types, for output without colour."""
    names = ", ".join(label.translate(_VISIBLE) for label in sorted(set(labels)))
    return Text(f"Legend: {_OPEN}mention{_SEPARATOR}type{_CLOSE}; types: {names}", style="dim")


def print_documents(
    documents: Iterable[Document], *, labels: Sequence[str] = (), stream: TextIO | None = None
) -> int:
    """Print each document as it arrives (id, marked text), then the legend.

    Colour when rich finds a colour terminal; otherwise the plain `[[text|Label]]` marks, on
    unwrapped lines so that no mark is split.
    """
    console = Console(file=stream, highlight=False, soft_wrap=False)
    colour = console.color_system is not None and not console.no_color
    if not colour:
        console.soft_wrap = True
    styles = palette(labels, console.color_system)
    seen = set(labels)
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
        if colour:
            console.print(highlighted(document, styles, console.color_system))
        else:
            console.print(marked(document, seen))
        written += 1
    if colour and styles:
        console.print(legend(styles, console.width))
    elif not colour and seen:
        console.print(plain_legend(seen))
    return written


__all__ = ["highlighted", "legend", "marked", "palette", "plain_legend", "print_documents"]
