"""The command line: argparse → engine → output; exceptions become exit codes here, and only here."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from reconciler import engine, envrefs, fields
from reconciler.buddy import settings
from reconciler.cli import args as cliargs
from reconciler.cli import internal, validateout
from reconciler.cli.args import build_parser
from reconciler.cli.signals import INTERRUPTED_EXIT, stop_on_signals
from reconciler.errors import (
    ApplyCancelled,
    InterruptedBeforeChanges,
    ReconcilerError,
    UsageError,
    ValidationFailed,
)
from reconciler.redact import RedactingStream, Redactor

# The client (httpx), the plan modules, the terminal views and the plan's renderer are imported by the
# commands that need them, when they run: `validate` (the pre-commit hook) starts without them.
if TYPE_CHECKING:
    from reconciler.apply import ApplyReport
    from reconciler.buddy.client import BuddyClient
    from reconciler.model import DesiredPipeline
    from reconciler.plan.plan import Plan

__all__ = ["INTERRUPTED_EXIT", "build_parser", "main"]

log = logging.getLogger("reconciler")

# -- plumbing ---------------------------------------------------------------------------------------


def _setup_logging(args: argparse.Namespace, err: TextIO) -> None:
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING
    if getattr(args, "quiet", False):
        level = logging.ERROR
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class _LineHandler(logging.Handler):
    """Log records as lines handed to a callable (a terminal view prints them above its bar)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except Exception:  # a log line must never break the command: logging's own fallback
            self.handleError(record)


@contextlib.contextmanager
def _logs_through(view: object) -> Iterator[None]:
    """While a terminal view draws a status line or a bar, log lines go through it (written straight
    to stderr they would tear the bar apart); other views leave logging as it is."""
    write = getattr(view, "log", None)
    root = logging.getLogger("reconciler")
    if write is None or not root.handlers:
        yield
        return
    previous = root.handlers[:]
    handler = _LineHandler(write)
    handler.setFormatter(previous[0].formatter)
    root.handlers[:] = [handler]
    try:
        yield
    finally:
        root.handlers[:] = previous


Notice = Callable[[str], None]


def _new_client(
    url: str,
    token: str,
    args: argparse.Namespace,
    target: str | None = None,
    notice: Notice | None = None,
    stop: threading.Event | None = None,
) -> BuddyClient:
    """The client, with BUDDY_TIMEOUT and BUDDY_MAX_RATE_LIMIT_WAIT; its notices go to ``notice``
    (the apply view), else to stderr (the log); a set ``stop`` (Ctrl-C) cuts its rate-limit waits short."""
    from reconciler.buddy.client import BuddyClient, ClientSettings, RetryPolicy

    wait = settings.parse_max_rate_limit_wait(os.environ.get("BUDDY_MAX_RATE_LIMIT_WAIT"))
    timeout = settings.parse_timeout(os.environ.get("BUDDY_TIMEOUT"))
    knobs = ClientSettings(
        timeout=timeout, parallelism=args.parallelism, retry=RetryPolicy(max_wait=wait), target=target
    )
    return BuddyClient(
        url, token, knobs, notice=notice or log.warning, redactor=getattr(args, "redactor", None), stop=stop
    )


def _register_secrets(args: argparse.Namespace, bodies: Iterable[Mapping[str, Any] | None]) -> None:
    """Tell the CLI's redactor the values of the variables that write-only fields reference, so that
    no output shows one, whoever echoes it."""
    redactor: Redactor | None = getattr(args, "redactor", None)
    if redactor is None:
        return
    for body in bodies:
        for name, value in (body or {}).items():
            for _parts, item in fields.write_only_values(name, value):
                if isinstance(item, str):
                    redactor.add(*(os.environ.get(ref.name, "") for ref in envrefs.find_refs(item)))


@contextlib.contextmanager
def _client(
    args: argparse.Namespace,
    paths: Sequence[str],
    pipelines: Sequence[DesiredPipeline] = (),
    notice: Notice | None = None,
    stop: threading.Event | None = None,
) -> Iterator[BuddyClient]:
    """A client for Buddy, or for the built-in simulator with ``--sandbox``."""
    _register_secrets(args, (a.fields for p in pipelines for a in p.actions))
    if args.sandbox:
        from reconciler.cli import sandbox as sandbox_session

        if args.base_url or args.region:
            flag = "--base-url" if args.base_url else "--region"
            raise UsageError(f"{flag} names a Buddy API, --sandbox the built-in simulator: give one of the two")

        with (
            sandbox_session.open_sandbox(
                state_file=Path(args.sandbox_state),
                seed=args.sandbox_seed,
                reset=args.sandbox_reset,
                paths=paths,
                pipelines=pipelines,
            ) as (url, token),
            _new_client(
                url, token, args, target=f"sandbox:{Path(args.sandbox_state).resolve()}", notice=notice, stop=stop
            ) as client,
        ):
            yield client
        return
    token = settings.require_token(os.environ.get("BUDDY_TOKEN"))
    with _new_client(cliargs.base_url(args), token, args, notice=notice, stop=stop) as client:
        yield client


def _connect(
    args: argparse.Namespace, paths: Sequence[str], notice: Notice | None = None, stop: threading.Event | None = None
) -> engine.Connect:
    """The engine's client factory for these arguments (Buddy, or the sandbox with ``--sandbox``)."""
    return lambda pipelines: _client(args, paths, pipelines, notice, stop)


def _is_terminal(stream: TextIO) -> bool:
    """Whether to colour ``stream``: a terminal, and NO_COLOR unset."""
    from reconciler.cli import console

    return console.is_terminal(stream) and not os.environ.get("NO_COLOR")


# -- commands ---------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = engine.validate(cliargs.paths(args))
    if args.verbose:
        for skipped in result.skipped:
            err.write(f"skipped (not a config file): {skipped}\n")
    elif result.skipped and not args.quiet:
        err.write(validateout.skipped_note(result.skipped) + "\n")
    problems = result.problems
    if args.quiet:
        problems = [p for p in problems if p.severity == "error"]
    if args.format == "json":
        validateout.write_problems_json(problems, out, files=len(result.files))
    elif problems or not args.quiet:
        validateout.write_problems(problems, out, files=len(result.files), fmt=args.format)
    return 0 if result.ok else 1


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.config.schema import standalone_text

    out.write(standalone_text(args.which))
    return 0


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.cli import console
    from reconciler.plan.planfile import write_plan_file

    paths = cliargs.paths(args)
    # on a terminal, a status line while live state is read
    with console.view_for(err, quiet=args.quiet) as view, _logs_through(view):
        view.reading("reading live state…")
        plan = engine.plan(
            _connect(args, paths, view.notice), paths, cliargs.plan_options(args), cliargs.targeting(args)
        )
    if plan.skipped_files and not args.quiet:
        err.write(validateout.skipped_note(plan.skipped_files) + "\n")
    if args.out:
        write_plan_file(plan, Path(args.out))
    from reconciler.cli.showcmd import write_plan

    write_plan(plan, args.format, out, color=_is_terminal(out), quiet=args.quiet)
    if plan.errors:
        return 1
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0


def cmd_apply(args: argparse.Namespace, out: TextIO, err: TextIO, inp: TextIO | None = None) -> int:
    """The plan first (flushed, before any write), the question on a terminal, progress, the summary;
    the first SIGINT or SIGTERM stops starting changes (exit 130)."""
    writing = threading.Event()  # set right before the first write: from then on a signal only stops
    with stop_on_signals(err, writing, final=getattr(args, "final", False)) as stop:
        return _apply(args, out, err, stop, inp, writing)


def _check_saved_plan_args(args: argparse.Namespace, targeting: object) -> None:
    """``apply --plan FILE`` takes nothing that would have changed the plan it applies."""
    if targeting is not None:
        raise UsageError("--target/--exclude go with `apply PATH…`; a saved plan keeps the patterns it was made with")
    if args.paths:
        raise UsageError(
            f"apply --plan applies exactly the saved plan and takes no PATH (got {' '.join(args.paths)}); "
            "run either `reconcile apply PATH…` or `reconcile apply --plan FILE`"
        )
    given = [
        flag
        for flag, on in (("--prune", args.prune), ("--update-secrets", args.update_secrets), ("--dedupe", args.dedupe))
        if on
    ]
    if given:
        raise UsageError(
            f"{given[0]} changes what is planned: give it to `reconcile plan --out`; apply --plan applies the "
            "saved plan as it was made"
        )


def _apply(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    stop: threading.Event,
    inp: TextIO | None,
    writing: threading.Event,
) -> int:
    from reconciler import render
    from reconciler.cli import console
    from reconciler.plan.options import ApplyOptions
    from reconciler.plan.planfile import read_plan_file

    options = cliargs.plan_options(args)
    color = _is_terminal(out)
    asking = not args.auto_approve and console.is_terminal(inp)
    view = console.view_for(err, quiet=args.quiet)
    targeting = cliargs.targeting(args)
    if args.plan_file:
        _check_saved_plan_args(args, targeting)

    def show(plan: Plan) -> None:
        view.pause()
        # a person asked to approve sees what they approve, even with -q
        if not args.quiet or (asking and plan.has_changes):
            render.write_text(plan, out, color=color)
        out.flush()

    approve = _approver(inp if asking else None, out, writing)
    how = ApplyOptions(force=args.force, progress=view, approve=approve, stop=stop)
    with view, _logs_through(view):
        if args.plan_file:
            path = Path(args.plan_file)
            saved = read_plan_file(path)
            _register_secrets(args, (c.fields for c in saved.changes))

            def connected() -> None:
                show(saved)
                view.reading("reading the pipelines the plan changes…")

            report = engine.apply_saved(
                _connect(args, [str(path.parent)], view.notice, stop),
                saved,
                options,
                how,
                workspace=os.environ.get("BUDDY_WORKSPACE") or None,
                connected=connected,
            )
            errors = saved.errors
        else:
            paths = cliargs.paths(args)
            view.reading("reading live state…")
            made, report = engine.apply(
                _connect(args, paths, view.notice, stop), paths, options, how, show=show, targeting=targeting
            )
            errors = made.errors
    return _apply_exit(report, errors, out, err, args)


def _approver(inp: TextIO | None, out: TextIO, writing: threading.Event) -> Callable[[Plan], None]:
    """Apply's approval: asks on ``inp`` when given (a person at a terminal), then marks the writes
    as started."""
    from reconciler.cli import console

    def approve(_plan: Plan) -> None:
        try:
            if inp is not None and not console.ask_approval(inp, out):
                raise ApplyCancelled(console.CANCELLED)
        except InterruptedBeforeChanges:
            out.write("\n")  # Ctrl-C leaves the cursor after the question
            raise
        writing.set()

    return approve


def _apply_exit(report: ApplyReport, errors: list[str], out: TextIO, err: TextIO, args: argparse.Namespace) -> int:
    """Print apply's report and return its exit code: 3 after a bug (told now), 130 interrupted."""
    from reconciler import render

    # a pipeline that could not be planned is not "complete": the summary says so again, even with -q
    report.errors[:0] = errors
    color = _is_terminal(out)
    if not args.quiet:
        out.write("\n")
        render.write_apply_report(report, out, color=color)
    elif not report.ok:
        render.write_apply_report(report, out, color=color, quiet=True)
    if report.crashed is not None:
        return internal.report_bug(report.crashed, err, args.redactor, verbose=args.verbose)
    if report.interrupted:
        return INTERRUPTED_EXIT
    return 0 if report.ok and not errors else 1


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    output = Path(args.output)
    result = engine.import_(
        _connect(args, [str(output)]),
        args.workspace,
        args.project,
        pipelines=args.pipeline,
        output=output,
        split=args.split,
        force=args.force,
        defaults=args.defaults,
        environ=os.environ,
    )
    if not args.quiet:
        for path in result.files:
            out.write(f"wrote {path}\n")
        for note in result.notes:
            err.write(f"note: {note}\n")
        if result.env:
            out.write("\nSet these variables before `reconcile apply` (Buddy returns the values encrypted):\n")
            for name, what in result.env.items():
                out.write(f"  {name}  {what}\n")
    return 0


def cmd_sandbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.cli import sandbox as sandbox_session

    return sandbox_session.serve(args, err)


def cmd_env(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.cli import envcmd

    return envcmd.cmd_env(args, out, err)


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.cli import showcmd

    return showcmd.cmd_show(args, out, err)


COMMANDS = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "import": cmd_import,
    "schema": cmd_schema,
    "sandbox": cmd_sandbox,
    "env": cmd_env,
    "show": cmd_show,
}


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    inp: TextIO | None = None,
) -> int:
    """Run one command; return its exit code. Expected failures never show a traceback. ``inp`` is
    where apply reads its approval (stdin; asked only when it is a terminal)."""
    redactor = Redactor()  # the client registers the token; the command, every secret value it reads
    # A RedactingStream passes for a text stream: what it does not wrap it hands to the stream below.
    out = cast(TextIO, RedactingStream(out or sys.stdout, redactor))
    err = cast(TextIO, RedactingStream(err or sys.stderr, redactor))
    inp = inp if inp is not None else sys.stdin
    args: argparse.Namespace | None = None
    try:
        parser = build_parser(lazy=True)
        args = cliargs.parse(parser, argv)
        args.redactor = redactor
        args.final = argv is None  # the process itself (the console script), not a caller in Python
        if not args.command:
            parser.print_help(err)
            return 1
        _setup_logging(args, err)
        if args.command == "apply":
            return cmd_apply(args, out, err, inp)
        return COMMANDS[args.command](args, out, err)
    except ApplyCancelled as cancelled:  # a person said no: the answer goes where the question went
        out.write(f"\n{cancelled.message}\n")
        return 1
    except ValidationFailed as failed:
        files = failed.files if failed.files is not None else {p.location.file for p in failed.problems}
        validateout.write_problems(failed.problems, err, files=len(files))
        return 1
    except ReconcilerError as exc:
        err.write(f"error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug in reconcile or a library: exit 3, the traceback in a file
        return internal.report_bug(exc, err, redactor, verbose=bool(getattr(args, "verbose", False)))
    finally:
        for stream in (out, err):
            with contextlib.suppress(Exception):
                stream.flush()
