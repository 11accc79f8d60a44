"""`bioner annotate` and the streaming pipeline, end to end with a tiny trained model.

Checks that can fail: every span's offsets select its text in the ORIGINAL input (newlines,
CRLF, non-ASCII, hair spaces), a malformed file is reported with file and line while the rest
is annotated (exit 1), outputs never overwrite inputs, `--types` filters, every output format
reads back with the project's readers, workers=2 equals workers=1 in order, and the stream is
lazy (an endless input yields results).
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.annotation.pipeline import Source, annotate_stream, read_source
from bioner.cli.app import _register_commands, app
from bioner.data.document import Document
from bioner.data.formats import read_documents
from bioner.errors import BionerError
from bioner.tagger import Tagger
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]

TRICKY = (
    "Patients with melanoma\u200aand BRCA1.\r\n"
    "Ärzte fanden TP53 — und asthma\u2009(n=3).\n\n"
    "KRAS\tin leukemia, 5\u00a0µg of EGFR 🧬 diabetes."
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args: str, input: str | None = None):
    _register_commands()
    return CliRunner().invoke(app, list(args), input=input)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mentions(documents) -> Counter:
    """(mention text, label) pairs, which survive every format's text reconstruction."""
    return Counter((d.text[s.start : s.end], s.label) for d in documents for s in d.spans)


# ---------------------------------------------------------------------- offsets
def test_fixture_model_tags_both_types(tagger: Tagger) -> None:
    document = tagger.annotate(EXAMPLE)
    assert {s.label for s in document.spans} == {"Gene", "Disease"}


def test_offsets_select_the_span_text_in_the_original(tagger: Tagger, tmp_path: Path) -> None:
    source = tmp_path / "tricky.txt"
    source.write_bytes(TRICKY.encode("utf-8"))
    result = run("annotate", "-m", str(tagger_path(tagger, tmp_path)), str(source), "--to", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["text"] == TRICKY  # CRLF, hair space, emoji kept exactly
    assert {s["text"] for s in document["spans"]} >= {"melanoma", "BRCA1", "TP53"}
    for span in document["spans"]:
        assert TRICKY[span["start"] : span["end"]] == span["text"]
    by_api = tagger.annotate(TRICKY)
    assert [(s.start, s.end, s.label) for s in by_api.spans] == [
        (s["start"], s["end"], s["label"]) for s in document["spans"]
    ]


def tagger_path(tagger: Tagger, tmp_path: Path) -> Path:
    """Saved copy of the module's tagger (the CLI loads models from paths)."""
    path = tmp_path / "model"
    return path if path.exists() else tagger.save(path)


def test_lines_mode_offsets_are_per_line(tiny_model: Path) -> None:
    text = "TP53 in asthma\n\n\u200aKRAS \u00e9 melanoma\r\nno\n"
    result = run("annotate", "-m", str(tiny_model), "-", "--lines", "--to", "jsonl", input=text)
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert [r["id"] for r in records] == ["stdin:1", "stdin:3", "stdin:4"]
    assert [r["text"] for r in records] == ["TP53 in asthma", "\u200aKRAS \u00e9 melanoma", "no"]
    for record in records:
        for span in record["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(record["text"])
    assert [records[1]["text"][s["start"] : s["end"]] for s in records[1]["spans"]] == [
        "KRAS",
        "melanoma",
    ]


def test_pathological_tokens_and_a_megabyte_line(tagger: Tagger, tmp_path: Path) -> None:
    chemical = "N" + "-(2-hydroxyethyl)piperazine" * 15  # ~400 characters, no spaces
    assert len(chemical) > 400
    line = "x" * 1_000_000 + " in BRCA1 melanoma."
    source = tmp_path / "long.txt"
    source.write_text(f"{chemical} binds TP53 in melanoma.\n{line}\n")
    results = list(
        annotate_stream(tagger, read_source(Source("file", str(source), "text", "f"), lines=True))
    )
    assert [d.text for d in results] == [f"{chemical} binds TP53 in melanoma.", line]
    for document in results:
        assert all(len(t.text) <= 64 for t in document.tokens)
        assert all(len(s.tokens) <= 1000 for s in document.sentences)
        for span in document.spans:
            assert document.text[span.start : span.end].strip()
    assert ("TP53", "Gene") in {(results[0].span_text(s), s.label) for s in results[0].spans}
    assert ("melanoma", "Disease") in {(line[s.start : s.end], s.label) for s in results[1].spans}


# ---------------------------------------------------------------------- failures
def test_malformed_file_is_reported_and_the_rest_is_annotated(
    tiny_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("BRCA1 causes melanoma.\n")
    (folder / "sub" / "b.txt").write_text("KRAS and asthma.\n")
    (folder / "c.jsonl").write_text(
        '{"id": "ok", "text": "TP53 in diabetes", "spans": []}\n{"id": "broken", "text": 5}\n'
    )
    (folder / "sub" / "latin1.txt").write_bytes("line one\nca\xe9\n".encode("latin-1"))
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    output = tmp_path / "out.jsonl"
    result = run("annotate", "-m", str(tiny_model), str(folder), "-o", str(output))
    assert result.exit_code == 1
    assert f"{folder / 'c.jsonl'}, line 2: text must be a string" in result.stderr
    assert f"{folder / 'sub' / 'latin1.txt'}, line 2: not valid UTF-8" in result.stderr
    assert "2 input(s) failed" in result.stderr
    ids = [r["id"] for r in jsonl(output.read_text())]
    assert ids == [str(folder / "a.txt"), "ok", str(folder / "sub" / "b.txt")]


def test_pubtator_named_txt_is_read_as_pubtator(tiny_model: Path, tmp_path: Path) -> None:
    """The field's PubTator files are often `*.txt`; read by suffix they were one text each."""
    pubtator = "17|t|BRCA1 causes melanoma.\n17|a|KRAS and asthma.\n17\t0\t5\tBRCA1\tGene\n\n"
    (tmp_path / "test.PubTator.txt").write_text(pubtator, encoding="utf-8")
    (tmp_path / "plain.txt").write_text("17|x|BRCA1 causes melanoma.\n", encoding="utf-8")
    for name, fmt, ids in (
        ("test.PubTator.txt", None, ["17"]),
        ("test.PubTator.txt", "text", [str(tmp_path / "test.PubTator.txt")]),
        ("plain.txt", None, [str(tmp_path / "plain.txt")]),
    ):
        output = tmp_path / f"{name}-{fmt}.jsonl"
        options = ["--from", fmt] if fmt else []
        result = run(
            "annotate", "-m", str(tiny_model), str(tmp_path / name), *options, "-o", str(output)
        )
        assert result.exit_code == 0, result.stderr
        records = jsonl(output.read_text())
        assert [r["id"] for r in records] == ids
        if ids == ["17"]:
            assert records[0]["text"] == "BRCA1 causes melanoma. KRAS and asthma."


def test_missing_file_argument_is_an_error_not_text(tiny_model: Path, tmp_path: Path) -> None:
    result = run("annotate", "-m", str(tiny_model), str(tmp_path / "nope.txt"), "KRAS here")
    assert result.exit_code == 1
    assert "nope.txt: no such file or directory" in result.stderr
    assert [r["id"] for r in jsonl(result.stdout)] == ["text-1"]


def test_failures_are_reported_verbatim_not_as_markup(tiny_model: Path, tmp_path: Path) -> None:
    """A failing path went through rich markup: `[/x]` in it crashed the report (MarkupError),
    and a name such as `[b]` vanished from the message."""
    odd = tmp_path / "in[/x]" / "a[b].txt"
    result = run("annotate", "-m", str(tiny_model), str(odd), "KRAS here")
    assert result.exit_code == 1, result.exception
    assert f"error: {odd}: no such file or directory" in result.stderr
    assert f"  {odd}: no such file or directory" in result.stderr


def test_literal_text_that_is_not_utf8_is_a_failure_not_a_crash(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Argument bytes that are not UTF-8 reach Python as lone surrogates; they were tagged and
    then crashed the file writer with a UnicodeEncodeError, losing the whole output."""
    output = tmp_path / "out.jsonl"
    result = run(
        "annotate", "-m", str(tiny_model), "BRCA1 \udcff asthma", "KRAS", "-o", str(output)
    )
    assert result.exit_code == 1, result.exception
    assert "text-1, line 1: not valid UTF-8" in result.stderr
    assert [r["id"] for r in jsonl(output.read_text(encoding="utf-8"))] == ["text-2"]


def test_truncated_gzip_is_reported_and_the_rest_is_annotated(
    tiny_model: Path, tmp_path: Path
) -> None:
    """A truncated .gz raised EOFError, which the command line took for Ctrl-D: it printed
    "Aborted." and dropped every other input; a corrupt one raised zlib.error."""
    whole = gzip.compress(("Patients with melanoma show BRCA1.\n" * 400).encode())
    truncated = tmp_path / "cut.txt.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    corrupt = tmp_path / "bad.txt.gz"
    corrupt.write_bytes(whole[:20] + bytes(40) + whole[60:])
    result = run("annotate", "-m", str(tiny_model), str(truncated), str(corrupt), "KRAS")
    assert result.exit_code == 1, result.exception
    assert f"{truncated}: cannot read the file: Compressed file ended" in result.stderr
    assert f"{corrupt}: cannot read the file" in result.stderr
    assert [r["id"] for r in jsonl(result.stdout)] == ["text-1"]


def test_output_never_overwrites_an_input(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    original = '{"id": "a", "text": "BRCA1 in asthma", "spans": []}\n'
    source.write_text(original)
    result = run("annotate", "-m", str(tiny_model), str(source), "-o", str(source))
    assert isinstance(result.exception, BionerError)
    assert "refusing to overwrite" in str(result.exception)
    assert source.read_text() == original
    inside = run("annotate", "-m", str(tiny_model), str(tmp_path), "-o", str(tmp_path / "x.jsonl"))
    assert isinstance(inside.exception, BionerError)
    assert not (tmp_path / "x.jsonl").exists()


def test_unknown_model_name_lists_the_bundled_ones() -> None:
    result = run("annotate", "-m", "no-such-model", "BRCA1")
    assert isinstance(result.exception, BionerError)
    assert "no-such-model" in str(result.exception)
    assert "default" in str(result.exception)


# ---------------------------------------------------------------------- options
def test_types_filter(tiny_model: Path) -> None:
    both = jsonl(run("annotate", "-m", str(tiny_model), EXAMPLE, "--to", "jsonl").stdout)
    genes = jsonl(
        run("annotate", "-m", str(tiny_model), EXAMPLE, "--to", "jsonl", "--types", "Gene").stdout
    )
    assert {s["label"] for s in both[0]["spans"]} == {"Gene", "Disease"}
    assert genes[0]["spans"] == [s for s in both[0]["spans"] if s["label"] == "Gene"]
    bad = run("annotate", "-m", str(tiny_model), EXAMPLE, "--types", "Protein")
    assert isinstance(bad.exception, BionerError)
    assert "Protein" in str(bad.exception) and "Gene" in str(bad.exception)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("jsonl", "out.jsonl"),
        ("pubtator", "out.pubtator"),
        ("bioc-xml", "out.xml"),
        ("bioc-json", "out.json"),
        ("brat", "out_brat"),
        ("conll", "out.conll"),
    ],
)
def test_every_output_format_reads_back(
    tiny_model: Path, tmp_path: Path, fmt: str, name: str
) -> None:
    inputs = [EXAMPLE, "KRAS and EGFR in leukemia.\nNo asthma here.", "nothing at all"]
    reference = run("annotate", "-m", str(tiny_model), *inputs, "--to", "jsonl")
    expected = Counter(
        (r["text"][s["start"] : s["end"]], s["label"])
        for r in jsonl(reference.stdout)
        for s in r["spans"]
    )
    assert sum(expected.values()) >= 5
    target = tmp_path / name
    result = run("annotate", "-m", str(tiny_model), *inputs, "--to", fmt, "-o", str(target))
    assert result.exit_code == 0, result.output
    documents = list(read_documents(target, fmt))
    assert mentions(documents) == expected
    if fmt == "pubtator":  # PubTator has no line breaks inside a text: one space each
        assert [d.text for d in documents] == [t.replace("\n", " ") for t in inputs]
    elif fmt != "conll":  # CoNLL rebuilds the text from tokens
        assert [d.text for d in documents] == inputs


def test_json_array_for_several_documents(tiny_model: Path) -> None:
    result = run("annotate", "-m", str(tiny_model), EXAMPLE, "KRAS", "--to", "json")
    documents = json.loads(result.stdout)
    assert [d["id"] for d in documents] == ["text-1", "text-2"]
    for document in documents:
        for span in document["spans"]:
            assert document["text"][span["start"] : span["end"]] == span["text"]
            assert 0.0 <= span["score"] <= 1.0


def unmarked(view: str) -> str:
    """The terminal view's text without its `[[mention|Label]]` marks (written when not a TTY)."""
    return re.sub(r"\[\[|\|[^|\]\n]+\]\]", "", view)


def test_terminal_view(tiny_model: Path) -> None:
    result = run("annotate", "-m", str(tiny_model), EXAMPLE, "--to", "terminal")
    assert result.exit_code == 0, result.output
    assert EXAMPLE in unmarked(result.stdout)
    assert "|Gene]]" in result.stdout  # not a terminal: mentions marked in the text
    assert "Legend:" in result.stdout and "Gene" in result.stdout


def test_terminal_view_does_not_pass_escape_sequences_to_the_terminal(tiny_model: Path) -> None:
    """Control characters in the input went to the terminal raw, so an annotated text could
    recolour the screen or retitle the window; they are drawn as symbols, one for one."""
    hostile = "\x1b]0;owned\x07Patients with melanoma\x1b[2J show BRCA1.\r\nNext\x9b1m line"
    result = run("annotate", "-m", str(tiny_model), hostile, "--to", "terminal")
    assert result.exit_code == 0, result.output
    assert not any(ch in result.stdout for ch in "\x1b\x07\x9b\r")
    assert "\u241b]0;owned\u2407Patients with melanoma\u241b[2J show BRCA1. \nNext" in unmarked(
        result.stdout
    )


def test_workers_give_the_same_output_in_order(tiny_model: Path, tmp_path: Path) -> None:
    lines = [
        f"{g} and {d} in line {i}" + (" filler" * (i % 7))
        for i, (g, d) in enumerate(
            itertools.islice(
                itertools.cycle(
                    zip(["BRCA1", "TP53", "KRAS"], ["asthma", "melanoma", "diabetes"], strict=True)
                ),
                60,
            )
        )
    ]
    source = tmp_path / "many.txt"
    source.write_text("\n".join(lines) + "\n")
    common = ["annotate", "-m", str(tiny_model), str(source), "--lines", "--to", "jsonl"]
    one = run(*common, "--batch-size", "4")
    two = run(*common, "--batch-size", "4", "--workers", "2")
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert two.stdout == one.stdout
    assert [r["id"] for r in jsonl(two.stdout)] == [f"{source}:{i}" for i in range(1, 61)]


def test_the_wire_to_workers_carries_the_wanted_types(tagger: Tagger) -> None:
    """Worker processes and Ray tasks filter by `--types` before heads compete, as local runs do."""
    from bioner.annotation.tasks import encode_task, read_reply, run_task
    from bioner.text import Tokenizer

    document = Document(id="d", text=EXAMPLE)

    def labels(types: list[str] | None) -> set[str]:
        task = encode_task(0, [document], tokens=False, types=types)
        reply = read_reply(run_task(tagger, Tokenizer(), task, 8000))
        return {label for _, _, label, _ in reply["docs"][0]["spans"]}

    assert labels(None) == {"Gene", "Disease"}
    assert labels(["Gene"]) == {"Gene"}


def test_sigterm_in_a_batch_stops_the_tagger_not_reported_as_a_failed_batch(
    tagger: Tagger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run_task` turns any Exception into one failed batch; SIGTERM's TerminatedError was
    one, so a signal that landed there became "annotation failed" (exit 2, not 143)."""
    from bioner.annotation.tasks import encode_task, run_task
    from bioner.cli.app import TerminatedError
    from bioner.text import Tokenizer

    def terminated(*args: object, **kwargs: object) -> list[Document]:
        raise TerminatedError

    monkeypatch.setattr(tagger, "predict_documents", terminated)
    task = encode_task(0, [Document(id="d", text=EXAMPLE)], tokens=False)
    with pytest.raises(TerminatedError):
        run_task(tagger, Tokenizer(), task, 8000)


def test_output_dash_is_stdout_and_brat_there_is_an_error(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o -` wrote a file (or, for BRAT, a folder) literally named `-`."""
    monkeypatch.chdir(tmp_path)
    brat = run("annotate", "-m", str(tiny_model), EXAMPLE, "--to", "brat", "-o", "-")
    assert isinstance(brat.exception, BionerError)
    assert "--output -: BRAT output is a folder of files" in str(brat.exception)
    piped = run("annotate", "-m", str(tiny_model), EXAMPLE, "--to", "jsonl", "-o", "-")
    assert piped.exit_code == 0, piped.output
    assert [r["id"] for r in jsonl(piped.stdout)] == ["text-1"]
    assert list(tmp_path.iterdir()) == []


def test_predict_reads_stdin(tiny_model: Path, tmp_path: Path) -> None:
    """`bioner predict -` reads stdin like `bioner annotate -`: format from --from or content."""
    out = tmp_path / "out.jsonl"
    pubtator = f"7|t|{EXAMPLE}\n7|a|\n\n"
    source = tmp_path / "in.pubtator"
    source.write_text(pubtator)
    from_file = run("predict", str(source), "-m", str(tiny_model), "-o", str(out))
    assert from_file.exit_code == 0, from_file.output
    expected = out.read_text()
    for extra in ((), ("--from", "pubtator")):
        out.unlink()
        piped = run("predict", "-", "-m", str(tiny_model), "-o", str(out), *extra, input=pubtator)
        assert piped.exit_code == 0, piped.output
        assert out.read_text() == expected
    out.unlink()
    unknown = run("predict", "-", "-m", str(tiny_model), "-o", str(out), input="just words\n")
    assert isinstance(unknown.exception, BionerError)
    assert str(unknown.exception) == "<stdin>: cannot tell the format; name it with --from"
    bad = run("predict", "-", "-m", str(tiny_model), "-o", str(out), input='{"id": 1}\n')
    assert str(bad.exception) == "<stdin>, line 1: id must be a string, found 1"


def test_annotate_stdin_reads_corpus_formats_by_content(tiny_model: Path) -> None:
    """Piped PubTator, BioC or JSON Lines was tagged as one plain text, markup and all."""
    pubtator = f"7|t|{EXAMPLE}\n7|a|\n\n"
    bioc = (
        '<?xml version="1.0" encoding="UTF-8"?><collection><source>x</source><date>d</date>'
        f"<key>k</key><document><id>8</id><passage><offset>0</offset><text>{EXAMPLE}</text>"
        "</passage></document></collection>"
    )
    jsonl_input = json.dumps({"id": "9", "text": EXAMPLE, "spans": []}) + "\n"
    for piped, expected_id in (
        (pubtator, "7"),
        ("\ufeff" + pubtator, "7"),
        (bioc, "8"),
        (jsonl_input, "9"),
        (f"{EXAMPLE}\n", "stdin"),
        ("{curly} text\n", "stdin"),
    ):
        result = run("annotate", "-m", str(tiny_model), "-", "--to", "jsonl", input=piped)
        assert result.exit_code == 0, result.stderr
        (record,) = jsonl(result.stdout)
        assert record["id"] == expected_id
        assert "|t|" not in record["text"] and "<" not in record["text"]
    forced = run(
        "annotate", "-m", str(tiny_model), "-", "--from", "text", "--to", "jsonl", input=pubtator
    )
    assert [r["id"] for r in jsonl(forced.stdout)] == ["stdin"]


def test_predict_writes_the_format_its_output_suffix_names(
    tiny_model: Path, tmp_path: Path
) -> None:
    """`-o tagged.pubtator` without `--to` got JSON Lines inside a .pubtator file."""
    source = tmp_path / "in.pubtator"
    source.write_text(f"7|t|{EXAMPLE}\n7|a|\n\n")
    for name, fmt in (("a.pubtator", "pubtator"), ("b.xml", "bioc-xml"), ("c.tsv", "conll")):
        out = tmp_path / name
        result = run("predict", str(source), "-m", str(tiny_model), "-o", str(out))
        assert result.exit_code == 0, result.output
        (document,) = read_documents(out, fmt)  # CoNLL keeps no ids: read as its own
        assert document.id == ("c:d1" if fmt == "conll" else "7")
    assert (tmp_path / "a.pubtator").read_text().startswith("7|t|")
    odd = run("predict", str(source), "-m", str(tiny_model), "-o", str(tmp_path / "d.txt"))
    assert isinstance(odd.exception, BionerError)
    assert "cannot tell the output format" in str(odd.exception)
    assert not (tmp_path / "d.txt").exists()


def test_gold_relations_are_not_written_next_to_predictions(
    tiny_model: Path, tmp_path: Path
) -> None:
    """A PubTator CID line of the input was copied into every tagged output."""
    source = tmp_path / "in.pubtator"
    source.write_text(f"7|t|{EXAMPLE}\n7|a|\n7\tCID\tD001\tD002\n\n")
    assert next(read_documents(source)).relations  # the input has one
    for command in ("annotate", "predict"):
        out = tmp_path / f"{command}.pubtator"
        result = run(command, str(source), "-m", str(tiny_model), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert "CID" not in out.read_text()
        assert not any(d.relations for d in read_documents(out))


def test_an_existing_output_file_is_kept_unless_overwrite(tiny_model: Path, tmp_path: Path) -> None:
    """annotate and predict replaced an existing -o file without a word."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": EXAMPLE}) + "\n")
    for command in ("annotate", "predict"):
        out = tmp_path / f"{command}.jsonl"
        out.write_text("earlier results\n")
        refused = run(command, str(source), "-m", str(tiny_model), "-o", str(out))
        assert isinstance(refused.exception, BionerError)
        assert "exists already; pass --overwrite" in str(refused.exception)
        assert out.read_text() == "earlier results\n"
        replaced = run(command, str(source), "-m", str(tiny_model), "-o", str(out), "--overwrite")
        assert replaced.exit_code == 0, replaced.output
        assert [r["id"] for r in jsonl(out.read_text())] == ["a"]


def test_an_empty_input_is_named_in_a_warning(
    tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Empty files were annotated as 0 documents, exit 0, with no word of which was empty."""
    for name in ("empty.pubtator", "empty.jsonl", "blank.txt"):
        (tmp_path / name).write_text("" if name != "blank.txt" else "\n  \n")
    (tmp_path / "full.txt").write_text(EXAMPLE)
    with caplog.at_level(logging.WARNING):
        result = run("annotate", "-m", str(tiny_model), str(tmp_path), "--to", "jsonl")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in jsonl(result.stdout)] == [
        str(tmp_path / "blank.txt"),
        str(tmp_path / "full.txt"),
    ]
    for name in ("empty.pubtator", "empty.jsonl", "blank.txt"):
        assert f"{tmp_path / name}: no text to annotate (the input is empty)" in caplog.text
    assert "full.txt: no text" not in caplog.text


def test_predict_output_dash_is_stdout_and_brat_there_is_an_error(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bioner predict -o -` wrote a file (or, for BRAT, a folder) literally named `-`; now it
    writes to stdout exactly what a file would hold, as `bioner annotate -o -` does."""
    source = tmp_path / "in.pubtator"
    source.write_text(f"7|t|{EXAMPLE}\n7|a|\n\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for fmt in ("jsonl", "conll"):
        out = tmp_path / f"out.{fmt}"
        to_file = run("predict", str(source), "-m", str(tiny_model), "--to", fmt, "-o", str(out))
        assert to_file.exit_code == 0, to_file.output
        piped = run("predict", str(source), "-m", str(tiny_model), "--to", fmt, "-o", "-")
        assert piped.exit_code == 0, piped.output
        assert piped.stdout == out.read_text() and "Gene" in piped.stdout
    brat = run("predict", str(source), "-m", "no-such-model", "--to", "standoff", "-o", "-")
    assert isinstance(brat.exception, BionerError)  # refused before any model loads
    assert str(brat.exception) == (
        "--output -: BRAT output is a folder of files, it cannot go to stdout"
    )
    assert list(cwd.iterdir()) == []
    help_text = re.sub(r"[\s│]+", " ", run("predict", "--help").stdout)  # unwrap rich's panel
    assert "(BRAT: a folder), or - for stdout" in help_text


# ---------------------------------------------------------------------- Python API
def test_annotate_stream_is_lazy(tagger: Tagger) -> None:
    endless = itertools.cycle(["BRCA1 in asthma.", "nothing"])
    first = list(itertools.islice(annotate_stream(tagger, endless, batch_size=2), 5))
    assert [d.id for d in first] == ["doc1", "doc2", "doc3", "doc4", "doc5"]
    assert [s.label for s in first[0].spans] == ["Gene", "Disease"]


def test_annotate_from_threads_equals_sequential(tagger: Tagger) -> None:
    texts = [EXAMPLE, "KRAS in leukemia", "EGFR and diabetes", TRICKY] * 3
    expected = [[s.key for s in tagger.annotate(t).spans] for t in texts]
    results: dict[int, list] = {}

    def work(index: int) -> None:
        results[index] = [s.key for s in tagger.annotate(texts[index]).spans]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(texts))] == expected


def test_token_offsets_only_when_asked_or_given(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("\n".join([EXAMPLE, "KRAS in leukemia", "no mention"] * 4) + "\n")
    common = ["annotate", "-m", str(tiny_model), str(source), "--lines", "--to", "jsonl"]
    lean = jsonl(run(*common).stdout)
    full_one = run(*common, "--tokens", "--batch-size", "2")
    full_two = run(*common, "--tokens", "--batch-size", "2", "--workers", "2")
    assert full_one.exit_code == 0 and full_two.exit_code == 0, full_two.output
    assert full_two.stdout == full_one.stdout
    full = jsonl(full_one.stdout)
    assert all("sentences" not in r for r in lean)
    assert [r["spans"] for r in lean] == [r["spans"] for r in full]
    for record in full:  # every token and span sits on the record's own text
        tokens = [t for sentence in record["sentences"] for t in sentence]
        assert tokens and all(0 <= s < e <= len(record["text"]) for s, e in tokens)
        bounds = {s for s, _ in tokens}, {e for _, e in tokens}
        assert all(s["start"] in bounds[0] and s["end"] in bounds[1] for s in record["spans"])

    # Sentences that came with the input are kept without --tokens.
    given = tmp_path / "given.jsonl"
    given.write_text(
        json.dumps({"id": "g", "text": "BRCA1 in asthma", "sentences": [[[0, 5], [6, 8], [9, 15]]]})
        + "\n"
    )
    kept = jsonl(run("annotate", "-m", str(tiny_model), str(given), "--to", "jsonl").stdout)
    assert kept[0]["sentences"] == [[[0, 5], [6, 8], [9, 15]]]


def _descendants(root: int) -> set[int]:
    """Live (non-zombie) descendants of a process, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _gone(pids: set[int]) -> bool:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return not alive


def _annotate_with_two_workers(
    tiny_model: Path, source: Path, output: Path, **popen: object
) -> subprocess.Popen:
    """`bioner annotate SOURCE --lines --workers 2 -o OUTPUT` as a process of its own."""
    command = ["-m", str(tiny_model), str(source), "--lines", "--workers", "2", "-o", str(output)]
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", "from bioner.cli.app import main; main()", "annotate", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **popen,
    )


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL])
def test_killed_driver_leaves_no_workers_or_partial_output(
    tiny_model: Path, tmp_path: Path, signal_number: int
) -> None:
    source = tmp_path / "long.txt"
    source.write_text("BRCA1 and asthma in the patients with melanoma\n" * 200_000)
    output = tmp_path / "out.jsonl"
    driver = _annotate_with_two_workers(tiny_model, source, output)
    children: set[int] = set()
    deadline = time.monotonic() + 120
    while len(children) < 3 and time.monotonic() < deadline:  # forkserver + 2 workers
        time.sleep(0.5)
        children |= _descendants(driver.pid)
    assert len(children) >= 3, "the workers never started"
    driver.send_signal(signal_number)
    driver.wait(timeout=60)
    deadline = time.monotonic() + 30
    while not _gone(children) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _gone(children), "worker processes outlived their driver"
    assert not output.exists()
    if signal_number == signal.SIGTERM:
        assert driver.returncode == 143
        assert not list(tmp_path.glob(".out.jsonl*")), "a temporary output was left behind"


def _driver_with_workers(
    tiny_model: Path, tmp_path: Path, **popen: object
) -> tuple[subprocess.Popen, set[int], set[int]]:
    """`annotate --workers 2` on long lines, once both workers run: (driver, workers, all).

    Each batch is ~200 kB, far more than a pipe holds, so tasks wait in the driver's queue.
    """
    source = tmp_path / "long.txt"
    source.write_text(("BRCA1 and asthma in the patients with melanoma " * 40 + "\n") * 5_000)
    driver = _annotate_with_two_workers(
        tiny_model, source, tmp_path / "out.jsonl", text=True, **popen
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        for pid in _descendants(driver.pid):  # workers: what the driver's forkserver forked
            try:
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if (
                    parent == driver.pid
                    and b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
                ):
                    workers = _descendants(pid)
            except OSError:
                continue
    assert len(workers) == 2, "the workers never started"
    return driver, workers, _descendants(driver.pid)


def _finished(driver: subprocess.Popen, seconds: float) -> str:
    """The driver's stderr once it exits; a driver still running after `seconds` hangs."""
    try:
        return driver.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        driver.kill()
        driver.communicate()
        pytest.fail(f"the driver was still running {seconds} s later")


def test_killed_workers_end_the_run_with_an_error_not_a_hang(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Workers killed (OOM killer, kill -9): the driver printed its error and then hung at exit,
    waiting to write its queued tasks into a pipe that nobody read any more."""
    driver, workers, children = _driver_with_workers(tiny_model, tmp_path)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    stderr = _finished(driver, 30)
    assert driver.returncode == 2, stderr
    assert "error: an annotation worker stopped unexpectedly (exit code -9)" in stderr
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 30
    while not _gone(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(children)
    assert not list(tmp_path.glob("*out.jsonl*")), "an output was left behind"


def test_ctrl_c_stops_the_workers_quietly_and_at_once(tiny_model: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: each worker printed a KeyboardInterrupt
    traceback and died, and the driver then hung at exit like above."""
    driver, _, children = _driver_with_workers(tiny_model, tmp_path, start_new_session=True)
    os.killpg(driver.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stderr = _finished(driver, 30)
    assert driver.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1:] == ["interrupted"]  # Typer's exit 130 was silent
    deadline = time.monotonic() + 30
    while not _gone(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(children), "worker processes outlived their driver"
    assert not list(tmp_path.glob("*out.jsonl*")), "an output was left behind"


def test_tokenizer_defaults_to_the_models_own(tiny_model: Path, tmp_path: Path) -> None:
    """Raw text is tokenized as the model was trained unless --tokenizer says otherwise."""
    import shutil

    fine_model = tmp_path / "fine-model"
    shutil.copytree(tiny_model, fine_model)
    config = json.loads((fine_model / "config.json").read_text())
    config["data"]["tokenizer"] = "fine"
    (fine_model / "config.json").write_text(json.dumps(config))
    text = "KRAS rtL180M"

    def tokens(model: Path, *extra: str) -> list[str]:
        result = run("annotate", "-m", str(model), "--to", "jsonl", "--tokens", *extra, input=text)
        assert result.exit_code == 0, result.output
        (record,) = jsonl(result.stdout)
        return [text[s:e] for sentence in record["sentences"] for s, e in sentence]

    assert tokens(fine_model) == ["KRAS", "rt", "L", "180", "M"]
    assert tokens(tiny_model) == ["KRAS", "rtL180M"]
    assert tokens(tiny_model, "--tokenizer", "fine") == ["KRAS", "rt", "L", "180", "M"]
    wrong = run("annotate", "-m", str(tiny_model), "--tokenizer", "tmvar", input=text)
    assert isinstance(wrong.exception, BionerError)
    assert "--tokenizer must be one of default, variant, fine" in str(wrong.exception)


def test_annotate_stream_tokenizes_as_the_model_was_trained(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The Python stream (and the HTTP service built on it) tokenizes raw text as the model
    was trained, like `Tagger.annotate`, not with the default tokenizer."""
    import shutil

    fine_model = tmp_path / "fine-model"
    shutil.copytree(tiny_model, fine_model)
    config = json.loads((fine_model / "config.json").read_text())
    config["data"]["tokenizer"] = "fine"
    (fine_model / "config.json").write_text(json.dumps(config))
    tagger = Tagger.load(fine_model)
    text = "KRAS rtL180M"

    (streamed,) = annotate_stream(tagger, [text])
    tokens = [text[t.start : t.end] for sentence in streamed.sentences for t in sentence.tokens]
    assert tokens == ["KRAS", "rt", "L", "180", "M"]
    assert streamed.sentences == tagger.annotate(text).sentences
