"""Hyperparameter search with Optuna: a TOML search space, dev-F1 pruning, a resumable study.

The search space file names config keys (the same dotted keys as `--set`) and how to sample
each; `configs/search/deepvar-table4.toml` writes DeepVar Table 4 as a categorical grid:

    [params."model.encoder.hidden"]
    choices = [50, 100, 200]                 # categorical (the default kind)
    [params."training.learning_rate"]
    kind = "float"; low = 1e-4; high = 1e-2; log = true
    [params."model.embedder.char.widths"]
    choices = [3, 5, 7]; as_list = true      # the config field is a list: write [v]
    [params."training.optimizer".when.sgd]   # fixed values that come with one choice
    "training.momentum" = 0.9

Each trial trains on the corpus's train split and is scored on its devel split (the test
split is never read); dev F1 is reported after every epoch through the Trainer's `on_epoch`
callback, and Optuna's MedianPruner stops trials that trail the median of earlier trials at
the same epoch. The study lives in SQLite: rerunning the same command continues it until
`trials` trials have finished (completed or pruned); a trial that was running when the
process was killed or interrupted (Ctrl-C, SIGTERM) is marked failed and its parameters are
queued again. The study records what scores depend on (config, corpus, overrides, space,
epochs, sentence limits, start) and refuses to continue with other values, which would rank
trials scored differently against each other. Optuna does the sampling, pruning and storage;
this module only maps trials onto bioner configs and checks the space before any trial runs.

With `init_from` every trial starts from the same pretrained weights (a BiLM run or a trained
tagger, as `bioner train --init-from`), so the search tunes the fine-tuning of a transfer
recipe; only settings that change no weight's shape (learning rate, batches, dropouts, ...)
take effect there, since the copied layers keep the source's sizes. best_params.json records
the start, which best_config.json (a plain config) cannot hold.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioner.config import ExperimentConfig, load_config
from bioner.data.atomic import atomic_write
from bioner.data.formats.textio import read_text
from bioner.errors import BionerError
from bioner.training.config import apply_limits


@dataclass
class Param:
    """How to sample one config key."""

    key: str
    kind: str = "categorical"
    choices: list[Any] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    as_list: bool = False
    when: dict[str, dict[str, Any]] = field(default_factory=dict)


_PARAM_KEYS = {"kind", "choices", "low", "high", "log", "step", "as_list", "when"}
_RANGE_KEYS = ("low", "high", "log", "step")


def load_space(path: str | Path) -> list[Param]:
    """Read and check a search-space TOML file."""
    file = Path(path)
    try:
        data = tomllib.loads(read_text(file))
    except tomllib.TOMLDecodeError as error:
        raise BionerError(f"{file}: invalid TOML ({error})") from None
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise BionerError(f'{file}: no [params."<config key>"] tables')
    others = sorted(set(data) - {"params"})
    if others:
        raise BionerError(f'{file}: unknown tables {others}; only [params."<config key>"]')
    space: list[Param] = []
    for key, spec in params.items():
        if not isinstance(spec, dict):
            raise BionerError(f"{file}: params.{key} must be a table")
        unknown = set(spec) - _PARAM_KEYS
        if unknown:
            raise BionerError(f"{file}: params.{key}: unknown keys {sorted(unknown)}")
        if key.startswith("data."):
            raise BionerError(f"{file}: params.{key}: data settings cannot be tuned")
        problem = _spec_problem(spec)
        if problem:
            raise BionerError(f"{file}: params.{key}: {problem}")
        space.append(Param(key=key, **spec))
    return space


def _is_number(value: Any) -> bool:
    """A TOML integer or float; `true` is an int to Python but no bound."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _spec_problem(spec: dict[str, Any]) -> str | None:
    """What is wrong with one parameter's table, or None.

    Optuna checks ranges only when a trial samples them (a traceback, a failed trial in the
    study), and some mistakes it never sees: a non-integer bound or a `when` value that is
    not a choice would be silently rounded or never applied.
    """
    kind = spec.get("kind", "categorical")
    if kind not in ("categorical", "int", "float"):
        return "kind must be categorical, int or float"
    for flag in ("log", "as_list"):
        if not isinstance(spec.get(flag, False), bool):
            return f"'{flag}' must be true or false, got {spec[flag]!r}"
    when = spec.get("when", {})
    if not isinstance(when, dict) or not all(isinstance(v, dict) for v in when.values()):
        return "'when' must hold one table of config values per choice"
    if kind == "categorical":
        misplaced = [name for name in _RANGE_KEYS if name in spec]
        if misplaced:
            return f"{misplaced} apply to kind int or float, not to categorical choices"
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            return "categorical needs a non-empty 'choices' list"
        if not all(isinstance(c, str | int | float) for c in choices):
            return "choices must be strings, numbers or booleans"
        unused = sorted(set(when) - {str(c) for c in choices})
        if unused:
            return f"'when' names {unused}, which are not among the choices"
        return None
    if "choices" in spec:
        return f"'choices' applies to categorical, not to kind {kind}"
    if when:
        return "'when' applies to categorical choices only"
    integer = kind == "int"
    for name in ("low", "high", "step"):
        value = spec.get(name)
        valid = _is_number(value) and (not integer or isinstance(value, int))
        if value is not None and not valid:
            return f"'{name}' must be {'an integer' if integer else 'a number'}, got {value!r}"
    if "low" not in spec or "high" not in spec:
        return f"{kind} needs 'low' and 'high'"
    low, high, step = spec["low"], spec["high"], spec.get("step")
    if low > high:
        return f"'low' ({low}) is above 'high' ({high})"
    if spec.get("log") and low <= 0:
        return f"a log scale needs 'low' above 0, got {low}"
    if step is not None and step <= 0:
        return f"'step' must be above 0, got {step}"
    if spec.get("log") and step is not None and not (integer and step == 1):
        return "'step' and 'log' cannot be combined"
    return None


def suggest(trial: Any, space: list[Param]) -> dict[str, Any]:
    """The trial's config values: dotted key → value (including `when` companions)."""
    values: dict[str, Any] = {}
    for param in space:
        if param.kind == "categorical":
            value = trial.suggest_categorical(param.key, param.choices)
        elif param.kind == "int":
            value = trial.suggest_int(
                param.key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log
            )
        else:
            value = trial.suggest_float(
                param.key, float(param.low), float(param.high), step=param.step, log=param.log
            )
        values[param.key] = [value] if param.as_list else value
        values.update(param.when.get(str(value), {}))
    return values


def as_overrides(values: dict[str, Any]) -> list[str]:
    """`--set`-style assignments (JSON literals are valid TOML values for these types)."""
    return [f"{key}={json.dumps(value)}" for key, value in values.items()]


@dataclass
class TuneSettings:
    config: str
    corpus: str
    space: str
    trials: int
    storage: Path
    output: Path
    study_name: str = "bioner"
    overrides: list[str] = field(default_factory=list)
    epochs: int | None = None
    max_train_sentences: int | None = None
    max_dev_sentences: int | None = None
    seed: int = 0
    startup_trials: int = 5
    warmup_epochs: int = 1
    threads: int | None = None
    quiet: bool = False
    init_from: str | None = None
    init_directions: str = "both"


def _experiment(settings: TuneSettings, values: dict[str, Any]) -> ExperimentConfig:
    sampled = as_overrides(values)
    experiment = load_config(
        settings.config,
        [*settings.overrides, *sampled],
        origins={assignment: f"sampled {assignment}" for assignment in sampled},
    )
    experiment.data.corpus = settings.corpus
    apply_limits(
        experiment.training,
        epochs=settings.epochs,
        max_train_sentences=settings.max_train_sentences,
        threads=settings.threads,
    )
    experiment.training.seed = settings.seed
    return experiment


def _check_values(settings: TuneSettings, space: list[Param]) -> None:
    """Try every choice (and both ends of every range) on the config before the study exists.

    A misspelt key or a value of the wrong type otherwise failed the first trial to sample it,
    with a traceback, a failed trial left in the study and a message that blamed the preset.
    """
    for param in space:
        if param.kind == "categorical":
            candidates = param.choices
        else:
            cast = int if param.kind == "int" else float
            candidates = [cast(param.low), cast(param.high)]
        for value in candidates:
            values = {param.key: [value] if param.as_list else value}
            values.update(param.when.get(str(value), {}))
            try:
                _experiment(settings, values)
            except BionerError as error:
                raise BionerError(
                    f"{settings.space}: params.{param.key} = {value!r}: {error}"
                ) from None


def _fingerprint(settings: TuneSettings, space: list[Param]) -> dict[str, Any]:
    """What a trial's score depends on: a study continued with other values would rank
    trials that were scored differently (or sampled from another space) against each other."""

    def resolved(path: str | None) -> str | None:
        return str(Path(path).resolve()) if path and Path(path).exists() else path

    return json.loads(
        json.dumps(
            {
                "config": resolved(settings.config),
                "corpus": resolved(settings.corpus),
                "overrides": settings.overrides,
                "space": [asdict(param) for param in space],
                "epochs": settings.epochs,
                "max_train_sentences": settings.max_train_sentences,
                "max_dev_sentences": settings.max_dev_sentences,
                "init_from": resolved(settings.init_from),
                "init_directions": settings.init_directions if settings.init_from else None,
            }
        )
    )


_SETTINGS_ATTR = "bioner_settings"


def _check_same_settings(study: Any, settings: TuneSettings, fingerprint: dict[str, Any]) -> None:
    """Refuse to continue a study that was started with other settings; record them if new."""
    recorded = study.user_attrs.get(_SETTINGS_ATTR)
    if recorded is None:
        study.set_user_attr(_SETTINGS_ATTR, fingerprint)
        return
    changed = [key for key in fingerprint if recorded.get(key) != fingerprint[key]]
    if changed:
        raise BionerError(
            f"{settings.storage}: study {settings.study_name!r} was run with other settings "
            f"(changed: {', '.join(changed)}); rerun with the same ones to continue it, "
            "or give another --study-name or --storage"
        )


def _recover_interrupted(study: Any, trials: Path) -> None:
    """Trials left RUNNING by a killed process: mark failed, queue their parameters again,
    and delete their half-trained run folders under `trials` (a killed process could not)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params)
        shutil.rmtree(trials / f"trial-{trial.number}", ignore_errors=True)


class _Stopped(BaseException):
    """Carries Ctrl-C or SIGTERM past Optuna, which records any trial that raises as failed.

    The trial is left RUNNING instead, so the next run queues its parameters again, as it
    does for a killed process, and no traceback is logged for it.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def run_study(
    settings: TuneSettings, interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt,)
) -> dict[str, Any]:
    """Run (or continue) the study; write best_params.json and best_config.json.

    `interrupts` are the exceptions that mean the user stopped the run (the CLI adds its
    SIGTERM error), not that a trial failed: they propagate once the trial is left resumable.
    """
    import optuna
    from optuna.trial import TrialState

    from bioner.data.corpus import load_corpus
    from bioner.experiments.runner import first_sentences
    from bioner.pretraining.bilm_transfer import checked_start, tagger_from_pretrained
    from bioner.tagger import Tagger
    from bioner.training.data import load_splits
    from bioner.training.trainer import Trainer

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(settings.space)
    if settings.init_from:  # a bad start fails here, not as a failed trial in the study
        checked_start(settings.init_from, settings.init_directions)
    base = _experiment(settings, {})
    _check_values(settings, space)
    corpus = load_corpus(settings.corpus, base.data.format)
    # Hold out part of train only when there is no devel split: an empty devel file is a
    # mistake to report, not a reason to score on training documents instead.
    if base.data.dev_fraction == 0.0 and "devel" not in corpus.splits:
        base.data.dev_fraction = 0.1
    splits = load_splits(base.data)
    dev = first_sentences(splits.dev, settings.max_dev_sentences)
    if not dev:
        where = corpus.files.get("devel", settings.corpus)
        raise BionerError(f"{where}: no dev documents to tune on")
    settings.output.mkdir(parents=True, exist_ok=True)
    settings.storage.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=settings.study_name,
        storage=f"sqlite:///{settings.storage.resolve()}",
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_epochs
        ),
    )
    _check_same_settings(study, settings, _fingerprint(settings, space))
    _recover_interrupted(study, settings.output / "trials")

    def objective(trial: optuna.Trial) -> float:
        try:
            return score(trial)
        except interrupts as error:
            raise _Stopped(error) from error

    def score(trial: optuna.Trial) -> float:
        values = suggest(trial, space)
        experiment = _experiment(settings, values)
        experiment.data = base.data
        if settings.init_from:
            tagger = tagger_from_pretrained(
                settings.init_from,
                experiment,
                {"default": splits.train},
                directions=settings.init_directions,  # type: ignore[arg-type]
            )
        else:
            tagger = Tagger.build(experiment, {"default": splits.train})
        run_dir = settings.output / "trials" / f"trial-{trial.number}"
        shutil.rmtree(run_dir, ignore_errors=True)

        def report(record: dict[str, Any]) -> None:
            if "dev_f1" in record:
                trial.report(record["dev_f1"], record["epoch"])
                if trial.should_prune():
                    raise optuna.TrialPruned()

        try:
            result = Trainer(
                tagger,
                {"default": splits.train},
                {"default": dev},
                run_dir,
                show_progress=False,
                on_epoch=report,
            ).train()
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        return result.best_dev_f1

    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    remaining = max(settings.trials - done, 0)
    if remaining:
        try:
            study.optimize(objective, n_trials=remaining, show_progress_bar=not settings.quiet)
        except _Stopped as stopped:
            raise stopped.error from None
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise BionerError("no trial completed; nothing to report")
    best = study.best_trial
    values = suggest(optuna.trial.FixedTrial(best.params), space)
    summary = {
        "study": settings.study_name,
        "storage": str(settings.storage),
        "best_trial": best.number,
        "best_dev_f1": best.value,
        "params": best.params,
        "overrides": as_overrides(values),
        "init_from": settings.init_from,
        "init_directions": settings.init_directions if settings.init_from else None,
        "trials": {
            state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
            for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        },
    }
    with atomic_write(settings.output / "best_params.json") as handle:
        handle.write(json.dumps(summary, indent=2))
    # The preset's own epochs and data sizes, not the shrunken ones the search ran with.
    best_config = load_config(settings.config, [*settings.overrides, *as_overrides(values)])
    best_config.data.corpus = settings.corpus
    with atomic_write(settings.output / "best_config.json") as handle:
        handle.write(best_config.model_dump_json(indent=2))
    return summary
