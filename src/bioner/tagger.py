"""`Tagger`: a trained model with its vocabularies — build, predict, save, load.

A saved tagger is a directory: `config.json` (the experiment config), `vocab.json` (words,
characters, tag sets per head), `weights.safetensors` and `meta.json` (corpora, metrics,
bioner version). Nothing is pickled and loading never executes code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from bioner import __version__
from bioner.config import ExperimentConfig
from bioner.data.document import Document, Span
from bioner.data.lost_spans import LostSpans
from bioner.data.tagging import OUTSIDE, TagScheme, chunks_from_tags
from bioner.encoding.batching import CharEncoder, EncodedSentence, iterate_batches
from bioner.encoding.vocabulary import PAD, UNK, Vocabulary
from bioner.errors import BionerError
from bioner.models.embeddings import char_table
from bioner.models.embeddings.word_vectors import (
    build_embedding_matrix,
    load_word_vectors,
    normalize_word,
)
from bioner.models.tagger import DEFAULT_HEAD, TaggerModel
from bioner.postprocessing import apply_rule_sets, check_rule_sets, rules_for_head, split_entry
from bioner.training.checkpoints import cpu_state_dict
from bioner.training.seeding import usable_device

FILES = ("config.json", "vocab.json", "weights.safetensors", "meta.json")


def tag_set(labels: Iterable[str], scheme: TagScheme | str) -> list[str]:
    """Every tag the scheme can write for these labels: 'O' first, then by label."""
    prefixes = "BIES" if TagScheme.parse(scheme) is TagScheme.BIOES else "BI"
    return ["O"] + [f"{p}-{label}" for label in sorted(set(labels)) for p in prefixes]


class Tagger:
    """A model plus everything needed to turn documents into its inputs and back."""

    def __init__(
        self,
        config: ExperimentConfig,
        words: Vocabulary,
        chars: Vocabulary,
        tags: Mapping[str, Sequence[str]],
        model: TaggerModel,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.words = words
        self.chars = chars
        self.tags = {name: list(names) for name, names in tags.items()}
        self.model = model
        self.meta = meta or {}
        self.scheme = TagScheme.parse(config.model.tag_scheme)
        # Rule sets run on every prediction (bioner.postprocessing); assignable per instance.
        self.postprocess = list(config.model.postprocess)
        word_config = config.model.embedder.word
        self._lowercase = word_config.lowercase
        self._digits = word_config.normalize_digits
        char_config = config.model.embedder.char
        if char_config.alphabet == "onehot70":
            self._char_encoder = CharEncoder(
                {}, char_table.UNK_ID, char_config.max_word_chars, lookup=char_table.char_id
            )
        else:
            self._char_encoder = CharEncoder(chars.index, chars.id(UNK), char_config.max_word_chars)
        self._tag_index = {name: {t: i for i, t in enumerate(ts)} for name, ts in self.tags.items()}
        self._lock = threading.Lock()

    @property
    def postprocess(self) -> list[str]:
        """The rule-set entries run on every prediction (`name` or `HEAD:name`)."""
        return self._postprocess

    @postprocess.setter
    def postprocess(self, entries: Sequence[str]) -> None:
        """Checked on assignment: unknown rule sets and heads are errors, not silent no-ops."""
        if isinstance(entries, str) or not isinstance(entries, Iterable):
            raise TypeError(
                "Tagger.postprocess takes a list of rule-set names ([] for none), e.g. "
                f"['repeats']; got {type(entries).__name__}"
            )
        entries = check_rule_sets(entries)
        for entry in entries:
            head = split_entry(entry)[0]
            if head is not None and head not in self.tags:
                raise BionerError(
                    f"post-processing {entry}: no head named {head!r}; "
                    f"this model has {sorted(self.tags)}"
                )
        self._postprocess = entries

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, config: ExperimentConfig, training: Mapping[str, Sequence[Document]]) -> Tagger:
        """A fresh model whose vocabularies and tag sets come from the training documents.

        `training` maps a head name to its documents (one head per corpus when multi-task).
        The random initial weights come from `training.seed`, so a run is repeatable: without
        it each process started from different weights whatever the seed said.
        """
        from bioner.training.seeding import seed_everything

        seed_everything(config.training.seed)
        model_config = config.model
        word_config = model_config.embedder.word
        word_counts: Counter[str] = Counter()
        char_counts: Counter[str] = Counter()
        labels: dict[str, set[str]] = {}
        for head, documents in training.items():
            head_labels = labels.setdefault(head, set())
            for document in documents:
                head_labels.update(span.label for span in document.spans)
                for sentence in document.sentences:
                    for token in sentence.tokens:
                        word_counts[
                            normalize_word(
                                token.text, word_config.lowercase, word_config.normalize_digits
                            )
                        ] += 1
                        char_counts.update(token.text)
        vectors = None
        if word_config.enabled and word_config.vectors:
            vectors = load_word_vectors(
                word_config.vectors,
                format=word_config.vectors_format,
                limit=word_config.max_vectors,
            )
        extra = []
        if vectors is not None:
            extra = [
                normalize_word(w, word_config.lowercase, word_config.normalize_digits)
                for w in vectors.words
            ]
        words = Vocabulary.from_counts(word_counts, word_config.min_count, extra=extra)
        chars = Vocabulary.from_counts(char_counts, 1)
        tags = {head: tag_set(found, model_config.tag_scheme) for head, found in labels.items()}
        matrix = None
        if word_config.enabled and vectors is not None:
            matrix, _coverage = build_embedding_matrix(
                words.items,
                vectors,
                lowercase=word_config.lowercase,
                digits=word_config.normalize_digits,
                seed=config.training.seed,
            )
            # The vectors decide the width; record it so `load` rebuilds the same shapes.
            word_config.dim = vectors.dim
        model = TaggerModel(model_config, len(words), len(chars), tags, matrix)
        meta = {}
        if matrix is not None:
            meta["word_vectors"] = {
                "path": word_config.vectors,
                "dim": vectors.dim,
                "coverage": _coverage.ratio,
            }
        return cls(config, words, chars, tags, model, meta)

    # ------------------------------------------------------------------ encoding
    def normalize(self, word: str) -> str:
        return normalize_word(word, self._lowercase, self._digits)

    def encode(
        self, documents: Sequence[Document], head: str | None = None
    ) -> list[EncodedSentence]:
        """Every sentence of the documents as ids (with gold tag ids when `head` is given)."""
        encoded: list[EncodedSentence] = []
        tag_index = self._tag_index[head] if head is not None else None
        lost = LostSpans()
        for document in documents:
            sentences = document.sentences
            # `lost.tags` must run to its end (zip strict) to count spans outside sentences.
            gold: Iterable[list[str] | None] = (
                lost.tags(document, sentences, self.scheme)
                if tag_index is not None
                else [None] * len(sentences)
            )
            for sentence, tags in zip(sentences, gold, strict=True):
                words = sentence.words
                ids = self.words.ids(self.normalize(w) for w in words)
                tag_ids = None
                if tags is not None and tag_index is not None:
                    try:
                        tag_ids = [tag_index[t] for t in tags]
                    except KeyError as error:
                        raise BionerError(
                            f"document {document.id}: tag {error.args[0]} is not in the "
                            f"model's tag set for head {head!r}"
                        ) from None
                encoded.append(EncodedSentence(words, ids, tag_ids))
        if tag_index is not None:  # gold tags are what training learns: say what they lose
            lost.report(f"training tags (head {head!r})")
        return encoded

    def batches(self, sentences: Sequence[EncodedSentence], **options: Any):
        return iterate_batches(sentences, self._char_encoder, **options)

    def labels(self, heads: Sequence[str] | None = None) -> list[str]:
        """The entity types the given heads (default: all) can output, sorted."""
        names = self.tags if heads is None else heads
        return sorted({t.split("-", 1)[1] for name in names for t in self.tags[name] if "-" in t})

    def vocabulary_fingerprint(self) -> str:
        """A digest of the vocabularies and tag sets: equal iff ids mean the same things."""
        payload = json.dumps(
            [self.words.items, self.chars.items, self.tags], ensure_ascii=False
        ).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    # ------------------------------------------------------------------ prediction
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict_documents(
        self,
        documents: Iterable[Document],
        heads: Sequence[str] | None = None,
        *,
        batch_tokens: int = 8000,
        types: Collection[str] | None = None,
    ) -> list[Document]:
        """Copies of the documents whose spans are the model's predictions (their relations,
        which link the replaced annotations, are dropped: `Document.with_predictions`).

        The rule sets in `self.postprocess` run on each head's spans (an entry `HEAD:name` on
        that head's only), limited to that head's types. `types` then keeps only spans of
        those types (heads with none of them are not run), before heads compete: a type the
        caller does not want must not take a wanted mention's place. With several heads every
        head's spans are then kept, and where two heads' spans overlap the one with the higher
        confidence wins (ties: the longer, then the earlier head); a span a rule confirms has
        confidence 1.

        Documents without sentences (read from PubTator, BioC, JSON Lines...) are tokenized
        as the training data was, passage ends forced sentence breaks, like `annotate`; a
        document must not come back empty because nobody tokenized it. A head or type the
        model does not have, or a `types` that names no type (`[]`: leave it None for all), is
        a BionerError (`check_types`, as for `annotate_stream` and the service); a document
        that is not a `Document` (raw text: use `annotate`) or a bare string for
        `heads`/`types` is a TypeError.
        """
        from bioner.annotation.pipeline import check_types

        documents = self._checked_documents(documents)
        if isinstance(heads, str):
            raise TypeError(f"heads must be a list of head names, e.g. [{heads!r}], not a str")
        heads = list(heads or self.tags)
        for name in heads:
            if name not in self.tags:
                raise BionerError(f"no head named {name!r}; this model has {sorted(self.tags)}")
        wanted = check_types(types, self.labels())
        if wanted is not None:
            heads = [name for name in heads if wanted.intersection(self.labels([name]))]
            if not heads:
                return [document.with_predictions([]) for document in documents]
        sentences = self.encode(documents)
        per_sentence: list[list[tuple[str, Span]]] = [[] for _ in sentences]
        owners: list[tuple[int, int]] = []
        for doc_index, document in enumerate(documents):
            owners.extend((doc_index, s) for s in range(len(document.sentences)))
        with self._lock:
            was_training = self.model.training
            self.model.eval()
            try:
                for batch in self.batches(sentences, batch_tokens=batch_tokens, bucket=True):
                    results = self.model.predict(batch.to(self.device), heads)
                    mask = batch.mask.cpu()
                    for name, (paths, confidences) in results.items():
                        for row, label, first, end, score in _decoded_chunks(
                            paths, confidences, mask, self.tags[name], self.scheme
                        ):
                            position = batch.order[row]
                            doc_index, sent_index = owners[position]
                            tokens = documents[doc_index].sentences[sent_index].tokens
                            per_sentence[position].append(
                                (name, Span(tokens[first].start, tokens[end - 1].end, label, score))
                            )
            finally:
                self.model.train(was_training)
        head_labels = {name: self.labels([name]) for name in heads}
        ruled_heads = {name: bool(rules_for_head(self.postprocess, name)) for name in heads}
        results_docs: list[Document] = []
        cursor = 0
        for document in documents:
            count = len(document.sentences)
            by_head: dict[str, list[Span]] = {name: [] for name in heads}
            for found in per_sentence[cursor : cursor + count]:
                for name, span in found:
                    by_head[name].append(span)
            cursor += count
            for name in heads:
                if ruled_heads[name]:
                    ruled = document.with_spans(by_head[name])
                    ruled = apply_rule_sets([ruled], self.postprocess, head_labels[name], name)
                    by_head[name] = ruled[0].spans
            spans = [
                span
                for name in heads
                for span in by_head[name]
                if wanted is None or span.label in wanted
            ]
            if len(heads) > 1:
                spans = _resolve_overlaps_by_sentence(document, spans)
            results_docs.append(
                document.with_predictions(sorted(spans, key=lambda s: (s.start, s.end)))
            )
        return results_docs

    def _checked_documents(self, documents: Iterable[Document]) -> list[Document]:
        """The documents as a list, each tokenized if it has text but no sentences.

        Anything but Documents is a TypeError naming the item: raw text belongs to `annotate`.
        """
        from bioner.annotation.pipeline import tokenized
        from bioner.data.inputs import checked_documents
        from bioner.text import make_tokenizer

        checked = list(
            checked_documents(
                documents, "predict_documents", text_hint="Tagger.annotate takes raw text"
            )
        )
        tokenizer = None
        for index, document in enumerate(checked):
            if not document.sentences and document.text:
                tokenizer = tokenizer or make_tokenizer(self.config.data.tokenizer)
                checked[index] = tokenized(document, tokenizer)
        return checked

    @overload
    def annotate(self, text_or_documents: str | Document) -> Document: ...

    @overload
    def annotate(self, text_or_documents: Iterable[str | Document]) -> list[Document]: ...

    def annotate(
        self, text_or_documents: str | Document | Iterable[str | Document]
    ) -> Document | list[Document]:
        """Tag raw text or Documents: one in, one `Document` out; an iterable in, a list out.

        Each result's `spans` are `Span`s in text order: `start`/`end` are character offsets
        into the original `text` (`text[start:end]` is the mention), `label` the entity type,
        `score` the model's confidence (unrounded). A str becomes document `doc1` (in a list:
        `doc1`, `doc2`, ... in order); a Document keeps its id, passages and metadata, and its
        sentences if it has them. Raw text is tokenized as the training data was
        (`config.data.tokenizer`): a variant model (DeepVar) needs the variant-aware tokens.

        An iterable (list, generator) is read whole and tagged in one call, so memory grows
        with it: for a large or endless stream use
        `bioner.annotation.pipeline.annotate_stream(tagger, items)`, which yields documents in
        order while holding one bounded batch. Safe to call from several threads (prediction
        holds the tagger's lock). Bytes, paths and other non-text are a TypeError (decode the
        bytes; read a file yourself or with `bioner.data.formats.read_documents`).
        """
        from bioner.data.inputs import check_items, input_document

        if isinstance(text_or_documents, str | Document):
            return self.predict_documents([input_document(text_or_documents, 1)])[0]
        check_items(
            text_or_documents, "Tagger.annotate", "a str, a Document or an iterable of them"
        )
        documents = [input_document(item, n) for n, item in enumerate(text_or_documents, 1)]
        return self.predict_documents(documents)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model directory atomically (temp dir + rename)."""
        target = Path(directory)
        if target.exists() and not overwrite:
            raise BionerError(f"{target} exists; refusing to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; a model directory is ordinary data
        try:
            (staging / "config.json").write_text(
                self.config.model_dump_json(indent=2), encoding="utf-8"
            )
            vocab = {
                "words": self.words.to_json(),
                "chars": self.chars.to_json(),
                "tags": self.tags,
            }
            contextual = self.model.embedder.contextual
            if contextual is not None:  # the LMs' characters: loading needs no LM files
                vocab["contextual"] = contextual.specs()
            (staging / "vocab.json").write_text(
                json.dumps(vocab, ensure_ascii=False), encoding="utf-8"
            )
            save_file(cpu_state_dict(self.model), str(staging / "weights.safetensors"))
            meta = {**self.meta, "bioner_version": __version__, "format": 1}
            (staging / "meta.json").write_text(
                json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8"
            )
            for file in staging.iterdir():  # safetensors writes 0600: others could not load it
                file.chmod(0o644)
            if target.exists():
                backup = target.with_name(f".{target.name}.old")
                shutil.rmtree(backup, ignore_errors=True)
                os.replace(target, backup)
                os.replace(staging, target)
                shutil.rmtree(backup, ignore_errors=True)
            else:
                os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, path_or_name: str | Path, device: str | torch.device = "cpu") -> Tagger:
        """Load a model directory (or the name of a bundled model, e.g. "default").

        Every way a model directory can be damaged (bad JSON, a wrong structure, weights that
        are not safetensors or do not fit the config) is a BionerError naming the file.
        """
        from bioner.models.registry import resolve_model_path
        from bioner.training.config import format_validation_error

        if not isinstance(path_or_name, str | os.PathLike):
            raise TypeError(
                "Tagger.load takes a model folder or a bundled model's name (str or Path), "
                f"got {type(path_or_name).__name__}"
            )
        target = usable_device(device)
        try:
            path = resolve_model_path(path_or_name)
        except BionerError:
            given = Path(path_or_name)
            if given.is_file():  # "no model directory" would read as if it did not exist
                folder = f" ({given.parent})" if given.name in FILES else ""
                raise BionerError(
                    f"{given} is a file; a model is the folder{folder} that holds "
                    f"{', '.join(FILES)}"
                ) from None
            raise
        missing = [name for name in FILES if not (path / name).is_file()]
        if missing:
            hint = ""
            if all((path / "model" / name).is_file() for name in FILES):
                hint = f"; a training run keeps its model in {path / 'model'}"
            raise BionerError(f"{path} is not a bioner model: missing {', '.join(missing)}{hint}")
        try:
            config = ExperimentConfig.model_validate(_read_json_object(path / "config.json"))
        except ValidationError as error:
            message = format_validation_error(
                error, str(path / "config.json"), model=ExperimentConfig
            )
            raise BionerError(message) from None
        vocab = _read_json_object(path / "vocab.json")
        meta = _read_json_object(path / "meta.json")
        words, chars, tags = _vocabularies(vocab, path / "vocab.json")
        contextual = None
        if config.model.embedder.contextual.enabled:
            from bioner.models.embeddings.contextual import ContextualStringEmbedding

            if "contextual" not in vocab:
                raise BionerError(f"{path}: vocab.json lacks the character LMs' vocabularies")
            contextual = ContextualStringEmbedding.from_specs(
                vocab["contextual"], fine_tune=config.model.embedder.contextual.fine_tune
            )
        model = TaggerModel(config.model, len(words), len(chars), tags, contextual=contextual)
        weights = path / "weights.safetensors"
        try:
            state = load_file(str(weights))
        except (SafetensorError, OSError) as error:
            raise BionerError(f"{weights}: not a readable safetensors file ({error})") from None
        _check_weights(model, state, weights)
        model.load_state_dict(state)
        model.to(target).eval()
        return cls(config, words, chars, tags, model, meta)


def _read_json_object(path: Path) -> dict[str, Any]:
    """A model file's JSON object; unreadable, malformed or non-object JSON is a BionerError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BionerError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise BionerError(f"{path}: not valid UTF-8 ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise BionerError(f"{path}, line {error.lineno}: invalid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise BionerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _vocabularies(
    vocab: dict[str, Any], path: Path
) -> tuple[Vocabulary, Vocabulary, dict[str, list[str]]]:
    """Words, characters and tag sets from vocab.json, checked so a damaged file fails here
    with its name rather than later inside the model (a tag set without 'O' cannot decode)."""

    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    tables = []
    for key in ("words", "chars"):
        table = vocab.get(key)
        if not (
            isinstance(table, dict)
            and strings(table.get("items"))
            and strings(table.get("specials"))
        ):
            raise BionerError(
                f"{path}: '{key}' must be an object with 'specials' and 'items' lists"
            )
        tables.append(Vocabulary.from_json(table))
    tags = vocab.get("tags")
    if not isinstance(tags, dict):  # empty for a BiLM run's head-less model
        raise BionerError(f"{path}: 'tags' must map each head to its list of tags")
    for head, names in tags.items():
        if not strings(names) or OUTSIDE not in names:
            raise BionerError(f"{path}: tags of head {head!r} must be a list of tags including 'O'")
    return tables[0], tables[1], tags


def _check_weights(model: TaggerModel, state: Mapping[str, Tensor], path: Path) -> None:
    """Weights must hold exactly the model's tensors, in its shapes and dtypes; name the
    first misfits."""
    from bioner.training.checkpoints import state_dict_misfit

    problem = state_dict_misfit(model, dict(state))
    if problem is not None:
        raise BionerError(f"{path}: the weights do not fit config.json and vocab.json: {problem}")


def _decoded_chunks(
    paths: Tensor,
    confidences: Tensor | None,
    mask: Tensor,
    names: Sequence[str],
    scheme: TagScheme,
) -> Iterator[tuple[int, str, int, int, float | None]]:
    """`(row, label, first, end, confidence)` of every mention in padded tag-id paths.

    Most tokens are O: only rows holding a non-O tag are read, and only from their first to
    their last non-O token (a mention never includes an O, so nothing outside that range can
    belong to one). The range is decoded with `chunks_from_tags`, the same rule as anywhere
    else. A mention's confidence is the lowest marginal of its tokens' tags.
    """
    tagged = (paths != names.index(OUTSIDE)) & mask
    rows = tagged.any(1).nonzero().flatten()
    if rows.numel() == 0:
        return
    steps = paths.size(1)
    firsts = tagged[rows].int().argmax(1).tolist()
    lasts = (steps - 1 - tagged[rows].flip(1).int().argmax(1)).tolist()
    row_paths = paths[rows].tolist()
    row_scores = confidences[rows].tolist() if confidences is not None else None
    for i, row in enumerate(rows.tolist()):
        first, last = firsts[i], lasts[i]
        tags = [names[t] for t in row_paths[i][first : last + 1]]
        for label, start, end in chunks_from_tags(tags, scheme):
            score = None
            if row_scores is not None:
                score = min(row_scores[i][first + start : first + end])
            yield row, label, first + start, first + end, score


def _resolve_overlaps_by_sentence(document: Document, spans: list[Span]) -> list[Span]:
    """`_resolve_overlaps` within each sentence (spans never cross one; this bounds the cost)."""
    starts = [sentence.tokens[0].start if sentence.tokens else 0 for sentence in document.sentences]
    groups: dict[int, list[Span]] = {}
    for span in spans:
        groups.setdefault(bisect_right(starts, span.start), []).append(span)
    return [span for group in groups.values() for span in _resolve_overlaps(group)]


def _resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep non-overlapping spans, preferring higher confidence, then longer, then earlier."""
    ranked = sorted(
        enumerate(spans),
        key=lambda item: (-(item[1].score or 0.0), -(item[1].end - item[1].start), item[0]),
    )
    kept: list[Span] = []
    for _, span in ranked:
        if all(span.end <= other.start or other.end <= span.start for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: (s.start, s.end))


__all__ = ["DEFAULT_HEAD", "PAD", "Tagger", "tag_set"]
