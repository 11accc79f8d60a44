"""Token-feature modules: word-vector files, embedding matrix, char encoders, char table, window."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from bioner.errors import InputFormatError
from bioner.models.embeddings import (
    CharAttention,
    CharBiLSTM,
    CharCNN,
    OneHotCharEmbedding,
    WordEmbedding,
    WordVectors,
    WordWindow,
    build_embedding_matrix,
    char_table,
    encode_words,
    load_word_vectors,
    lookup_keys,
    normalize_word,
)
from bioner.models.embeddings.word_vectors import detect_format

WORDS = ["BRCA1", "gene", "p53", "mutation"]
VECTORS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def _write_text(path: Path, header: bool) -> Path:
    rows = zip(WORDS, VECTORS, strict=True)
    lines = [f"{w} " + " ".join(f"{v:.1f}" for v in row) for w, row in rows]
    if header:
        lines.insert(0, f"{len(WORDS)} 3")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_binary(path: Path) -> Path:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(WORDS, VECTORS)
    kv.save_word2vec_format(str(path), binary=True)
    return path


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("w2v.txt", "word2vec-text"), ("w2v.bin", "word2vec-binary"), ("glove.txt", "glove")],
)
def test_load_word_vectors_each_format(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    if fmt == "word2vec-binary":
        _write_binary(path)
    else:
        _write_text(path, header=fmt == "word2vec-text")
    assert detect_format(path) == fmt
    for requested in ("auto", fmt):
        vectors = load_word_vectors(path, format=requested)  # type: ignore[arg-type]
        assert vectors.words == WORDS and vectors.dim == 3
        assert vectors.vectors.dtype == np.float32
        np.testing.assert_allclose(vectors.vectors, VECTORS, rtol=1e-6)
    limited = load_word_vectors(path, limit=2)
    assert limited.words == WORDS[:2]
    chosen = load_word_vectors(path, vocabulary={"p53", "gene", "absent"})
    assert chosen.words == ["gene", "p53"]
    np.testing.assert_allclose(chosen.vectors, VECTORS[[1, 2]], rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("w2v.txt", "word2vec-text"),
        ("glove.txt", "glove"),
        ("w2v.txt.gz", "word2vec-text"),
        ("w2v.bin", "word2vec-binary"),
    ],
)
def test_a_byte_order_mark_at_the_start_is_skipped(tmp_path: Path, name: str, fmt: str) -> None:
    """A word2vec text file saved with a UTF-8 BOM was read as GloVe (the mark hid its
    '<count> <dimension>' header) and failed on line 2; in a GloVe file the mark became
    part of the first word, which then silently never matched the vocabulary."""
    import gzip

    plain = tmp_path / "plain"
    if fmt == "word2vec-binary":
        _write_binary(plain)
    else:
        _write_text(plain, header=fmt == "word2vec-text")
    path = tmp_path / name

    def write(content: bytes) -> None:
        path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)

    write(codecs.BOM_UTF8 + plain.read_bytes())
    assert detect_format(path) == fmt
    for requested in ("auto", fmt):
        vectors = load_word_vectors(path, format=requested)  # type: ignore[arg-type]
        assert vectors.words == WORDS
        np.testing.assert_allclose(vectors.vectors, VECTORS, rtol=1e-6)
    # Errors found after the mark still name their line (or vector) and word.
    write(codecs.BOM_UTF8 + plain.read_bytes().replace(b"p53 ", b"BRCA1 "))
    with pytest.raises(InputFormatError, match="'BRCA1' comes again"):
        load_word_vectors(path)


def test_binary_file_without_bin_suffix_is_detected(tmp_path: Path) -> None:
    assert detect_format(_write_binary(tmp_path / "vectors.w2v")) == "word2vec-binary"


@pytest.mark.parametrize(
    ("content", "fmt", "line", "fragment"),
    [
        ("2 3\na 1 2 3\nb 1 2\n", "word2vec-text", 3, "found 2 values"),
        ("2 3\na 1 2 3\nb 1 x 3\n", "word2vec-text", 3, "'x' is not a number"),
        ("3 3\na 1 2 3\nb 1 2 3\n", "word2vec-text", None, "announces 3 vectors"),
        ("two three\na 1 2 3\n", "word2vec-text", 1, "header"),
        ("a 1 2 3\n\nb 1 2 3\n", "glove", 2, "blank line"),
        ("a 1 2 3\nb 1 2 3 4\n", "glove", 2, "found 4 values"),
        ("a 1 2 3\nb 1 2 nan? \n", "glove", 2, "not a number"),
    ],
)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, content: str, fmt: str, line: int | None, fragment: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFormatError) as info:
        load_word_vectors(path, format=fmt)  # type: ignore[arg-type]
    assert info.value.line == line
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_truncated_binary_file_is_an_input_format_error(tmp_path: Path) -> None:
    path = _write_binary(tmp_path / "w.bin")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputFormatError, match="ends before"):
        load_word_vectors(path)


# ----------------------------------------------------------------------------- embedding matrix


def test_normalize_word_and_lookup_keys() -> None:
    assert normalize_word("IL-12b", lowercase=True, digits=True) == "il-00b"
    assert normalize_word("IL-12b", lowercase=False, digits=True) == "IL-00b"
    assert normalize_word("IL-12b", lowercase=False, digits=False) == "IL-12b"
    assert lookup_keys("P53", lowercase=True, digits=True) == ["P53", "p53", "p00"]


def test_build_embedding_matrix_lookup_order_and_coverage() -> None:
    vectors = WordVectors(["Gene", "gene", "p00", "x"], np.eye(4, dtype=np.float32)[:, :4])
    vocab = ["<pad>", "Gene", "GENE", "P53", "unseen"]
    matrix, coverage = build_embedding_matrix(vocab, vectors, lowercase=True, digits=True, seed=3)
    assert matrix.shape == (5, 4) and matrix.dtype == torch.float32
    assert torch.all(matrix[0] == 0)
    torch.testing.assert_close(matrix[1], torch.tensor([1.0, 0, 0, 0]))  # exact
    torch.testing.assert_close(matrix[2], torch.tensor([0, 1.0, 0, 0]))  # lower-cased
    torch.testing.assert_close(matrix[3], torch.tensor([0, 0, 1.0, 0]))  # normalised
    assert matrix[4].abs().max() <= (3 / 4) ** 0.5
    assert (coverage.exact, coverage.lowercased, coverage.normalised) == (1, 1, 1)
    assert coverage.total == 4
    assert coverage.missing == 1 and coverage.ratio == 0.75
    again, _ = build_embedding_matrix(vocab, vectors, lowercase=True, digits=True, seed=3)
    assert torch.equal(matrix, again)
    random_only, none = build_embedding_matrix(vocab, None, 6, init="normal")
    assert random_only.shape == (5, 6) and none.found == 0


def test_word_embedding_freeze() -> None:
    matrix, _ = build_embedding_matrix(["<pad>", "a", "b"], None, 4)
    ids = torch.tensor([[1, 2, 0]])
    frozen = WordEmbedding(matrix, freeze=True)
    assert frozen.frozen and frozen.out_dim == 4
    out = frozen(ids)
    assert out.shape == (1, 3, 4) and not out.requires_grad
    trainable = WordEmbedding(matrix)
    trainable(ids).sum().backward()
    grad = trainable.embedding.weight.grad
    assert grad is not None and torch.all(grad[0] == 0) and grad[1].abs().sum() > 0


# ----------------------------------------------------------------------------- char encoders


def _chars(words: list[list[int]], width: int | None = None) -> tuple[Tensor, Tensor]:
    width = width or max(len(w) for w in words)
    ids = torch.zeros(len(words), width, dtype=torch.long)
    for i, w in enumerate(words):
        ids[i, : len(w)] = torch.tensor(w, dtype=torch.long)
    return ids, torch.tensor([len(w) for w in words])


WORD_IDS = [[3, 1, 4, 1, 5], [9, 2], [6], []]


def _alone(encoder: torch.nn.Module, word: list[int], *extra: Tensor) -> Tensor:
    ids, lens = _chars([word])
    return encoder(ids, lens, *extra)


def test_char_cnn_shapes_and_max_pool_ignores_padding() -> None:
    torch.manual_seed(0)
    cnn = CharCNN(10, 4, widths=[2, 3], filters=[5, 6]).eval()
    with torch.no_grad():  # real characters score below the bias, padding windows = bias
        cnn.embedding.weight.abs_()
        for conv in cnn.convs:
            conv.weight.copy_(-conv.weight.abs() - 0.1)
            conv.bias.fill_(1.0)
    ids, lens = _chars(WORD_IDS, width=9)
    out = cnn(ids, lens)
    assert out.shape == (4, 11) and cnn.out_dim == 11
    assert torch.all(out[3] == 0)
    for i, word in enumerate(WORD_IDS[:3]):
        torch.testing.assert_close(out[i], _alone(cnn, word)[0])
        assert torch.all(out[i] < 1.0)  # no all-padding window won the max


def test_char_cnn_scores_every_window_as_its_conv1d_would() -> None:
    """The per-character table lookups (no per-shape oneDNN cache) equal `nn.Conv1d`."""
    torch.manual_seed(0)
    cnn = CharCNN(10, 4, widths=[1, 2, 3], filters=[5, 6, 7]).eval()
    ids, lens = _chars(WORD_IDS[:3], width=9)
    emb = cnn.embedding(ids).transpose(1, 2)
    expected = []
    for width, conv in zip(cnn.widths, cnn.convs, strict=True):
        scores = conv(emb)  # [N, F, C + w - 1]
        valid = torch.arange(scores.shape[2]) < (lens + width - 1).unsqueeze(1)
        expected.append(scores.masked_fill(~valid.unsqueeze(1), float("-inf")).max(2).values)
    with torch.no_grad():
        torch.testing.assert_close(cnn(ids, lens), torch.cat(expected, dim=1))
    torch.testing.assert_close(cnn(ids, lens), torch.cat(expected, dim=1))


@pytest.mark.parametrize("mode", ["predict", "train"])
def test_char_cnn_lookups_give_conv1d_vectors_and_gradients(mode: str) -> None:
    """Thousands of words of mixed lengths (several length buckets, empty words included)
    get, in the same order, the vectors `nn.Conv1d` gives them (the path character dropout
    uses); when training, the embedding and filters get the same gradients too."""
    torch.manual_seed(0)
    cnn = CharCNN(30, 6, widths=[1, 2, 3], filters=[4, 5, 6], activation="tanh")
    cnn.train(mode == "train")
    lengths = torch.randint(0, 26, (3000,))
    ids = torch.randint(1, 30, (3000, 25)) * (torch.arange(25) < lengths.unsqueeze(1))
    weight = torch.randn(3000, cnn.out_dim)

    def run(encode) -> tuple[torch.Tensor, list[torch.Tensor]]:
        cnn.zero_grad()
        out = encode()
        if mode == "predict":
            return out, []
        (out * weight).sum().backward()
        return out.detach(), [p.grad.clone() for p in cnn.parameters()]

    with torch.set_grad_enabled(mode == "train"):
        looked_up, grads = run(lambda: cnn(ids, lengths))
        convolved, conv_grads = run(
            lambda: torch.tanh(cnn._convolved(ids, lengths)).masked_fill(
                (lengths == 0).unsqueeze(1), 0.0
            )
        )
    torch.testing.assert_close(looked_up, convolved)
    assert torch.all(looked_up[lengths == 0] == 0)
    assert len(grads) == len(conv_grads)
    for mine, reference in zip(grads, conv_grads, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)


def test_sachan_multi_width_cnn() -> None:
    cnn = CharCNN.sachan(20, char_dim=8)
    assert cnn.widths == [1, 2, 3, 4, 5, 6, 7] and cnn.out_dim == 50 + 100 + 150 + 4 * 200
    ids, lens = _chars(WORD_IDS)
    assert cnn(ids, lens).shape == (4, 1100)


def test_char_bilstm_equals_unpadded_single_word() -> None:
    torch.manual_seed(0)
    enc = CharBiLSTM(10, 4, hidden=3).eval()
    ids, lens = _chars(WORD_IDS, width=8)
    out = enc(ids, lens)
    assert out.shape == (4, 6) and torch.all(out[3] == 0)
    for i, word in enumerate(WORD_IDS[:3]):
        torch.testing.assert_close(out[i], _alone(enc, word)[0])
        states, _ = enc.lstm(enc.embedding(torch.tensor([word])))  # no padding at all
        expected = torch.cat([states[0, -1, :3], states[0, 0, 3:]])
        torch.testing.assert_close(out[i], expected)


@pytest.mark.parametrize("condition", ["score", "hidden"])
def test_char_attention_shapes_padding_and_conditioning(condition: str) -> None:
    torch.manual_seed(0)
    att = CharAttention(10, 4, word_dim=5, hidden=6, condition=condition).eval()  # type: ignore[arg-type]
    ids, lens = _chars(WORD_IDS, width=7)
    words = torch.randn(4, 5)
    out = att(ids, lens, words)
    assert out.shape == (4, 4) and att.out_dim == 4 and torch.all(out[3] == 0)
    for i, word in enumerate(WORD_IDS[:3]):
        torch.testing.assert_close(out[i], _alone(att, word, words[i : i + 1])[0])
    other = att(ids, lens, torch.randn(4, 5))
    # The paper's formula adds U_t e_w to every character's score, so it cancels in the softmax.
    assert torch.allclose(out, other, atol=1e-6) == (condition == "score")


def test_char_attention_weights_sum_to_one() -> None:
    att = CharAttention(10, 3, word_dim=2).eval()
    with torch.no_grad():
        att.embedding.weight[1:] = torch.tensor([0.5, -1.0, 2.0])  # every char the same vector
    ids, lens = _chars(WORD_IDS[:3], width=6)
    out = att(ids, lens, torch.randn(3, 2))
    torch.testing.assert_close(out, torch.tensor([[0.5, -1.0, 2.0]]).expand(3, 3))


# ----------------------------------------------------------------------------- DeepVar table


def test_deepvar_char_table() -> None:
    assert char_table.ONEHOT_DIM == 70 and len(char_table.SYMBOLS) == 69
    assert len(set(char_table.SYMBOLS)) == 69
    assert char_table.char_id("a") == 1 and char_table.char_id("A") == 1
    assert char_table.char_id("0") == 27
    assert char_table.char_id("'") == char_table.char_id("’")
    assert char_table.char_id("−") == char_table.char_id("-")
    assert char_table.char_id("é") == char_table.UNK_ID == 70
    ids, lens = encode_words(["C>T", "rs2297882", ""], max_length=5)
    assert ids.shape == (3, 5) and lens.tolist() == [3, 5, 0]
    assert ids[0].tolist() == [3, char_table.char_id(">"), 20, 0, 0]


def test_onehot_embedding_plugs_into_char_encoders() -> None:
    table = OneHotCharEmbedding()
    assert not list(table.parameters()) and table.state_dict() == {}
    vectors = table(torch.tensor([0, 1, 70]))
    assert torch.equal(vectors.sum(dim=1), torch.tensor([0.0, 1.0, 1.0])) and vectors[2, 69] == 1
    ids, lens = encode_words(["HIV-1", "IL2", ""])
    for enc in (
        CharCNN(0, 0, [3], [7], embedding="onehot70"),
        CharBiLSTM(0, 0, 4, embedding="onehot70"),
    ):
        out = enc.eval()(ids, lens)
        assert out.shape == (3, enc.out_dim) and torch.all(out[2] == 0)


# ----------------------------------------------------------------------------- word window


def test_word_window_concatenates_neighbours_with_zero_edges() -> None:
    window = WordWindow(1)
    x = torch.arange(1, 9, dtype=torch.float).view(2, 4, 1)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    out = window(x, mask)
    assert out.shape == (2, 4, 3) and window.output_dim(1) == 3
    assert out[0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 0], [0, 0, 0]]
    assert out[1].tolist() == [[0, 5, 6], [5, 6, 7], [6, 7, 8], [7, 8, 0]]


def test_word_window_padding_invariance() -> None:
    window = WordWindow(2)
    x = torch.randn(2, 6, 3)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[4], [6]])
    out = window(x, mask)
    assert out.shape == (2, 6, 15)
    torch.testing.assert_close(out[0, :4], window(x[:1, :4])[0])
