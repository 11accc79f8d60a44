"""DeepVar's fixed 70-symbol character table and its one-hot embedding.

DeepVar §3.1 / Table 2 represents characters by one-hot vectors over a fixed lookup table of
70 entries: 26 letters, 10 digits, 33 other characters and one placeholder for unknown
characters. The extracted Table 2 lists the others as ``,;.!?:‘’“”/\\| @#$%ˆ&*˜+−=<>()[]{}``,
i.e. 32 glyphs and a gap between ``|`` and ``@``. Our choices, so the table is exactly 70:

* the gap is ``_``: the list has the counts and order of Zhang et al. (2015)'s character-CNN
  alphabet, which has the underscore at that place (lost in text extraction);
* ``ˆ ˜ −`` are stored as their ASCII forms ``^ ~ -``;
* the four typographic quotes keep their own entries; ASCII quotes fold onto them
  (`` ` `` → ``‘``, ``'`` → ``’``, ``"`` → ``”``) and Unicode hyphens/dashes/minus → ``-``;
* the table holds lower-case letters only, so upper case folds to lower case (as in Zhang
  et al.); anything else is the unknown symbol.

Ids: 0 = padding (a zero vector), 1..69 = the symbols in table order, 70 = unknown; the
one-hot width is 70 (`ONEHOT_DIM`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
OTHERS = ",;.!?:‘’“”/\\|_@#$%^&*~+-=<>()[]{}"
SYMBOLS = LETTERS + DIGITS + OTHERS

PAD_ID = 0
UNK_ID = len(SYMBOLS) + 1
ONEHOT_DIM = len(SYMBOLS) + 1  # 69 symbols + unknown = 70 (DeepVar §3.1)
NUM_IDS = ONEHOT_DIM + 1  # with the padding id

_FOLD = {
    "`": "‘",
    "'": "’",
    '"': "”",
    "ˆ": "^",
    "˜": "~",
    "−": "-",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
}
_IDS: dict[str, int] = {c: i + 1 for i, c in enumerate(SYMBOLS)}

assert len(LETTERS) == 26 and len(DIGITS) == 10 and len(OTHERS) == 33 and ONEHOT_DIM == 70


def char_id(char: str) -> int:
    """The table id of one character (folding case and quote/dash variants), else `UNK_ID`."""
    found = _IDS.get(char)
    if found is not None:
        return found
    folded = _FOLD.get(char)
    if folded is None:
        folded = char.lower()
    return _IDS.get(folded, UNK_ID)


def encode_word(word: str, max_length: int | None = None) -> list[int]:
    """Ids of a word's characters, truncated to ``max_length`` (DeepVar Table 4: 15/30/50)."""
    chars = word if max_length is None else word[:max_length]
    return [char_id(c) for c in chars]


def encode_words(words: Sequence[str], max_length: int | None = None) -> tuple[Tensor, Tensor]:
    """``char_ids [N, C]`` (0-padded) and ``char_lengths [N]`` for a list of words."""
    encoded = [encode_word(w, max_length) for w in words]
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    width = int(lengths.max()) if encoded else 0
    ids = torch.zeros(len(encoded), width, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e, dtype=torch.long)
    return ids, lengths


class OneHotCharEmbedding(nn.Module):
    """Non-trainable one-hot embedding over the table: id `[...]` → `[..., 70]`.

    Drop-in replacement for a learned ``nn.Embedding(NUM_IDS, dim, padding_idx=0)`` (DeepVar
    §3.1); padding maps to the zero vector. The table is a non-persistent buffer, so it adds
    nothing to saved weights.
    """

    def __init__(self) -> None:
        super().__init__()
        table = torch.cat([torch.zeros(1, ONEHOT_DIM), torch.eye(ONEHOT_DIM)])
        self.register_buffer("table", table, persistent=False)
        self.num_embeddings = NUM_IDS
        self.embedding_dim = ONEHOT_DIM

    def forward(self, char_ids: Tensor) -> Tensor:
        return nn.functional.embedding(char_ids, self.table)
