"""The terminal view (`bioner annotate --to terminal`): every label in a style of its own, at
truecolor and after rich downgrades to 256 or 16 colours, a legend in the same styles, and
visible `[[mention|Label]]` marks where there is no colour (a pipe, a file, NO_COLOR, TERM=dumb).

Colour is decided the way the command decides it, from the stream and the environment, so the
tests set the environment rather than hand the view a console.
"""

from __future__ import annotations

import io
import re

import pytest

from bioner.annotation.terminal import print_documents
from bioner.data.document import Document, Span

#: The bundled default model's labels (`Tagger.load("default").labels()`), not loaded here:
#: loading the model is slow, and the view only needs the names.
DEFAULT_LABELS = (
    "Chemical",
    "DNA",
    "DNAMutation",
    "Disease",
    "GENE",
    "ProteinMutation",
    "RNA",
    "SNP",
    "Species",
    "cell_line",
    "cell_type",
    "protein",
)
SIXTEEN_LABELS = tuple(f"Type{letter}" for letter in "ABCDEFGHIJKLMNOP")

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
#: One environment per colour system rich detects (COLORTERM first, then TERM's suffix).
COLOUR_SYSTEMS = {
    "truecolor": {"TERM": "xterm-256color", "COLORTERM": "truecolor"},
    "256": {"TERM": "xterm-256color"},
    "16": {"TERM": "xterm"},
}


def _environment(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Only the given variables decide colour, whatever the shell running the tests has set."""
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLORTERM", "TERM", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _one_mention_per_label(labels: tuple[str, ...]) -> Document:
    words = [f"word{index}" for index in range(len(labels))]
    text = " ".join(words)
    spans, start = [], 0
    for word, label in zip(words, labels, strict=True):
        spans.append(Span(start, start + len(word), label))
        start += len(word) + 1
    return Document("doc", text, spans=spans)


def _render(documents: list[Document], labels: tuple[str, ...] | list[str]) -> str:
    stream = io.StringIO()
    print_documents(documents, labels=labels, stream=stream)
    return stream.getvalue()


def _style_before(output: str, shown: str) -> tuple[str, ...]:
    """The SGR parameters in force where `shown` is printed (rich resets after each run)."""
    match = re.search(r"((?:\x1b\[[0-9;]*m)+)" + re.escape(shown), output)
    assert match, f"{shown!r} is not styled in {output!r}"
    codes = ";".join(_SGR.findall(match.group(1)))
    return tuple(sorted(code for code in codes.split(";") if code not in ("", "0")))


@pytest.mark.parametrize("labels", [DEFAULT_LABELS, SIXTEEN_LABELS], ids=["default", "sixteen"])
@pytest.mark.parametrize("system", list(COLOUR_SYSTEMS))
def test_every_label_has_a_style_of_its_own(
    monkeypatch: pytest.MonkeyPatch, system: str, labels: tuple[str, ...]
) -> None:
    """Eight colours for twelve labels made tamoxifen (Chemical) and mice (Species) look alike,
    and at 16 colours GENE, Disease and three more fell onto one background."""
    _environment(monkeypatch, FORCE_COLOR="1", **COLOUR_SYSTEMS[system])
    output = _render([_one_mention_per_label(labels)], labels)
    styles = {label: _style_before(output, f"word{i}") for i, label in enumerate(labels)}
    assert all(styles.values())
    if system == "truecolor":
        assert any("48" in s or "38" in s for s in styles.values()), "truecolor codes expected"
    if system == "16":
        extended = [s for s in styles.values() if any(code in ("38", "48") for code in s)]
        assert not extended, "a 16-colour terminal was sent 256/truecolor codes"
    shared = {
        style: [label for label in labels if styles[label] == style]
        for style in set(styles.values())
    }
    assert len(shared) == len(labels), {s: ls for s, ls in shared.items() if len(ls) > 1}


@pytest.mark.parametrize("system", list(COLOUR_SYSTEMS))
def test_legend_shows_each_label_in_the_style_of_its_mentions(
    monkeypatch: pytest.MonkeyPatch, system: str
) -> None:
    """The legend is what tells the colours apart, so it must use exactly those styles (its
    names were dimmed as well, which no mention is)."""
    _environment(monkeypatch, FORCE_COLOR="1", COLUMNS="300", **COLOUR_SYSTEMS[system])
    output = _render([_one_mention_per_label(DEFAULT_LABELS)], DEFAULT_LABELS)
    legend = output[output.index("Legend:") :]
    for index, label in enumerate(DEFAULT_LABELS):
        assert _style_before(legend, f" {label} ") == _style_before(output, f"word{index}"), label


def test_demo_sentence_at_sixteen_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    """The case reported: with TERM=xterm, BRCA1 and "breast cancer" looked identical."""
    _environment(monkeypatch, FORCE_COLOR="1", TERM="xterm")
    text = "BRCA1 predisposes women to breast cancer; tamoxifen in mice."
    document = Document(
        "demo",
        text,
        spans=[
            Span(0, 5, "GENE"),
            Span(18, 23, "Species"),
            Span(27, 40, "Disease"),
            Span(42, 51, "Chemical"),
            Span(55, 59, "Species"),
        ],
    )
    output = _render([document], DEFAULT_LABELS)
    assert _style_before(output, "BRCA1") != _style_before(output, "breast cancer")
    assert _style_before(output, "tamoxifen") != _style_before(output, "mice")
    assert _style_before(output, "women") == _style_before(output, "mice")


def test_a_label_the_model_does_not_list_still_gets_its_own_style(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _environment(monkeypatch, FORCE_COLOR="1", TERM="xterm")
    labels = (*DEFAULT_LABELS, "Extra")
    output = _render([_one_mention_per_label(labels)], DEFAULT_LABELS)
    styles = [_style_before(output, f"word{i}") for i in range(len(labels))]
    assert len(set(styles)) == len(labels)
    assert " Extra " in output[output.index("Legend:") :]


DEMO = Document(
    "demo",
    "Germline mutations in BRCA1 predispose women to breast cancer.",
    spans=[Span(22, 27, "GENE"), Span(39, 44, "Species"), Span(48, 61, "Disease")],
)
DEMO_MARKED = (
    "Germline mutations in [[BRCA1|GENE]] predispose [[women|Species]] to "
    "[[breast cancer|Disease]]."
)


@pytest.mark.parametrize(
    "env",
    [
        {},  # a pipe or a file: the stream is not a terminal
        {"FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": "1"},
        {"FORCE_COLOR": "1", "TERM": "dumb"},
    ],
    ids=["pipe", "NO_COLOR", "TERM=dumb"],
)
def test_without_colour_each_mention_is_marked_in_the_text(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """Piped (`| cat`, `make demo > log`) the view printed the bare text, nothing marked."""
    _environment(monkeypatch, **env)
    output = _render([DEMO], DEFAULT_LABELS)
    plain = _SGR.sub("", output)
    assert DEMO_MARKED in plain
    assert "── demo (3 mentions)" in plain
    assert "Legend: [[mention|type]]" in plain
    assert "Chemical, DNA, DNAMutation" in plain
    colour_codes = [
        code
        for codes in _SGR.findall(output)
        for code in codes.split(";")
        if code and (30 <= int(code) <= 49 or 90 <= int(code) <= 107)
    ]
    assert not colour_codes


def test_plain_marks_are_not_broken_across_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrapped at 80 columns for a pipe, a mark could be split across lines; the reader's pager
    or editor wraps instead."""
    _environment(monkeypatch)
    text = "filler " * 12 + "breast cancer" + " filler" * 12
    start = text.index("breast")
    document = Document("long", text, spans=[Span(start, start + 13, "Disease")])
    lines = _render([document], ["Disease"]).splitlines()
    assert lines[1] == text[:start] + "[[breast cancer|Disease]]" + text[start + 13 :]


def test_plain_marks_nest_and_never_cross() -> None:
    """Nested spans nest; a span crossing an earlier one is marked from where that one ends,
    so the brackets always pair up (the tagger itself does not produce overlaps)."""
    text = "the BRCA1 gene and p53 protein here"
    document = Document(
        "overlaps",
        text,
        spans=[
            Span(4, 14, "GENE"),  # BRCA1 gene
            Span(4, 9, "DNA"),  # BRCA1, nested at the same start
            Span(19, 30, "protein"),  # p53 protein
            Span(23, 35, "Chemical"),  # protein here, crossing it
        ],
    )
    output = _render([document], [])
    assert (
        "the [[[[BRCA1|DNA]] gene|GENE]] and [[p53 protein|protein]][[ here|Chemical]]"
    ) in output


def test_control_characters_stay_visible_symbols_in_both_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "\x1b]0;owned\x07melanoma\x1b[2J and\x9b1m more"
    document = Document("x\x1b[31m", text, spans=[Span(10, 22, "Disease")])
    _environment(monkeypatch)
    plain = _render([document], ["Disease"])
    assert not any(ch in plain for ch in "\x1b\x07\x9b")
    assert "\u241b]0;owned\u2407[[melanoma\u241b[2J|Disease]] and\ufffd1m more" in plain
    _environment(monkeypatch, FORCE_COLOR="1", TERM="xterm")
    coloured = _render([document], ["Disease"])
    assert not any(ch in _SGR.sub("", coloured) for ch in "\x1b\x07\x9b")
    assert "melanoma\u241b[2J" in coloured


@pytest.mark.parametrize("columns", ["40", "80"])
def test_legend_breaks_lines_between_names_only(
    monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    """Word-wrapped by rich, a padded name split from its padding (` SNP` / a lone coloured
    blank at the end of the line above)."""
    _environment(monkeypatch, FORCE_COLOR="1", TERM="xterm", COLUMNS=columns)
    output = _render([_one_mention_per_label(DEFAULT_LABELS)], DEFAULT_LABELS)
    legend = _SGR.sub("", output[output.index("Legend:") :])
    assert all(len(line) <= int(columns) for line in legend.splitlines())
    for label in DEFAULT_LABELS:
        assert f" {label} " in legend, label
