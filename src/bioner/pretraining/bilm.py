"""Sachan et al.'s bidirectional language model (BiLM) built from the tagger's own layers.

One job: pretrain the word embedding, character encoder and BiLSTM of a tagger config (e.g.
preset `sachan-cnn`) on unlabeled text, so that `bilm_transfer` can start a tagger from them
(Sachan §2.5, §3.3-3.4).

How the BiLSTM is used as a language model without seeing the word it predicts
-------------------------------------------------------------------------------
Sachan §2.5: the forward LM computes ``p(w_i | w_1 … w_{i-1})`` for i = 2 … n+1 (w_{n+1} =
end symbol) and the backward LM ``p(w_i | w_{i+1} … w_n)`` for i = n-1 … 0 (w_0 = start
symbol); both "share the parameters of the word embedding layer, character embedding layer,
character CNN filters, and the decoder layer", and the LM decoder is ``W ∈ R^{256×V}``
(§3.2) — it reads ONE direction's 256-dimensional state, not the 512-dimensional
concatenation the NER decoder reads. So the sentence ``w_1 … w_n`` (no boundary tokens on
the input side, exactly what the tagger sees) goes once through the tagger's embedder and
BiLSTM; then

* the forward half of the output at position t, which has read w_1 … w_t, predicts w_{t+1}
  (and the end symbol `</s>` at t = n);
* the backward half at position t, which has read w_t … w_n, predicts w_{t-1} (and the
  start symbol `<s>` at t = 1);

both through the same decoder, and the loss is the mean of the two cross-entropies. A
direction therefore never sees its target: the embedder works per token (no word window)
and a single BiLSTM layer keeps the two directions apart. A stacked BiLSTM (layer 2 reads
both directions of layer 1), a residual encoder or a ±k word window would let each
direction see the word it predicts, so such configs are refused; Sachan uses one layer.
`--directions forward|backward` trains LM_f or LM_b alone (Sachan Table 3's variants).

Output layer
------------
A full softmax over a 100k vocabulary is too slow on a CPU, so the shared decoder covers the
`output_vocab` most frequent words (plus `<unk>`, `<s>`, `</s>`) through
`torch.nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017; exact probabilities, frequent
words in a cheap head cluster); small vocabularies use a plain linear softmax. The input
vocabulary is larger and is the one the tagger inherits. Perplexity counts `<unk>` as a
word (out-of-output-vocabulary words are not skipped), so it depends on `output_vocab`.

Training (Sachan §3.3): Adam, batches of 500 words, zero initial states per sentence,
dropout 0.5 on embeddings and LSTM states (taken from the tagger config), gradient L2 norm
≤ 1.0, learning rate × 0.5 when held-out perplexity stops improving, early stopping after 3
epochs without improvement, 20 epochs; LSTM weights start uniform in ±0.005.

Run directory (resumable; nothing pickled):

    bilm.json            settings, sources and their token counts, vocabulary sizes
    vocab.json           the words/characters (the tagger's vocabularies after transfer)
    data/train.txt       tokenized training sentences (one per line), data/heldout.txt
    checkpoint/last/     model + decoder + optimizer + RNG (`training.checkpoints`)
    metrics.jsonl        one record per evaluation (held-out perplexity per direction)
    model/               the best (lowest held-out perplexity) embedder + encoder as a
                         head-less tagger directory (`Tagger.load` reads it)
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from bioner.config import ExperimentConfig
from bioner.data.atomic import atomic_write
from bioner.encoding.batching import Batch, EncodedSentence
from bioner.encoding.vocabulary import Vocabulary
from bioner.errors import BionerError
from bioner.models.config import ModelConfig
from bioner.models.embeddings.word_vectors import (
    build_embedding_matrix,
    load_word_vectors,
    normalize_word,
)
from bioner.models.tagger import TaggerModel
from bioner.pretraining.options import check_option
from bioner.pretraining.text_source import (
    Sentence,
    TextSource,
    TokenStream,
    read_sentences,
    write_sentences,
)
from bioner.tagger import Tagger
from bioner.training.checkpoints import (
    StateShape,
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
)
from bioner.training.config import flat_settings, format_validation_error
from bioner.training.metrics_log import MetricsLog
from bioner.training.optimizers import clip_gradients
from bioner.training.schedules import (
    ANNEALER_STATE,
    STOPPER_STATE,
    EarlyStopping,
    PlateauAnnealer,
)
from bioner.training.seeding import seed_everything, select_device

Direction = Literal["forward", "backward", "both"]
DIRECTIONS: tuple[str, ...] = ("forward", "backward", "both")
MARKER = "bilm.json"

#: Output classes 0-2; input word id i ≥ 2 (below the output cap) is class i + 1.
OUT_UNK, OUT_BOS, OUT_EOS = 0, 1, 2
OUTPUT_SPECIALS = ("<unk>", "<s>", "</s>")


def check_lm_config(config: ModelConfig) -> None:
    """Refuse encoders/embedders with which a direction could see the word it predicts."""
    encoder = config.encoder
    problems = []
    if encoder.kind != "bilstm":
        problems.append(f"encoder.kind={encoder.kind!r} (needs 'bilstm')")
    if encoder.layers != 1:
        problems.append(f"encoder.layers={encoder.layers} (needs 1)")
    if config.embedder.word_window:
        problems.append(f"embedder.word_window={config.embedder.word_window} (needs 0)")
    if problems:
        raise BionerError(
            "a BiLM must keep the two LSTM directions apart (Sachan §2.5) or each would see "
            "the word it predicts: " + "; ".join(problems)
        )


class LMDecoder(nn.Module):
    """The decoder both directions share: one LSTM direction's state → next-word log-probs."""

    def __init__(self, hidden: int, classes: int) -> None:
        super().__init__()
        self.classes = classes
        cutoffs = [c for c in (2000, 10000, 50000) if c < classes - 1]
        self.adaptive: nn.AdaptiveLogSoftmaxWithLoss | None = None
        self.linear: nn.Linear | None = None
        if classes > 4000 and cutoffs:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(hidden, classes, cutoffs, div_value=4.0)
        else:
            self.linear = nn.Linear(hidden, classes)
            nn.init.xavier_uniform_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def nll(self, states: Tensor, targets: Tensor) -> Tensor:
        """Summed negative log-likelihood of `targets` `[N]` given `states` `[N, H]`."""
        if self.adaptive is not None:
            output = self.adaptive(states, targets).output  # log-prob of each target
            return -output.sum()
        assert self.linear is not None
        return nn.functional.cross_entropy(self.linear(states), targets, reduction="sum")

    def log_prob(self, states: Tensor) -> Tensor:
        """Log-probabilities of every class `[N, classes]` (tests, inspection)."""
        if self.adaptive is not None:
            return self.adaptive.log_prob(states)
        assert self.linear is not None
        return torch.log_softmax(self.linear(states), dim=-1)


class BiLM(nn.Module):
    """Headless `TaggerModel` (the tagger's embedder + BiLSTM) plus the shared LM decoder."""

    def __init__(
        self,
        config: ModelConfig,
        num_words: int,
        num_chars: int,
        output_words: int,
        *,
        word_matrix: Tensor | None = None,
        directions: Direction = "both",
        lstm_init: float | None = 0.005,
    ) -> None:
        super().__init__()
        check_lm_config(config)
        if directions not in DIRECTIONS:
            raise BionerError(f"directions must be one of {DIRECTIONS}, got {directions!r}")
        self.network = TaggerModel(config, num_words, num_chars, {}, word_matrix)
        self.hidden = config.encoder.hidden
        self.directions = directions
        # Input ids 2 … output_words-1 are predicted words; the rest count as <unk>.
        self.output_words = max(2, min(output_words, num_words))
        self.decoder = LMDecoder(self.hidden, self.output_words + 1)
        if lstm_init:
            for name, parameter in self.network.encoder.named_parameters():
                if ".lstm." in f".{name}":
                    nn.init.uniform_(parameter, -lstm_init, lstm_init)

    def output_ids(self, word_ids: Tensor) -> Tensor:
        covered = (word_ids >= 2) & (word_ids < self.output_words)
        return torch.where(covered, word_ids + 1, torch.full_like(word_ids, OUT_UNK))

    def states(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Forward-direction and backward-direction states, each `[B, T, H]`."""
        embedded = self.network.embedder(batch)
        encoded = self.network.encoder(embedded, batch.lengths)
        return encoded[..., : self.hidden], encoded[..., self.hidden :]

    def targets(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Output classes the forward (next word) and backward (previous word) LM predict."""
        out = self.output_ids(batch.word_ids)
        lengths = batch.lengths.to(out.device)
        positions = torch.arange(out.size(1), device=out.device).unsqueeze(0)
        forward = torch.full_like(out, OUT_EOS)
        forward[:, :-1] = out[:, 1:]
        forward = torch.where(positions == (lengths - 1).unsqueeze(1), OUT_EOS, forward)
        backward = torch.full_like(out, OUT_BOS)
        backward[:, 1:] = out[:, :-1]
        return forward, backward

    def direction_nll(self, batch: Batch) -> dict[str, tuple[Tensor, int]]:
        """Per trained direction: (summed NLL, number of predicted tokens)."""
        forward_states, backward_states = self.states(batch)
        forward_targets, backward_targets = self.targets(batch)
        mask = batch.mask
        count = int(mask.sum())
        result: dict[str, tuple[Tensor, int]] = {}
        if self.directions in ("forward", "both"):
            result["forward"] = (
                self.decoder.nll(forward_states[mask], forward_targets[mask]),
                count,
            )
        if self.directions in ("backward", "both"):
            result["backward"] = (
                self.decoder.nll(backward_states[mask], backward_targets[mask]),
                count,
            )
        return result

    def loss(self, batch: Batch) -> Tensor:
        """Mean of the directions' per-token cross-entropies (Sachan's CE_lm, λ = 1/2)."""
        parts = self.direction_nll(batch)
        return sum(nll / max(n, 1) for nll, n in parts.values()) / len(parts)

    def log_probs(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Full next-word (forward) and previous-word (backward) log-probs `[B, T, classes]`."""
        forward_states, backward_states = self.states(batch)
        return self.decoder.log_prob(forward_states), self.decoder.log_prob(backward_states)


# ---------------------------------------------------------------------------- settings
@dataclass
class BiLMSettings:
    directions: Direction = "both"
    max_tokens: int | None = None
    heldout_tokens: int = 20_000
    heldout_every: int = 20
    epochs: int = 20  # §3.3
    batch_tokens: int = 500  # §3.3: dynamic batches of 500 words
    min_count: int = 2
    max_vocab: int = 50_000
    output_vocab: int = 20_000
    learning_rate: float = 1e-3  # Adam defaults, §3.3
    clip_grad_norm: float = 1.0  # §3.3
    anneal_factor: float = 0.5  # §3.3
    early_stopping_patience: int = 3  # §3.3: epochs without a better perplexity
    eval_every: int = 500  # steps between held-out evaluations + checkpoints
    buffer_sentences: int = 20_000
    max_steps: int | None = None
    lstm_init: float = 0.005  # §3.3
    seed: int = 1
    threads: int = 1
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"

    def __post_init__(self) -> None:
        """Refuse nonsense before the text is read: zero sizes would end in a traceback
        (a modulo by zero) or a run that trains nothing, after minutes of tokenizing."""
        for option, value in (
            ("--max-tokens", self.max_tokens),
            ("--heldout-tokens", self.heldout_tokens),
            ("--heldout-every", self.heldout_every),
            ("--epochs", self.epochs),
            ("--batch-tokens", self.batch_tokens),
            ("--min-count", self.min_count),
            ("--max-vocab", self.max_vocab),
            ("--eval-every", self.eval_every),
            ("--max-steps", self.max_steps),
            ("--threads", self.threads),
        ):
            check_option(option, value, 1)
        # At least one real word besides the <unk>, <s> and </s> classes.
        check_option("--output-vocab", self.output_vocab, len(OUTPUT_SPECIALS) + 1)
        check_option("--learning-rate", self.learning_rate, 0, strict=True)
        check_option("--seed", self.seed, 0, maximum=2**32 - 1)


# ---------------------------------------------------------------------------- data
def prepare_data(
    stream: TokenStream,
    directory: Path,
    settings: BiLMSettings,
    experiment: ExperimentConfig,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Tokenize the sources once into data/train.txt + data/heldout.txt; count vocabularies.

    Every `heldout_every`-th document goes to the held-out file until it holds
    `heldout_tokens` tokens; its words are not counted, so held-out OOVs are real OOVs.
    """
    word = experiment.model.embedder.word
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    word_counts: Counter[str] = Counter()
    char_counts: Counter[str] = Counter()
    train_sentences = train_tokens = heldout_sentences = heldout_tokens = 0
    with (
        atomic_write(data / "train.txt", newline="\n") as train_out,
        atomic_write(data / "heldout.txt", newline="\n") as heldout_out,
    ):
        for index, (_name, sentences) in enumerate(stream.documents()):
            size = sum(len(s) for s in sentences)
            if index % settings.heldout_every == 0 and heldout_tokens < settings.heldout_tokens:
                heldout_sentences += write_sentences(iter(sentences), heldout_out)
                heldout_tokens += size
                continue
            train_sentences += write_sentences(iter(sentences), train_out)
            before = train_tokens
            train_tokens += size
            for sentence in sentences:
                word_counts.update(
                    normalize_word(w, word.lowercase, word.normalize_digits) for w in sentence
                )
                for token in sentence:
                    char_counts.update(token)
            if progress is not None and train_tokens // 50_000 != before // 50_000:
                progress("tokenize", train_tokens + heldout_tokens, settings.max_tokens)
    if train_sentences == 0 or heldout_sentences == 0:
        raise BionerError(
            f"too little text: {train_sentences} training and {heldout_sentences} held-out "
            "sentences (lower --heldout-every or give more text)"
        )
    kept = Counter(
        dict(
            sorted(
                ((w, n) for w, n in word_counts.items() if n >= settings.min_count),
                key=lambda item: (-item[1], item[0]),
            )[: settings.max_vocab]
        )
    )
    extra: list[str] = []
    if word.enabled and word.vectors:
        vectors = load_word_vectors(
            word.vectors, format=word.vectors_format, limit=word.max_vectors
        )
        extra = [normalize_word(w, word.lowercase, word.normalize_digits) for w in vectors.words]
    words = Vocabulary.from_counts(kept, 1, extra=extra)
    chars = Vocabulary.from_counts(char_counts, 1)
    with atomic_write(directory / "vocab.json") as handle:
        json.dump(
            {"words": words.to_json(), "chars": chars.to_json(), "tags": {}},
            handle,
            ensure_ascii=False,
        )
    return {
        "train_sentences": train_sentences,
        "train_tokens": train_tokens,
        "heldout_sentences": heldout_sentences,
        "heldout_tokens": heldout_tokens,
        "distinct_words": len(word_counts),
        "vocabulary": len(words),
        "counted_words": len(kept),
        "characters": len(chars),
        "sources": stream.describe(),
    }


def load_vocab(directory: Path) -> tuple[Vocabulary, Vocabulary]:
    try:
        vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        return Vocabulary.from_json(vocab["words"]), Vocabulary.from_json(vocab["chars"])
    except (OSError, ValueError, KeyError) as error:
        raise BionerError(f"{directory}: unreadable vocab.json ({error})") from None


# ---------------------------------------------------------------------------- training
@dataclass
class BiLMResult:
    directory: Path
    steps: int
    epochs_completed: int
    train_tokens_seen: int
    train_seconds: float
    tokens_per_second: float
    initial_perplexity: dict[str, float]
    best_perplexity: dict[str, float]
    stopped_because: str


#: The training state a BiLM run checkpoints (checked on resume: the file can be damaged).
_RUN_STATE = StateShape(
    {
        "epoch": int,
        "buffer": int,
        "batch": int,
        "step": int,
        "tokens": int,
        "seconds": float,
        "best_score": (float, None),
        "best_perplexity": (dict, None),
        "initial_perplexity": (dict, None),
        "annealer": ANNEALER_STATE,
        "stopper": STOPPER_STATE,
    }
)


class BiLMTrainer:
    """Prepares data (once), then trains a BiLM with held-out evaluation and checkpoints."""

    def __init__(
        self,
        experiment: ExperimentConfig,
        directory: str | Path,
        settings: BiLMSettings,
        sources: Sequence[TextSource] | None = None,
        *,
        progress: Callable[[str, int, int | None], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        check_lm_config(experiment.model)
        self.experiment = experiment
        self.directory = Path(directory)
        self.settings = settings
        self.sources = list(sources or [])
        self.progress = progress
        self.log = log or (lambda message: None)

    # --------------------------------------------------------------- set-up
    def _setup(self, resume: bool) -> dict[str, Any]:
        marker = self.directory / MARKER
        if self.directory.exists() and not self.directory.is_dir():
            raise BionerError(f"{self.directory}: OUTPUT must be a folder for the run, not a file")
        if resume:
            record, saved, settings = read_run(self.directory)
            if saved.model != self.experiment.model:
                before = flat_settings(saved.model, "model")
                now = flat_settings(self.experiment.model, "model")
                changed = sorted(
                    k for k in before.keys() | now.keys() if before.get(k) != now.get(k)
                )
                raise BionerError(
                    f"{self.directory}: the run was started with another model config "
                    f"(differs in {', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''}); "
                    "resume with the CONFIG and --set values it was started with (bilm.json)"
                )
            self.settings = replace(settings, **_resume_overrides(self.settings))
            return record
        if marker.exists() or checkpoint_exists(self.directory / "checkpoint"):
            raise BionerError(f"{self.directory} already holds a BiLM run; use --resume")
        if (self.directory / "model").exists():  # `_save_model` would replace it
            raise BionerError(
                f"{self.directory} already holds a model ({self.directory / 'model'}); "
                "choose another OUTPUT rather than replace it"
            )
        if not self.sources:
            raise BionerError("no text sources")
        stream = TokenStream(self.sources, max_tokens=self.settings.max_tokens)
        started = time.perf_counter()
        data = prepare_data(stream, self.directory, self.settings, self.experiment, self.progress)
        data["tokenize_seconds"] = round(time.perf_counter() - started, 2)
        record = {
            "kind": "bilm",
            "reference": "Sachan et al., BiLM-NER, sections 2.5 and 3.3",
            "experiment": json.loads(self.experiment.model_dump_json()),
            "settings": asdict(self.settings),
            "data": data,
        }
        self._write_marker(record)
        return record

    def _write_marker(self, record: dict[str, Any]) -> None:
        with atomic_write(self.directory / MARKER) as handle:
            handle.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")

    def _build(self, words: Vocabulary, chars: Vocabulary) -> tuple[BiLM, Tagger]:
        word = self.experiment.model.embedder.word
        matrix = None
        if word.enabled and word.vectors:
            vectors = load_word_vectors(
                word.vectors, format=word.vectors_format, limit=word.max_vectors
            )
            if vectors.dim != word.dim:
                raise BionerError(
                    f"{word.vectors} has {vectors.dim}-dimensional vectors but the config says "
                    f"model.embedder.word.dim={word.dim}; add --set "
                    f"model.embedder.word.dim={vectors.dim} (the transferred tagger needs it)"
                )
            matrix, coverage = build_embedding_matrix(
                words.items,
                vectors,
                lowercase=word.lowercase,
                digits=word.normalize_digits,
                seed=self.settings.seed,
            )
            self.log(f"word vectors cover {coverage.found}/{coverage.total} words")
        model = BiLM(
            self.experiment.model,
            len(words),
            len(chars),
            self.settings.output_vocab - len(OUTPUT_SPECIALS) + 2,
            word_matrix=matrix,
            directions=self.settings.directions,
            lstm_init=self.settings.lstm_init,
        )
        tagger = Tagger(self.experiment, words, chars, {}, model.network)
        return model, tagger

    # --------------------------------------------------------------- batches
    def _encode(self, tagger: Tagger, sentences: Sequence[Sentence]) -> list[EncodedSentence]:
        return [
            EncodedSentence(s, tagger.words.ids(tagger.normalize(w) for w in s)) for s in sentences
        ]

    def _buffers(self, tagger: Tagger, epoch: int, first_buffer: int) -> Iterator[list[Batch]]:
        """Batches of consecutive `buffer_sentences`-line chunks of train.txt, shuffled
        within a chunk by a generator seeded from (seed, epoch, chunk): resumable exactly."""
        size = self.settings.buffer_sentences
        lines = read_sentences(self.directory / "data" / "train.txt", skip=first_buffer * size)
        index = first_buffer
        while True:
            chunk = [s for _, s in zip(range(size), lines, strict=False)]
            if not chunk:
                return
            rng = random.Random(self.settings.seed * 1_000_003 + epoch * 10_007 + index)
            yield list(
                tagger.batches(
                    self._encode(tagger, chunk),
                    batch_tokens=self.settings.batch_tokens,
                    bucket=True,
                    shuffle=True,
                    rng=rng,
                )
            )
            index += 1

    @torch.no_grad()
    def evaluate(self, model: BiLM, tagger: Tagger) -> dict[str, float]:
        """Held-out perplexity per trained direction."""
        was_training = model.training
        model.eval()
        totals: dict[str, list[float]] = {}
        sentences = list(read_sentences(self.directory / "data" / "heldout.txt"))
        device = next(model.parameters()).device
        for batch in tagger.batches(self._encode(tagger, sentences), batch_tokens=4000):
            batch = batch.to(device)
            for direction, (nll, count) in model.direction_nll(batch).items():
                total = totals.setdefault(direction, [0.0, 0])
                total[0] += float(nll)
                total[1] += count
        model.train(was_training)
        return {d: math.exp(nll / max(n, 1)) for d, (nll, n) in totals.items()}

    def _save_model(self, tagger: Tagger, record: dict[str, Any], perplexity: dict) -> None:
        tagger.meta = {
            "kind": "bilm",
            "directions": self.settings.directions,
            "heldout_perplexity": perplexity,
            "bilm_run": str(self.directory),
            "train_tokens": record["data"]["train_tokens"],
        }
        tagger.save(self.directory / "model", overwrite=True)

    # --------------------------------------------------------------- the loop
    def train(self, *, resume: bool = False) -> BiLMResult:
        device = select_device(self.settings.device)  # an unusable one fails before tokenizing
        record = self._setup(resume)
        settings = self.settings
        torch.set_num_threads(settings.threads)
        seed_everything(settings.seed)
        words, chars = load_vocab(self.directory)
        model, tagger = self._build(words, chars)
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        annealer = PlateauAnnealer(settings.anneal_factor, 0, 1e-7)
        stopper = EarlyStopping(settings.early_stopping_patience)
        checkpoints = self.directory / "checkpoint"
        state: dict[str, Any] = {
            "epoch": 0,
            "buffer": 0,
            "batch": 0,
            "step": 0,
            "tokens": 0,
            "seconds": 0.0,
            "best_score": None,
            "best_perplexity": None,
            "initial_perplexity": None,
        }
        if resume and checkpoint_exists(checkpoints):
            state = load_checkpoint(checkpoints, model, optimizer, shape=_RUN_STATE)
            annealer.load_state_dict(state["annealer"])
            stopper.load_state_dict(state["stopper"])
        log = MetricsLog(
            self.directory / "metrics.jsonl",
            fresh=not resume,
            keep_until_step=state["step"] if resume else None,
        )
        if state["initial_perplexity"] is None:
            state["initial_perplexity"] = self.evaluate(model, tagger)
            log.append({"step": 0, "epoch": 0, "heldout_perplexity": state["initial_perplexity"]})
            self.log(f"held-out perplexity before training: {_fmt(state['initial_perplexity'])}")
        train_tokens = record["data"]["train_tokens"]
        stopped = "max epochs"
        model.train()

        def evaluate_and_checkpoint(end_of_epoch: bool) -> bool:
            perplexity = self.evaluate(model, tagger)
            score = -sum(math.log(p) for p in perplexity.values()) / len(perplexity)
            if state["best_score"] is None or score > state["best_score"]:
                state["best_score"], state["best_perplexity"] = score, perplexity
                self._save_model(tagger, record, perplexity)
            stop = False
            if end_of_epoch:  # §3.3: anneal / stop on epoch-level plateaus
                lr_too_small = annealer.step(score, optimizer)
                stop = stopper.step(score, state["epoch"]) or lr_too_small
            entry = {
                "step": state["step"],
                "epoch": state["epoch"],
                "end_of_epoch": end_of_epoch,
                "tokens": state["tokens"],
                "heldout_perplexity": perplexity,
                "learning_rate": optimizer.param_groups[0]["lr"],
                "seconds": round(state["seconds"], 2),
            }
            log.append(entry)
            state["annealer"], state["stopper"] = annealer.state_dict(), stopper.state_dict()
            save_checkpoint(checkpoints, model, optimizer, state)
            self.log(f"step {state['step']}: held-out perplexity {_fmt(perplexity)}")
            return stop

        while state["epoch"] < settings.epochs and stopped == "max epochs":
            for batches in self._buffers(tagger, state["epoch"], state["buffer"]):
                for batch in batches[state["batch"] :]:
                    started = time.perf_counter()
                    batch = batch.to(device)
                    optimizer.zero_grad(set_to_none=True)
                    loss = model.loss(batch)
                    loss.backward()
                    clip_gradients(model.parameters(), settings.clip_grad_norm)
                    optimizer.step()
                    state["seconds"] += time.perf_counter() - started
                    state["batch"] += 1
                    state["step"] += 1
                    state["tokens"] += int(batch.lengths.sum())
                    if self.progress is not None:
                        done = state["tokens"] - state["epoch"] * train_tokens
                        self.progress(f"epoch {state['epoch'] + 1}", done, train_tokens)
                    if state["step"] % settings.eval_every == 0:
                        evaluate_and_checkpoint(False)
                    if settings.max_steps is not None and state["step"] >= settings.max_steps:
                        stopped = "max steps"
                        break
                if stopped != "max epochs":
                    break
                state["buffer"] += 1
                state["batch"] = 0
            if stopped != "max epochs":
                break
            state["epoch"] += 1
            state["buffer"] = state["batch"] = 0
            if evaluate_and_checkpoint(True):
                stopped = "early stopping"
        if stopped == "max steps" and state["step"] % settings.eval_every != 0:
            evaluate_and_checkpoint(False)
        seconds = state["seconds"]
        return BiLMResult(
            directory=self.directory,
            steps=state["step"],
            epochs_completed=state["epoch"],
            train_tokens_seen=state["tokens"],
            train_seconds=seconds,
            tokens_per_second=state["tokens"] / seconds if seconds else 0.0,
            initial_perplexity=state["initial_perplexity"],
            best_perplexity=state["best_perplexity"] or {},
            stopped_because=stopped,
        )


#: Settings a resumed run may change (how long to run, threads, device); the rest are the run's.
RESUME_SETTINGS = ("epochs", "max_steps", "threads", "device")


def _resume_overrides(settings: BiLMSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in RESUME_SETTINGS}


def read_run(directory: str | Path) -> tuple[dict[str, Any], ExperimentConfig, BiLMSettings]:
    """A run's bilm.json: the record, its tagger config and its settings. A missing or
    damaged one is a clear error (it is the only way to resume), not a traceback."""
    marker = Path(directory) / MARKER
    if not marker.is_file():
        raise BionerError(f"{directory}: no BiLM run to resume ({MARKER} missing)")
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        experiment = ExperimentConfig.model_validate(record["experiment"])
        settings = BiLMSettings(**record["settings"])
    except ValidationError as error:
        raise BionerError(
            format_validation_error(error, str(marker), model=ExperimentConfig, prefix="experiment")
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BionerError(f"{marker}: unreadable BiLM run record ({error})") from None
    return record, experiment, settings


def _fmt(perplexity: dict[str, float]) -> str:
    return ", ".join(f"{d} {p:.1f}" for d, p in perplexity.items())


def is_bilm_run(path: str | Path) -> bool:
    return (Path(path) / MARKER).is_file()
