"""Builds the `bioner` Typer app and turns user errors into one clear line, not a traceback.

Each subcommand module exposes either `register(app)` or a Typer sub-app; they are wired
here, in one place, so that the command tree is easy to read.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape

from bioner.errors import BionerError

app = typer.Typer(
    name="bioner",
    help="Biomedical named-entity recognition: annotate, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Biomedical named-entity recognition: annotate, train, evaluate."""


_registered = False


def _register_commands() -> None:
    """Wire every subcommand once (imports are deferred so `import bioner` stays light)."""
    global _registered
    if _registered:
        return
    _registered = True
    from bioner.cli import corpus, evaluate, experiment, predict, pretrain, train, tune

    app.add_typer(corpus.app, name="corpus")
    app.add_typer(pretrain.app, name="pretrain")
    app.command("train")(train.train_command)
    app.command("evaluate")(evaluate.evaluate_command)
    app.command("predict")(predict.predict_command)
    from bioner.cli import annotate, serve

    app.command("annotate")(annotate.annotate_command)
    app.command("serve")(serve.serve_command)
    app.add_typer(experiment.app, name="experiment")
    app.command("tune")(tune.tune_command)


class TerminatedError(BaseException):
    """SIGTERM, raised where the program is so that cleanup code runs on the way out.

    A BaseException, like KeyboardInterrupt: the signal lands wherever the main thread is,
    often inside a library's `except Exception` (a cluster library logged it as an internal error
    and went on annotating; Ray startup turned it into "could not start Ray"), which must not
    swallow it. `finally` blocks and `except BaseException: ...; raise` still clean up.
    """


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise TerminatedError


def _interrupted(exiting: SystemExit) -> bool:
    """Whether the exit is Typer's answer to a KeyboardInterrupt in a command."""
    cause = exiting.__context__
    return exiting.code == 130 and isinstance(getattr(cause, "__cause__", None), KeyboardInterrupt)


def main() -> None:
    """Console entry point: runs the app, reporting BionerError as `error: ...` + exit 2.

    SIGTERM (e.g. from a job scheduler) unwinds like Ctrl-C, so worker processes are stopped
    and half-written outputs are removed instead of left behind.
    """
    _register_commands()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app()
    except BionerError as error:
        # Escaped: a message may quote `[section]` names or paths that rich would eat as markup.
        _err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        _err.print("interrupted")
        sys.exit(130)
    except SystemExit as exiting:
        # Typer turns Ctrl-C inside a command into a silent exit 130; say it, as SIGTERM is.
        if _interrupted(exiting):
            _err.print("interrupted")
        raise
    except TerminatedError:
        _err.print("terminated")
        sys.exit(143)
