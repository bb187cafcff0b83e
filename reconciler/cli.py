"""The command line: argparse → engine → output; exceptions become exit codes here, and only here."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from reconciler import __version__, console, engine, envrefs, fields, render, settings
from reconciler.client import DEFAULT_BASE_URL, REGIONS, BuddyClient, RetryPolicy
from reconciler.diff import Options
from reconciler.errors import ApplyCancelled, ReconcilerError, UsageError, ValidationFailed
from reconciler.model import DesiredPipeline
from reconciler.plan import (
    DEFAULT_MAX_PERCENT,
    UPDATE_GATE_MIN_ACTIONS,
    Limits,
    Plan,
)
from reconciler.planfile import read_plan_file, write_plan_file
from reconciler.redact import RedactingStream, Redactor
from reconciler.targets import Targeting

log = logging.getLogger("reconciler")

EXAMPLES = {
    "validate": "example: reconcile validate examples/ --format github",
    "plan": "example: reconcile plan examples/ --sandbox --format markdown --out plan.json",
    "apply": "examples: reconcile apply examples/ --sandbox\n          reconcile apply --plan plan.json",
    "import": "example: reconcile import --workspace acme --project web -o pipelines/ --sandbox",
    "schema": "example: reconcile schema config > config.schema.json",
    "sandbox": "example: reconcile sandbox --port 8080 --seed examples/sandbox-state.json",
}


class _Parser(argparse.ArgumentParser):
    """A usage error exits 1 (as Terraform does), so that 2 always means "changes pending"."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--base-url", help=f"API base URL (env BUDDY_BASE_URL; default {DEFAULT_BASE_URL})")
    group.add_argument("--region", choices=sorted(REGIONS), help="us or eu: the region's base URL")
    group.add_argument("--parallelism", type=int, default=8, help="concurrent requests (default 8)")
    group.add_argument(
        "--sandbox",
        action="store_true",
        help="talk to the built-in Buddy API simulator instead of Buddy (no token needed)",
    )
    group.add_argument(
        "--sandbox-state",
        metavar="FILE",
        default=".reconcile-sandbox.json",
        help="the simulator's state file (default .reconcile-sandbox.json)",
    )
    group.add_argument(
        "--sandbox-seed",
        metavar="FILE",
        help="seed the simulator from FILE on first use (default: sandbox-state.json in the first PATH)",
    )
    group.add_argument("--sandbox-reset", action="store_true", help="start the simulator's state afresh")


def _verbosity(parser: argparse.ArgumentParser) -> None:
    """``-v`` and ``-q``, which exclude each other (argparse makes both together a usage error)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="log each request to stderr")
    group.add_argument("-q", "--quiet", action="store_true", help="print only errors and refusals")


def _paths_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="config files or directories, read recursively (default: the current directory)",
    )


def _targeting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PATTERN",
        help="plan only pipelines whose workspace/project/pipeline matches (shell-style, repeatable)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out pipelines whose workspace/project/pipeline matches (shell-style, repeatable)",
    )


def _targeting(args: argparse.Namespace) -> Targeting | None:
    if not args.target and not args.exclude:
        return None
    return Targeting(tuple(args.target), tuple(args.exclude))


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of percent") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 100")
    return value


def _safety_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dedupe",
        action="store_true",
        help="where live multi-arch actions share a declared name, keep the first and delete the others",
    )
    parser.add_argument(
        "--max-delete-percent",
        type=_percent,
        default=DEFAULT_MAX_PERCENT,
        metavar="N",
        help=f"refuse deleting over N%% of a pipeline's live actions (more than one) (default {DEFAULT_MAX_PERCENT})",
    )
    parser.add_argument(
        "--max-update-percent",
        type=_percent,
        default=DEFAULT_MAX_PERCENT,
        metavar="N",
        help=f"refuse updating over N%% of the live actions of a pipeline of {UPDATE_GATE_MIN_ACTIONS} or more "
        f"(default {DEFAULT_MAX_PERCENT})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reconcile", description="Plan and apply Buddy.works pipelines kept as YAML in Git.")
    parser.add_argument("--version", action="version", version=f"reconcile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "validate",
        help="check files against the schema and the rules (no network)",
        epilog=EXAMPLES["validate"],
        formatter_class=fmt,
    )
    _paths_argument(p)
    p.add_argument("--format", choices=["text", "github"], default="text")
    _verbosity(p)

    p = sub.add_parser("plan", help="show what would change in Buddy", epilog=EXAMPLES["plan"], formatter_class=fmt)
    _paths_argument(p)
    p.add_argument("--format", choices=["text", "markdown", "json", "github"], default="text")
    p.add_argument("--out", metavar="FILE", help="also write the JSON plan to FILE (for apply --plan)")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    p.add_argument("--prune", action="store_true", help="delete undeclared multi-arch actions")
    p.add_argument("--update-secrets", action="store_true", help="send write-only fields again")
    _targeting_options(p)
    _safety_options(p)
    _connection_options(p)
    _verbosity(p)

    p = sub.add_parser("apply", help="make Buddy match the files", epilog=EXAMPLES["apply"], formatter_class=fmt)
    _paths_argument(p)
    p.add_argument("--plan", dest="plan_file", metavar="FILE", help="apply exactly this saved plan")
    p.add_argument("--prune", action="store_true", help="delete undeclared multi-arch actions")
    p.add_argument("--update-secrets", action="store_true", help="send write-only fields again")
    p.add_argument("--force", action="store_true", help="skip the safety check (and say so)")
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask before changing anything (only asked on a terminal: CI and scripts never are)",
    )
    _targeting_options(p)
    _safety_options(p)
    _connection_options(p)
    _verbosity(p)

    p = sub.add_parser(
        "import",
        help="write YAML for pipelines that already exist",
        epilog=EXAMPLES["import"],
        formatter_class=fmt,
    )
    p.add_argument("--workspace", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--pipeline", action="append", default=[], metavar="NAME", help="only this pipeline (repeat)")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="directory to write (default .)")
    p.add_argument("--split", action="store_true", help="one file per pipeline")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument(
        "--defaults", action="store_true", help="write values all actions of a pipeline share once, in its defaults:"
    )
    _connection_options(p)
    _verbosity(p)

    p = sub.add_parser("schema", help="print the JSON Schema", epilog=EXAMPLES["schema"], formatter_class=fmt)
    p.add_argument("which", nargs="?", choices=["config", "action"], default="config")

    p = sub.add_parser(
        "sandbox", help="serve the local Buddy API simulator", epilog=EXAMPLES["sandbox"], formatter_class=fmt
    )
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--seed", metavar="FILE", help="seed state (never written to)")
    p.add_argument("--state", metavar="FILE", help="persist state to FILE after each change")
    p.add_argument("--token", help="the token clients must send (default: the sandbox token)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency up to this")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault KIND[:key=value,…], e.g. error:rate=0.1,status=503 or rate_limit:count=5,retry_after=2 "
        "or drop:rate=0.05,methods=POST or late_commit:ms=2000,count=1 or deviant:mode=html_body (kinds: latency, "
        "error, rate_limit, drop, commit_then_error, commit_then_drop, late_commit, deviant)",
    )
    _verbosity(p)
    return parser


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


def _paths(args: argparse.Namespace) -> list[str]:
    return list(args.paths) or ["."]


def _base_url(args: argparse.Namespace) -> str:
    if args.base_url:
        return args.base_url
    if args.region:
        return REGIONS[args.region]
    return os.environ.get("BUDDY_BASE_URL") or DEFAULT_BASE_URL


Notice = Callable[[str], None]


def _new_client(
    url: str, token: str, args: argparse.Namespace, target: str | None = None, notice: Notice | None = None
) -> BuddyClient:
    """The client, with BUDDY_TIMEOUT and BUDDY_MAX_RATE_LIMIT_WAIT; its notices go to ``notice``
    (the apply view), else to stderr (the log)."""
    wait = settings.parse_max_rate_limit_wait(os.environ.get("BUDDY_MAX_RATE_LIMIT_WAIT"))
    timeout = settings.parse_timeout(os.environ.get("BUDDY_TIMEOUT"))
    retry = RetryPolicy(max_wait=wait)
    return BuddyClient(
        url,
        token,
        timeout=timeout,
        parallelism=args.parallelism,
        retry=retry,
        notice=notice or log.warning,
        target=target,
        redactor=getattr(args, "redactor", None),
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
) -> Iterator[BuddyClient]:
    """A client for Buddy, or for the built-in simulator with ``--sandbox``."""
    _register_secrets(args, (a.fields for p in pipelines for a in p.actions))
    if args.sandbox:
        from reconciler import sandbox_session

        with (
            sandbox_session.open_sandbox(
                state_file=Path(args.sandbox_state),
                seed=args.sandbox_seed,
                reset=args.sandbox_reset,
                paths=paths,
                pipelines=pipelines,
            ) as (url, token),
            _new_client(
                url, token, args, target=f"sandbox:{Path(args.sandbox_state).resolve()}", notice=notice
            ) as client,
        ):
            yield client
        return
    token = settings.require_token(os.environ.get("BUDDY_TOKEN"))
    with _new_client(_base_url(args), token, args, notice=notice) as client:
        yield client


def _connect(args: argparse.Namespace, paths: Sequence[str], notice: Notice | None = None) -> engine.Connect:
    """The engine's client factory for these arguments (Buddy, or the sandbox with ``--sandbox``)."""
    return lambda pipelines: _client(args, paths, pipelines, notice)


def _is_terminal(stream: TextIO) -> bool:
    """Whether to colour ``stream``: a terminal, and NO_COLOR unset."""
    return console.is_terminal(stream) and not os.environ.get("NO_COLOR")


# -- commands ---------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = engine.validate(_paths(args))
    if args.verbose:
        for skipped in result.skipped:
            err.write(f"skipped (not a config file): {skipped}\n")
    problems = result.problems
    if args.quiet:
        problems = [p for p in problems if p.severity == "error"]
    if problems or not args.quiet:
        render.write_problems(problems, out, files=len(result.files), fmt=args.format)
    return 0 if result.ok else 1


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from reconciler.schema import standalone_text

    out.write(standalone_text(args.which))
    return 0


def _plan_options(args: argparse.Namespace) -> Options:
    return Options(
        prune=getattr(args, "prune", False),
        update_secrets=getattr(args, "update_secrets", False),
        sandbox=args.sandbox,
        env=dict(os.environ),
        dedupe=args.dedupe,
        limits=Limits(args.max_delete_percent, args.max_update_percent),
    )


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    paths = _paths(args)
    with console.view_for(err, quiet=args.quiet) as view:  # on a terminal, a status line while live state is read
        view.reading("reading live state…")
        plan = engine.plan(_connect(args, paths, view.notice), paths, _plan_options(args), _targeting(args))
    if args.out:
        write_plan_file(plan, Path(args.out))
    if args.format == "json":
        render.write_json(plan, out)
    elif args.format == "markdown":
        render.write_markdown(plan, out)
    elif not args.quiet or plan.errors:
        render.write_text(plan, out, color=_is_terminal(out))
        if args.format == "github":
            render.write_plan_annotations(plan, out)
    if plan.errors:
        return 1
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0


#: the exit code of an apply stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C)
INTERRUPTED_EXIT = 130


@contextlib.contextmanager
def _stop_on_signals(err: TextIO) -> Iterator[threading.Event]:
    """The first SIGINT or SIGTERM sets the event (apply starts no new change, lets those in flight
    finish, then reports); a second one exits at once with 130. Handlers are restored after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread: nothing to install (a library caller)
        return

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            with contextlib.suppress(Exception):
                err.write("interrupted again: exiting now; changes in flight may or may not have been made\n")
                err.flush()
            os._exit(INTERRUPTED_EXIT)  # at once: the threads in flight are not waited for
        stop.set()
        name = signal.Signals(signum).name
        with contextlib.suppress(Exception):
            err.write(
                f"{name}: stopping: no new change is started; the requests in flight finish "
                "(send it again to exit at once)\n"
            )
            err.flush()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_apply(args: argparse.Namespace, out: TextIO, err: TextIO, inp: TextIO | None = None) -> int:
    """The plan first (flushed, before any write), the question on a terminal, progress, the summary;
    the first SIGINT or SIGTERM stops starting changes (exit 130)."""
    with _stop_on_signals(err) as stop:
        return _apply(args, out, err, stop, inp)


def _apply(args: argparse.Namespace, out: TextIO, err: TextIO, stop: threading.Event, inp: TextIO | None) -> int:
    options = _plan_options(args)
    color = _is_terminal(out)
    asking = not args.auto_approve and console.is_terminal(inp)
    view = console.view_for(err, quiet=args.quiet)
    targeting = _targeting(args)
    if args.plan_file and targeting is not None:
        raise UsageError("--target/--exclude go with `apply PATH…`; a saved plan keeps the patterns it was made with")
    if args.plan_file and args.paths:
        raise UsageError(
            f"apply --plan applies exactly the saved plan and takes no PATH (got {' '.join(args.paths)}); "
            "run either `reconcile apply PATH…` or `reconcile apply --plan FILE`"
        )

    def show(plan: Plan) -> None:
        view.pause()
        # a person asked to approve sees what they approve, even with -q
        if not args.quiet or (asking and plan.has_changes):
            render.write_text(plan, out, color=color)
        out.flush()

    def approve(_plan: Plan) -> None:
        if asking and not console.ask_approval(inp, out):  # type: ignore[arg-type]
            raise ApplyCancelled(console.CANCELLED)

    try:
        with view:
            if args.plan_file:
                path = Path(args.plan_file)
                saved = read_plan_file(path)
                _register_secrets(args, (c.fields for c in saved.changes))

                def connected() -> None:
                    show(saved)
                    view.reading("reading the pipelines the plan changes…")

                report = engine.apply_saved(
                    _connect(args, [str(path.parent)], view.notice),
                    saved,
                    options,
                    force=args.force,
                    workspace=os.environ.get("BUDDY_WORKSPACE") or None,
                    progress=view,
                    connected=connected,
                    approve=approve,
                    stop=stop,
                )
                errors = saved.errors
            else:
                paths = _paths(args)
                view.reading("reading live state…")
                made, report = engine.apply(
                    _connect(args, paths, view.notice),
                    paths,
                    options,
                    force=args.force,
                    progress=view,
                    show=show,
                    approve=approve,
                    targeting=targeting,
                    stop=stop,
                )
                errors = made.errors
    except ApplyCancelled as cancelled:
        out.write(f"\n{cancelled.message}\n")
        return 1
    if not args.quiet:
        out.write("\n")
        render.write_apply_report(report, out, color=color)
    elif not report.ok:
        render.write_apply_report(report, out, color=color, quiet=True)
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
    from reconciler import sandbox_session

    return sandbox_session.serve(args, err)


COMMANDS = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "import": cmd_import,
    "schema": cmd_schema,
    "sandbox": cmd_sandbox,
}


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; an option written before the command (``reconcile -q plan``) gets a hint to move it."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        return parser.parse_args(words)
    except UsageError as exc:
        first = next((i for i, w in enumerate(words) if w in COMMANDS), None)
        early = words[:first] if first is not None else []
        if not any(w.startswith("-") for w in early):
            raise
        moved = " ".join(["reconcile", words[first], *early])  # type: ignore[index]
        raise UsageError(f"{exc.message}; options go after the command: {moved} …") from None


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    inp: TextIO | None = None,
) -> int:
    """Run one command; return its exit code. Expected failures never show a traceback. ``inp`` is
    where apply reads its approval (stdin; asked only when it is a terminal)."""
    redactor = Redactor()  # the client registers the token; the command, every secret value it reads
    out = RedactingStream(out or sys.stdout, redactor)
    err = RedactingStream(err or sys.stderr, redactor)
    inp = inp if inp is not None else sys.stdin
    try:
        parser = build_parser()
        args = _parse(parser, argv)
        args.redactor = redactor
        if not args.command:
            parser.print_help(err)
            return 1
        _setup_logging(args, err)
        if args.command == "apply":
            return cmd_apply(args, out, err, inp)
        return COMMANDS[args.command](args, out, err)
    except ValidationFailed as failed:
        render.write_problems(failed.problems, err, files=len({p.location.file for p in failed.problems}))
        return 1
    except ReconcilerError as exc:
        err.write(f"error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    finally:
        for stream in (out, err):
            with contextlib.suppress(Exception):
                stream.flush()


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed arguments; an option given before the command gets a hint to put it after."""
    try:
        return parser.parse_args(argv)
    except UsageError as exc:
        words = list(sys.argv[1:] if argv is None else argv)
        command = next((i for i, w in enumerate(words) if w in COMMANDS), None)
        if command is None or not any(w.startswith("-") for w in words[:command]):
            raise
        moved = " ".join([words[command], *words[:command]])
        raise UsageError(f"{exc.message}; options go after the command: reconcile {moved} …") from None
