"""Training settings: one validated `TrainingConfig`, and readable messages when it is wrong.

A training run is reproducible only if every knob is written down, so all of them live in one
pydantic model that rejects unknown keys (a typo such as `lr` must not silently fall back to a
default) and ill-typed values (`"10"` is not an epoch count). `format_validation_error` turns
pydantic's error list into one paragraph naming the file and the offending keys; the caller
raises `bioner.errors.BionerError` with it.

Paper sources of the settings:
- Saber (Giorgi & Bader 2019) Table 2: Nadam (Dozat 2016), gradient-norm clipping Γ = 1,
  mini-batch 32, 50 epochs.
- DeepVar Table 4: SGD (momentum 0.9, Nesterov) / RMSprop / Adam, lr 1e-4, clipnorm 1.0,
  batch size 32-128, 100 epochs with early stopping.
- BioNerFlair §3.1: SGD lr 0.1, anneal factor 0.5 on plateau with patience 3, batch 32.
- Sachan et al. §3.2: Adam, lr × 0.5 on plateau, early stopping after 3 epochs without
  improvement, L2 gradient clipping at 1.0, dynamic batches of 500 / 1,000 words.
- Lyu et al.: AdaGrad, initial lr 0.01, L2 regularization 1e-8.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

OptimizerName = Literal["sgd", "adam", "nadam", "rmsprop", "adagrad"]
DeviceName = Literal["auto", "cpu", "cuda"]

_DEFAULT_BATCH_SIZE = 32

PositiveInt = Annotated[int, Field(ge=1)]


class TrainingConfig(BaseModel):
    """Every setting of a training run. Unknown keys and ill-typed values are rejected."""

    # inf and nan are never meaningful settings (`--set training.learning_rate=inf` would
    # train to NaN weights), so they are rejected like any other ill-typed value.
    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )

    # --- optimizer -------------------------------------------------------------------------
    optimizer: OptimizerName = Field(
        "nadam",
        description="Update rule. Saber Table 2: Nadam; DeepVar Table 4: SGD / RMSprop / Adam; "
        "BioNerFlair §3.1: SGD; Sachan §3.2: Adam; Lyu et al.: AdaGrad.",
    )
    learning_rate: float = Field(
        0.002,
        gt=0.0,
        description="Initial learning rate. Default 0.002 = Nadam as in Dozat (2016), which "
        "Saber follows; BioNerFlair 0.1 (SGD); DeepVar 1e-4; Lyu et al. 0.01 (AdaGrad).",
    )
    momentum: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Momentum for SGD and RMSprop (DeepVar §4.3: SGD momentum 0.9).",
    )
    nesterov: bool = Field(False, description="Nesterov momentum, SGD only (DeepVar §4.3 uses it).")
    weight_decay: float = Field(
        0.0,
        ge=0.0,
        description="L2 penalty added to the gradient (Lyu et al.: regularization 1e-8).",
    )
    betas: tuple[float, float] = Field(
        (0.9, 0.999),
        description="Adam / Nadam moment decay rates (Kingma & Ba 2014; Dozat 2016).",
    )
    eps: float = Field(1e-8, gt=0.0, description="Numerical-stability term of adaptive rules.")
    rmsprop_alpha: float = Field(
        0.9,
        gt=0.0,
        lt=1.0,
        description="RMSprop squared-gradient decay (rho); 0.9 is the Keras default that "
        "DeepVar, a Keras model, trained with.",
    )
    clip_grad_norm: float | None = Field(
        1.0,
        gt=0.0,
        description="Rescale gradients whose total L2 norm exceeds this (Saber Table 2: Γ = 1; "
        "DeepVar clipnorm 1.0; Sachan §3.2: 1.0). None disables clipping.",
    )

    # --- data ------------------------------------------------------------------------------
    epochs: PositiveInt = Field(50, description="Maximum epochs (Saber: 50; DeepVar: 100).")
    batch_size: PositiveInt | None = Field(
        None,
        description="Sentences per mini-batch (Saber, DeepVar, BioNerFlair: 32). Defaults to "
        f"{_DEFAULT_BATCH_SIZE} when batch_tokens is not given; exactly one of the two is set.",
    )
    batch_tokens: PositiveInt | None = Field(
        None,
        description="Token budget per mini-batch instead of a sentence count (Sachan §3.2: "
        "dynamic batches of 500 words for LM pretraining, 1,000 for NER).",
    )
    bucket_by_length: bool = Field(
        True, description="Group sentences of similar length into batches to reduce padding."
    )
    shuffle: bool = Field(True, description="Shuffle batches every epoch.")
    max_train_sentences: PositiveInt | None = Field(
        None, description="Use only the first N training sentences (learning curves)."
    )
    multitask_sampling: Literal["sequential", "proportional", "temperature"] = Field(
        "sequential",
        description="How a multi-corpus epoch visits its corpora: 'sequential' = each corpus "
        "once, in random order (Saber §2.7); 'proportional' = all batches interleaved at "
        "random; 'temperature' = each step draws a corpus with p ∝ size^(1/T).",
    )
    sampling_temperature: float = Field(
        1.0, gt=0.0, description="T of 'temperature' sampling (1 = proportional, large = uniform)."
    )
    selection_heads: list[str] | None = Field(
        None,
        min_length=1,
        description="Heads (corpus folder names) whose mean dev F1 picks the best epoch and "
        "drives early stopping and annealing; only they are scored on dev. None = every head. "
        "A multi-task run that serves one target corpus names that corpus, so a partner "
        "corpus shapes the shared layers without choosing the model.",
    )

    # --- schedule --------------------------------------------------------------------------
    early_stopping_patience: PositiveInt | None = Field(
        None,
        description="Stop after this many evaluations without a dev-F1 improvement (Sachan "
        "§3.2: 3; DeepVar: early stopping). None trains for all epochs.",
    )
    anneal_factor: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="Multiply the lr by this on a dev-F1 plateau (BioNerFlair §3.1 and Sachan "
        "§3.2: 0.5). None disables annealing.",
    )
    anneal_patience: int = Field(
        3,
        ge=0,
        description="Evaluations without improvement tolerated before annealing; the next one "
        "anneals, as in Flair, which BioNerFlair §3.1 used with patience 3.",
    )
    min_learning_rate: float = Field(
        1e-4,
        ge=0.0,
        description="Stop training once annealing takes the lr below this (Flair's default).",
    )
    eval_every_epochs: PositiveInt = Field(1, description="Evaluate on dev every N epochs.")

    # --- runtime ---------------------------------------------------------------------------
    seed: int = Field(
        42, ge=0, lt=2**32, description="Seed for Python, NumPy and torch (numpy needs < 2**32)."
    )
    device: DeviceName = Field("auto", description="'auto' picks CUDA when available.")
    num_threads: PositiveInt | None = Field(
        None, description="torch intra-op CPU threads; None keeps torch's default."
    )
    memo_frozen_embeddings: bool = Field(
        True,
        description="Compute frozen contextual string embeddings once per sentence and keep "
        "them for the run (Flair's embeddings_storage_mode); memory grows with the corpus.",
    )

    @field_validator("betas", mode="before")
    @classmethod
    def _betas_from_list(cls, value: Any) -> Any:
        """JSON has no tuples: accept a two-element list."""
        return tuple(value) if isinstance(value, list) else value

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= beta < 1.0 for beta in value):
            raise ValueError("each beta must be in [0, 1)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_batch_size(cls, data: Any) -> Any:
        """Fill batch_size=32 only when neither batch_size nor batch_tokens is given."""
        if isinstance(data, dict) and "batch_size" not in data and "batch_tokens" not in data:
            data = {**data, "batch_size": _DEFAULT_BATCH_SIZE}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if (self.batch_size is None) == (self.batch_tokens is None):
            raise ValueError("set exactly one of batch_size and batch_tokens")
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(f"nesterov applies to optimizer 'sgd' only, not {self.optimizer!r}")
        if self.nesterov and self.momentum <= 0.0:
            raise ValueError("nesterov needs momentum > 0")
        if self.anneal_factor is not None and self.learning_rate < self.min_learning_rate:
            raise ValueError(
                f"learning_rate {self.learning_rate} is already below min_learning_rate "
                f"{self.min_learning_rate}: annealing would stop training at once"
            )
        return self


# Common spellings from other toolkits, for "did you mean" hints.
_ALIASES: dict[str, str] = {
    "lr": "learning_rate",
    "learningrate": "learning_rate",
    "initial_learning_rate": "learning_rate",
    "optim": "optimizer",
    "optimiser": "optimizer",
    "clip": "clip_grad_norm",
    "clipnorm": "clip_grad_norm",
    "grad_clip": "clip_grad_norm",
    "gradient_clipping": "clip_grad_norm",
    "max_grad_norm": "clip_grad_norm",
    "patience": "early_stopping_patience",
    "num_epochs": "epochs",
    "max_epochs": "epochs",
    "n_epochs": "epochs",
    "batchsize": "batch_size",
    "mini_batch_size": "batch_size",
    "l2": "weight_decay",
    "decay": "weight_decay",
    "epsilon": "eps",
    "rho": "rmsprop_alpha",
    "threads": "num_threads",
    "min_lr": "min_learning_rate",
    "annealing_factor": "anneal_factor",
}

_MAX_INPUT_CHARS = 60


def _search_annotation(annotation: Any, found_in: Callable[[Any], Any]) -> Any:
    """`found_in(annotation)`, else the first hit among the members of a union or Annotated."""
    found = found_in(annotation)
    if found is None and get_origin(annotation) in (Union, UnionType, Annotated):
        for arg in get_args(annotation):
            found = _search_annotation(arg, found_in)
            if found is not None:
                break
    return found


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Sub | None`, if any."""
    return _search_annotation(
        annotation, lambda a: a if isinstance(a, type) and issubclass(a, BaseModel) else None
    )


def _fields_at(model: type[BaseModel], parent: Sequence[int | str]) -> list[str]:
    """Field names of the (sub)model that `parent` points into; [] if it cannot be resolved."""
    current: type[BaseModel] | None = model
    for part in parent:
        if current is None:
            return []
        if isinstance(part, int):
            continue  # a list index: stay on the item model
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _nested_model(field.annotation)
    return list(current.model_fields) if current is not None else []


def _annotation_at(model: type[BaseModel], loc: Sequence[int | str]) -> Any:
    """The annotation of the field that `loc` names (list indexes skipped); None if unknown."""
    annotation: Any = None
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current is not None else None
        if field is None:
            return None
        annotation = field.annotation
        current = _nested_model(annotation)
    return annotation


def _tuple_length(annotation: Any) -> int | None:
    """N for a fixed-length `tuple[T1, ..., TN]` (also inside `| None`), else None."""

    def fixed_length(candidate: Any) -> int | None:
        args = get_args(candidate)
        if get_origin(candidate) is tuple and args and Ellipsis not in args:
            return len(args)
        return None

    return _search_annotation(annotation, fixed_length)


def _tuple_size_error(model: type[BaseModel], loc: tuple[int | str, ...], kind: str) -> int | None:
    """N when the error is a fixed-length tuple field given other than N values, else None.

    Pydantic reports each absent item as a missing key (`betas.1`), extra items as
    `too_long` and a scalar as `tuple_type`; all of them mean "needs N values".
    """
    if kind == "missing" and loc and isinstance(loc[-1], int):
        return _tuple_length(_annotation_at(model, loc[:-1]))
    if kind in ("too_short", "too_long", "tuple_type"):
        return _tuple_length(_annotation_at(model, loc))
    return None


def _suggest(key: str, candidates: Iterable[str]) -> str | None:
    names = list(candidates)
    alias = _ALIASES.get(key.lower().replace("-", "_"))
    if alias in names:
        return alias
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _show_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_CHARS else text[: _MAX_INPUT_CHARS - 3] + "..."


def flat_settings(model: BaseModel, section: str) -> dict[str, Any]:
    """A config section's settings as flat JSON values, `section.key.subkey` → value: what two
    runs compare to say which settings differ."""
    flat: dict[str, Any] = {}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{key}.{name}")
        else:
            flat[key] = value

    walk(model.model_dump(mode="json"), section)
    return flat


def validation_issues(
    error: ValidationError,
    *,
    model: type[BaseModel] | None = None,
    prefix: str = "",
) -> list[tuple[tuple[int | str, ...], str]]:
    """Each distinct problem in `error` as (location in the validated data, readable text).

    The location lets a caller say where the offending value came from (a config file or a
    `--set` on the command line, see `bioner.config.load_config`); the text names the full
    key, and a "did you mean" hint names the full key too, so it can be typed as given.
    `model` and `prefix` are as in `format_validation_error`.
    """
    root = model or TrainingConfig
    head: tuple[str, ...] = (prefix,) if prefix else ()
    issues: list[tuple[tuple[int | str, ...], str]] = []
    for item in error.errors(include_url=False):
        loc = tuple(item.get("loc", ()))
        kind = item.get("type", "")
        length = _tuple_size_error(root, loc, kind)
        if length is not None and kind == "missing":
            loc = loc[:-1]  # name the tuple, not its first absent item ('betas', not 'betas.1')
        path = ".".join(str(part) for part in head + loc)
        if length is not None:
            given = item.get("input")  # shown as the list that TOML and JSON spell
            shown = _show_input(list(given) if isinstance(given, tuple) else given)
            issue = f"'{path}': needs {length} values (got {shown})"
        elif kind == "extra_forbidden":
            hint = _suggest(str(loc[-1]), _fields_at(root, loc[:-1])) if loc else None
            issue = f"unknown key '{path}'"
            if hint:
                full_hint = ".".join(str(part) for part in (*head, *loc[:-1], hint))
                issue += f" (did you mean '{full_hint}'?)"
        elif kind == "missing":
            issue = f"missing key '{path}'"
        else:
            message = str(item.get("msg", "invalid value"))
            message = message.removeprefix("Value error, ")
            where = f"'{path}': " if path else ""
            shown = f" (got {_show_input(item['input'])})" if "input" in item and loc else ""
            issue = f"{where}{message}{shown}"
        if all(issue != known for _, known in issues):  # a tuple's missing items repeat it
            issues.append((loc, issue))
    return issues


def format_validation_error(
    error: ValidationError,
    source: str,
    *,
    model: type[BaseModel] | None = None,
    prefix: str = "",
) -> str:
    """One paragraph naming `source` and every offending key, with "did you mean" hints.

    `model` is the class that was validated (for hints on nested models; defaults to
    `TrainingConfig`); `prefix` is prepended to every key, e.g. "training" when the caller
    validated only the `training` section of a larger file.
    """
    issues = validation_issues(error, model=model, prefix=prefix)
    return f"{source}: " + "; ".join(issue for _, issue in issues)


def apply_limits(
    training: TrainingConfig,
    *,
    epochs: int | None = None,
    max_train_sentences: int | None = None,
    threads: int | None = None,
) -> None:
    """Shrink a run to fit a CPU: set each limit that is given, leave the others alone."""
    if epochs is not None:
        training.epochs = epochs
    if max_train_sentences is not None:
        training.max_train_sentences = max_train_sentences
    if threads is not None:
        training.num_threads = threads
