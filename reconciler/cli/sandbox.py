"""``--sandbox`` and ``reconcile sandbox``: the CLI's two ways into the local API simulator.

With ``--sandbox`` a simulator is started in this process on an ephemeral loopback port, and the
client is handed its URL and token, so a newcomer needs neither an account nor a token. Its state
lives in ``.reconcile-sandbox.json`` (``--sandbox-state``); on first use it is seeded from
``--sandbox-seed``, else from ``sandbox-state.json`` in the first PATH directory, else with empty
pipelines for those the files name. The seed is never written to.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from reconciler.config.files import describe_missing, is_symlink_loop, not_a_regular_file
from reconciler.errors import SandboxError, UsageError
from reconciler.model import DesiredPipeline

SEED_NAME = "sandbox-state.json"


def default_seed(paths: Sequence[str]) -> Path | None:
    """``sandbox-state.json`` in the first PATH directory (a file's own directory), if there is one."""
    if not paths:
        return None
    first = Path(paths[0])
    directory = first if first.is_dir() else first.parent
    candidate = directory / SEED_NAME
    return candidate if candidate.is_file() else None


@contextlib.contextmanager
def open_sandbox(
    *,
    state_file: Path,
    seed: str | None,
    reset: bool,
    paths: Sequence[str],
    pipelines: Sequence[DesiredPipeline] = (),
) -> Iterator[tuple[str, str]]:
    """Run a simulator for the duration of the block; yields ``(url, token)``."""
    from reconciler import sandbox

    if seed is not None and (what := not_a_regular_file(Path(seed))) is not None:
        raise UsageError(f"--sandbox-seed {seed}: {what}")
    if is_symlink_loop(state_file):  # it would be replaced by a plain file
        raise UsageError(f"--sandbox-state {state_file}: {describe_missing(state_file)}")
    seed_path = Path(seed) if seed is not None else default_seed(paths)
    names = [(p.workspace, p.project, p.name) for p in pipelines if p.name]
    try:
        server, url, token = sandbox.start_in_process(seed_path, state_file, reset=reset, pipelines=names)
    except OSError as exc:
        raise SandboxError(f"cannot start the sandbox (state {state_file}): {exc.strerror or exc}") from None
    try:
        yield url, token
    finally:
        server.stop()


def serve(args: argparse.Namespace, err: TextIO) -> int:
    """``reconcile sandbox``: serve until Ctrl-C."""
    from reconciler import sandbox

    options = sandbox.SandboxOptions(
        port=args.port,
        seed=args.seed,
        state_file=args.state,
        token=args.token or sandbox.DEFAULT_TOKEN,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        faults=list(args.fault),
    )

    def ready(url: str) -> None:
        given = "the one given with --token" if args.token else f"{sandbox.DEFAULT_TOKEN!r}"
        err.write(
            f"Buddy API simulator listening on {url} (stop with Ctrl-C)\n"
            f"  export BUDDY_BASE_URL={url}\n"
            f"  the token it accepts is {given}\n"
        )
        err.flush()

    try:
        sandbox.run_forever(options, ready=ready)
    except OSError as exc:
        raise SandboxError(f"cannot serve on port {args.port}: {exc.strerror or exc}") from None
    return 0
