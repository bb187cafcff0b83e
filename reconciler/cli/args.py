"""The command line's arguments: the parser of every command, and the values read off parsed arguments
(paths, targeting, plan options). Nothing here talks to the network or prints."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from reconciler import __version__
from reconciler.buddy.settings import DEFAULT_BASE_URL, REGIONS
from reconciler.errors import UsageError

# The plan modules are imported where plan's and apply's options are built or read, so that parsing
# `validate`'s arguments (the pre-commit hook) loads none of them.
if TYPE_CHECKING:
    from reconciler.plan.options import Options
    from reconciler.plan.targets import Targeting

EXAMPLES = {
    "validate": "example: reconcile validate examples/ --format github",
    "plan": "example: reconcile plan examples/ --sandbox --format markdown --out plan.json",
    "apply": "examples: reconcile apply examples/ --sandbox\n          reconcile apply --plan plan.json",
    "import": "example: reconcile import --workspace acme --project web -o pipelines/ --sandbox",
    "schema": "example: reconcile schema config > config.schema.json",
    "env": "example: reconcile env examples/ --format github",
    "show": "example: reconcile show plan.json --format markdown > plan.md",
    "sandbox": "example: reconcile sandbox --port 8080 --seed examples/sandbox-state.json",
}


#: the distribution's name on the package index (the command is `reconcile`, the import package `reconciler`)
DISTRIBUTION = "buddy-reconcile"


def installed_version() -> str:
    """The installed distribution's version (its package metadata); ``__version__`` when the package runs
    from a source tree without being installed. Read only for ``--version`` (importing metadata costs)."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return __version__


class _VersionAction(argparse.Action):
    """``--version``: the version read from the package metadata when asked, not at every start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        sys.stdout.write(f"reconcile {installed_version()}\n")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """A usage error exits 1 (as Terraform does), so that 2 always means "changes pending"."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--base-url", help=f"API base URL (env BUDDY_BASE_URL; default {DEFAULT_BASE_URL})")
    group.add_argument("--region", choices=sorted(REGIONS), help="us or eu: the region's base URL")
    group.add_argument(
        "--parallelism",
        type=_parallelism,
        default=8,
        help=f"concurrent requests, 1 to {MAX_PARALLELISM} (default 8)",
    )
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


def _verbosity(parser: argparse.ArgumentParser, verbose: str = "log each request to stderr") -> None:
    """``-v`` and ``-q``, which exclude each other (argparse makes both together a usage error)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help=verbose)
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


def targeting(args: argparse.Namespace) -> Targeting | None:
    """The ``--target``/``--exclude`` patterns of the command line; ``None`` when neither was given."""
    from reconciler.plan.targets import Targeting

    if not args.target and not args.exclude:
        return None
    return Targeting(tuple(args.target), tuple(args.exclude))


#: the most concurrent requests: one thread and one connection each, and Buddy's rate limit is spent
#: by requests, not by time, so more lanes only make a burst of 429s likelier
MAX_PARALLELISM = 64


def _parallelism(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_PARALLELISM:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {MAX_PARALLELISM}")
    return value


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of percent") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 100")
    return value


def _safety_options(parser: argparse.ArgumentParser) -> None:
    from reconciler.plan.plan import DEFAULT_MAX_PERCENT, UPDATE_GATE_MIN_ACTIONS

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


_FORMATTER = argparse.RawDescriptionHelpFormatter


def _change_options(parser: argparse.ArgumentParser) -> None:
    """What plan and apply may change beyond the files' own differences."""
    parser.add_argument("--prune", action="store_true", help="delete undeclared multi-arch actions")
    parser.add_argument(
        "--update-secrets",
        action="store_true",
        help="send write-only fields again; --update-secrets=NAME[,NAME…]: only those whose values come from "
        "these ${env:…} variables",
    )
    # `--update-secrets=NAMES` reaches argparse as this hidden option (see ``parse``), so that a bare
    # `--update-secrets` never takes the PATH after it for a name
    parser.add_argument(_NAMES_FLAG, dest="secret_names", action="append", help=argparse.SUPPRESS)


def _planning_options(parser: argparse.ArgumentParser) -> None:
    """The options plan and apply share after their own: targeting, safety, connection, verbosity."""
    _targeting_options(parser)
    _safety_options(parser)
    _connection_options(parser)
    _verbosity(parser)


def _add_validate(p: argparse.ArgumentParser) -> None:
    _paths_argument(p)
    p.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text, json (every problem as data) or github (annotations on the pull request's diff)",
    )
    _verbosity(p, verbose="name every YAML file skipped as not a config file")  # validate sends no request


def _add_plan(p: argparse.ArgumentParser) -> None:
    _paths_argument(p)
    p.add_argument("--format", choices=["text", "markdown", "json", "github"], default="text")
    p.add_argument("--out", metavar="FILE", help="also write the JSON plan to FILE (for apply --plan)")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    _change_options(p)
    _planning_options(p)


def _add_apply(p: argparse.ArgumentParser) -> None:
    _paths_argument(p)
    p.add_argument("--plan", dest="plan_file", metavar="FILE", help="apply exactly this saved plan")
    _change_options(p)
    p.add_argument("--force", action="store_true", help="skip the safety check (and say so)")
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask before changing anything (only asked on a terminal: CI and scripts never are)",
    )
    _planning_options(p)


def _add_import(p: argparse.ArgumentParser) -> None:
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


def _add_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("which", nargs="?", choices=["config", "action"], default="config")


def _add_env(p: argparse.ArgumentParser) -> None:
    _paths_argument(p)
    p.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text, json (for scripts) or github (an env: block for a workflow, values from secrets)",
    )


def _add_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", metavar="PLANFILE", help="a plan written by `reconcile plan --out`")
    p.add_argument(
        "--format",
        choices=["text", "markdown", "json", "github"],
        default="text",
        help="as `reconcile plan --format`: text, markdown (a pull-request comment), json or github",
    )


def _add_sandbox(p: argparse.ArgumentParser) -> None:
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


#: each command's one-line help (in ``reconcile --help``) and what adds its arguments to its parser
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "validate": ("check files against the schema and the rules (no network)", _add_validate),
    "plan": ("show what would change in Buddy", _add_plan),
    "apply": ("make Buddy match the files", _add_apply),
    "import": ("write YAML for pipelines that already exist", _add_import),
    "schema": ("print the JSON Schema", _add_schema),
    "env": ("list the ${env:…} variables the files use, and whether each is set (no network)", _add_env),
    "show": ("print a saved plan (plan --out) in any plan format (no network, no token)", _add_show),
    "sandbox": ("serve the local Buddy API simulator", _add_sandbox),
}


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The commands' parsers; a command's arguments are added when it is parsed, unless ``fill`` added
    them before (what ``--help`` and a usage error show is the same either way)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unfilled: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def fill(self, name: str) -> None:
        add = self.unfilled.pop(name, None)
        if add is not None:
            add(self.choices[name])

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, *args: Any) -> None:
        values = args[0]  # argparse has refused a name that is not a command before this call
        self.fill(values[0])
        super().__call__(parser, namespace, *args)


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The parser of ``reconcile`` and its commands; a usage error raises ``UsageError`` (exit 1).
    ``lazy``: a command's arguments are added only when it is the one parsed (the CLI's start-up: the
    pre-commit hook builds validate's alone)."""
    parser = _Parser(prog="reconcile", description="Plan and apply Buddy.works pipelines kept as YAML in Git.")
    parser.add_argument("--version", action=_VersionAction)
    sub = cast(
        _Commands, parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, action=_Commands)
    )
    for name, (summary, add) in COMMANDS.items():
        sub.add_parser(name, help=summary, epilog=EXAMPLES[name], formatter_class=_FORMATTER)
        sub.unfilled[name] = add
    if not lazy:
        for name in COMMANDS:
            sub.fill(name)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed arguments; an option given before the command gets a hint to put it after."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        return parser.parse_args(_secret_names_apart(words))
    except UsageError as typed:
        # a message quotes the words as parsed: say `--update-secrets=NAMES` as the user wrote it
        exc = UsageError(typed.message.replace(f"--update-secrets {_NAMES_FLAG} ", "--update-secrets="))
        command = next((i for i, w in enumerate(words) if w in EXAMPLES), None)
        if command is None or not any(w.startswith("-") for w in words[:command]):
            raise exc from None
        moved = " ".join([words[command], *words[:command]])
        raise UsageError(f"{exc.message}; options go after the command: reconcile {moved} …") from None


#: the hidden option ``--update-secrets=NAMES`` is parsed as (after a bare ``--update-secrets``)
_NAMES_FLAG = "--update-secrets-for"


def _secret_names_apart(words: list[str]) -> list[str]:
    """``--update-secrets=NAMES`` as ``--update-secrets --update-secrets-for NAMES`` (after the command,
    up to a ``--``)."""
    out: list[str] = []
    command = next((i for i, w in enumerate(words) if w in EXAMPLES), len(words))
    for index, word in enumerate(words):
        if word == "--":
            return out + words[index:]
        if word.startswith("--update-secrets=") and index > command:
            out += ["--update-secrets", _NAMES_FLAG, word.split("=", 1)[1]]
        else:
            out.append(word)
    return out


# -- values read off the arguments --------------------------------------------------------------------


def paths(args: argparse.Namespace) -> list[str]:
    """The config paths given, or the current directory."""
    return list(args.paths) or ["."]


def base_url(args: argparse.Namespace) -> str:
    """``--base-url``, else ``--region``'s URL, else ``BUDDY_BASE_URL``, else Buddy's own."""
    if args.base_url:
        return args.base_url
    if args.region:
        return REGIONS[args.region]
    return os.environ.get("BUDDY_BASE_URL") or DEFAULT_BASE_URL


def plan_options(args: argparse.Namespace) -> Options:
    """The diff's options from plan's or apply's arguments (the environment included)."""
    from reconciler.plan.options import Options
    from reconciler.plan.plan import Limits
    from reconciler.plan.secrets import parse_names

    return Options(
        prune=getattr(args, "prune", False),
        update_secrets=getattr(args, "update_secrets", False),
        secret_names=parse_names(getattr(args, "secret_names", None)),
        sandbox=args.sandbox,
        env=dict(os.environ),
        dedupe=args.dedupe,
        limits=Limits(args.max_delete_percent, args.max_update_percent),
    )
