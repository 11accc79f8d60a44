"""CoNLL reader/writer: documents, sentences, spans, layout variants, errors with line numbers."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from bioner.data.document import Document, Span
from bioner.data.formats import read_documents, write_documents
from bioner.data.formats.conll import read_conll, write_conll
from bioner.data.tagging import TagScheme
from bioner.errors import BionerError, InputFormatError


def _write(tmp_path: Path, name: str, data: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode())
    return path


def test_docstart_groups_sentences_into_documents(fixtures_dir: Path) -> None:
    documents = list(read_documents(fixtures_dir / "formats" / "docstart.tsv"))
    assert [len(d.sentences) for d in documents] == [2, 1]
    first = documents[0]
    assert first.text == "IL-2 gene expression .\nNF-kappa B"
    assert [(first.span_text(s), s.label) for s in first.spans] == [
        ("IL-2 gene", "DNA"),
        ("NF-kappa B", "protein"),
    ]


def test_without_docstart_each_sentence_is_a_document(fixtures_dir: Path) -> None:
    documents = list(read_documents(fixtures_dir / "formats" / "plain.tsv"))
    assert [d.id for d in documents] == ["plain:1", "plain:2", "plain:3"]
    assert sum(len(d.spans) for d in documents) == 4


@pytest.mark.parametrize("name", ["docstart.tsv", "plain.tsv"])
def test_round_trip_is_byte_identical(fixtures_dir: Path, tmp_path: Path, name: str) -> None:
    source = fixtures_dir / "formats" / name
    target = tmp_path / name
    write_documents(read_documents(source), target, "conll")
    assert target.read_bytes() == source.read_bytes()


def test_crlf_no_final_blank_extra_columns_and_gzip(tmp_path: Path) -> None:
    data = "a\tNN\tB-X\r\nb\tNN\tI-X\r\n\r\nc\tNN\tO\r\nd\tNN\tB-Y"
    plain = list(read_conll(_write(tmp_path, "x.tsv", data)))
    packed = tmp_path / "x.tsv.gz"
    packed.write_bytes(gzip.compress(data.encode()))
    zipped = list(read_documents(packed))
    for documents in (plain, zipped):
        assert [d.text for d in documents] == ["a b", "c d"]
        assert [[(s.start, s.end, s.label) for s in d.spans] for d in documents] == [
            [(0, 3, "X")],
            [(2, 3, "Y")],
        ]
    pos_as_tag = list(read_conll(_write(tmp_path, "y.tsv", "a\tB-P\tO\n"), tag_column=1))
    assert [s.label for s in pos_as_tag[0].spans] == ["P"]


def test_gzip_output_reads_back(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "formats" / "plain.tsv"
    target = tmp_path / "out.tsv.gz"
    write_documents(read_documents(source), target, "conll")
    assert gzip.decompress(target.read_bytes()) == source.read_bytes()


def test_schemes_on_read_and_write(tmp_path: Path) -> None:
    bioes = "breast\tB-D\ncancer\tE-D\nand\tO\nBRCA1\tS-G\n"
    documents = list(read_conll(_write(tmp_path, "b.tsv", bioes), scheme="BIOES"))
    assert [(s.start, s.end, s.label) for s in documents[0].spans] == [(0, 13, "D"), (18, 23, "G")]
    out = io.StringIO()
    write_conll(documents, out, scheme=TagScheme.IOB1)
    assert out.getvalue() == "breast\tI-D\ncancer\tI-D\nand\tO\nBRCA1\tI-G\n\n"


def test_lenient_decoding_keeps_orphan_inside_tags(tmp_path: Path) -> None:
    path = _write(tmp_path, "o.tsv", "a\tO\nb\tI-X\n")
    assert next(iter(read_conll(path))).spans == []
    assert [s.label for s in next(iter(read_conll(path, strict=False))).spans] == ["X"]


def test_writer_tokenizes_raw_text() -> None:
    document = Document("d", "Mutations in BRCA1 cause cancer.")
    document.spans.append(Span(13, 18, "Gene"))
    out = io.StringIO()
    write_conll([document], out)
    lines = out.getvalue().splitlines()
    assert "BRCA1\tB-Gene" in lines
    assert "Mutations\tO" in lines


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        ("a\tO\nb\tO\tX\n", 2, "expected 2 columns"),
        ("a\tO\n\nb\tB-X\nc\tQ-X\n", 4, "malformed tag"),
        ("a\tO\nb\tE-X\n", 2, "not valid in IOB2"),
        ("a\n", 1, "at least 2 columns"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, data: str, line: int, problem: str) -> None:
    path = _write(tmp_path, "bad.tsv", data)
    with pytest.raises(InputFormatError) as caught:
        list(read_conll(path))
    message = str(caught.value)
    assert "bad.tsv" in message and f"line {line}" in message and problem in message


@pytest.mark.parametrize("name", ["docstart.tsv", "plain.tsv"])
def test_fast_counts_equal_document_counts(fixtures_dir: Path, name: str) -> None:
    from bioner.data.corpus import split_stats
    from bioner.data.formats.conll import count_conll

    path = fixtures_dir / "formats" / name
    slow = split_stats(read_conll(path))
    assert count_conll(path) == (slow.documents, slow.sentences, slow.tokens, slow.mentions)


def test_real_corpus_round_trip(corpora_dir: Path, tmp_path: Path) -> None:
    """Documents of a staged CoNLL file (with -DOCSTART-) write back byte-for-byte."""
    source = corpora_dir / "JNLPBA" / "devel.tsv"
    if not source.is_file():
        pytest.skip("JNLPBA not staged")
    target = tmp_path / "devel.tsv"
    write_documents(read_documents(source), target, "conll")
    assert target.read_bytes() == source.read_bytes()


def test_bad_byte_far_into_the_file_names_its_line(tmp_path: Path) -> None:
    """The text stream decodes 8 KB chunks; the error used to name a line hundreds earlier."""
    lines = [f"w{index}\tO\n".encode() for index in range(2000)]
    lines[1499] = b"caf\xe9\tO\n"
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"".join(lines))
    with pytest.raises(InputFormatError, match=r"latin1\.tsv, line 1500: not valid UTF-8"):
        list(read_conll(path))


def test_byte_order_mark_before_docstart(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.tsv", "\ufeff-DOCSTART-\tO\n\nIL-2\tB-protein\n\n")
    (document,) = read_conll(path)
    assert (document.text, document.metadata["conll.docstart"]) == ("IL-2", "-DOCSTART-\tO")


def test_writer_refuses_a_tab_in_a_type(tmp_path: Path) -> None:
    document = Document.from_tokens("d", [["a", "b"]])
    document.spans.append(Span(0, 1, "X\tY"))
    target = tmp_path / "out.tsv"
    with pytest.raises(BionerError, match="TAB or line break"):
        write_documents([document], target, "conll")
    assert not target.exists()


def test_tags_the_strict_rule_reads_as_o_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gold corpus must not lose `I-Y` after `B-X` silently: one warning per file, with a line."""
    from bioner.data.corpus import file_stats

    path = tmp_path / "ill.tsv"
    path.write_text("a\tB-X\nb\tI-Y\nc\tO\nd\tI-X\n\ne\tB-X\nf\tI-X\n\n")
    with caplog.at_level("WARNING"):
        documents = list(read_conll(path))
    assert [len(d.spans) for d in documents] == [1, 1]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "2 tag(s) continue no mention" in warnings[0] and "line 2: 'I-Y'" in warnings[0]
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert file_stats(path).mentions == {"X": 2}  # the counting path reports it too
    assert len([r for r in caplog.records if "continue no mention" in r.getMessage()]) == 1
    caplog.clear()
    with caplog.at_level("WARNING"):
        lenient = list(read_conll(path, strict=False))
    assert [len(d.spans) for d in lenient] == [3, 1] and not caplog.records
