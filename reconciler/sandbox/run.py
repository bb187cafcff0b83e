"""Entry points for the CLI: build an app from options, serve it forever, or start it in process."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.errors import SandboxError, UsageError
from reconciler.sandbox.app import ALL_SCOPES, DEFAULT_TOKEN, SandboxApp, Switches
from reconciler.sandbox.faults import FaultConfigError, FaultRule, Faults, parse_fault_spec
from reconciler.sandbox.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW_S
from reconciler.sandbox.server import SandboxServer
from reconciler.sandbox.state import SandboxState

log = logging.getLogger("reconciler.sandbox")

DEFAULT_PORT = 8642  # `reconcile sandbox` without --port; 0 picks any free port


@dataclass
class SandboxOptions:
    """Everything ``reconcile sandbox`` can be told (the CLI maps its flags onto these fields).

    ``seed``: a seed file (never written). ``state_file``: where the state lives and persists; when
    it exists (and not ``reset``) it wins over ``seed``. ``faults``: ``--fault`` specs
    (see ``parse_fault_spec``) or ``FaultRule`` objects.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    seed: str | os.PathLike[str] | None = None
    state_file: str | os.PathLike[str] | None = None
    reset: bool = False
    token: str = DEFAULT_TOKEN
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    faults: Sequence[str | FaultRule] = ()
    fault_seed: int | None = None
    rate_limit: int = DEFAULT_LIMIT
    rate_window_s: float = DEFAULT_WINDOW_S
    switches: dict[str, object] = field(default_factory=dict)


def load_state(
    seed: str | os.PathLike[str] | None = None,
    state_file: str | os.PathLike[str] | None = None,
    *,
    reset: bool = False,
) -> tuple[SandboxState, bool]:
    """The state to serve, and whether it is new (not read from ``state_file``).

    An existing ``state_file`` is loaded unless ``reset``; otherwise the state comes from ``seed``
    (or is empty) and is written to ``state_file`` at once. The seed file itself is only read.
    """
    if state_file is not None and not reset and Path(state_file).exists():
        return SandboxState.from_file(state_file, state_file=state_file), False
    if seed is not None:
        if state_file is not None and Path(seed).resolve() == Path(state_file).resolve():
            raise SandboxError("the seed file and the state file must differ: the seed is never written to")
        state = SandboxState.from_file(seed, state_file=state_file)
    else:
        state = SandboxState(state_file=state_file)
    state.save()
    return state, True


def build_app(options: SandboxOptions) -> SandboxApp:
    """An app configured from ``options``: state loaded (see ``load_state``), faults and switches set."""
    state, _ = load_state(options.seed, options.state_file, reset=options.reset)
    return build_app_for_state(state, options)


def run_forever(
    options: SandboxOptions,
    *,
    ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or until ``stop`` is set). ``ready(url)`` is called once listening, so
    the CLI can print the URL (this library prints nothing)."""
    check_port(options.port)
    server = SandboxServer(build_app(options), host=options.host, port=options.port).start()
    try:
        log.info("sandbox listening on %s", server.url)
        if ready is not None:
            ready(server.url)
        event = stop or threading.Event()
        while not event.wait(0.5):
            pass
    except KeyboardInterrupt:
        log.info("sandbox stopping")
    finally:
        server.stop()


def check_port(port: int) -> None:
    """A TCP port is 0..65535 (0: any free port); anything else is a usage error, not a traceback."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a port is a number from 0 to 65535 (0 picks any free port)")


def run_with(
    port: int = DEFAULT_PORT,
    seed: str | os.PathLike[str] | None = None,
    state_file: str | os.PathLike[str] | None = None,
    token: str = DEFAULT_TOKEN,
    latency_ms: float = 0.0,
    faults: Iterable[str] = (),
    **more: object,
) -> None:
    """``run_forever`` with keyword arguments named like the ``reconcile sandbox`` flags."""
    run_forever(
        SandboxOptions(
            port=port,
            seed=seed,
            state_file=state_file,
            token=token,
            latency_ms=latency_ms,
            faults=list(faults),
            **more,  # type: ignore[arg-type]
        )
    )


def start_in_process(
    seed: str | os.PathLike[str] | None = None,
    state_file: str | os.PathLike[str] | None = None,
    *,
    reset: bool = False,
    token: str = DEFAULT_TOKEN,
    pipelines: Iterable[tuple[str, str, str]] = (),
    options: SandboxOptions | None = None,
) -> tuple[SandboxServer, str, str]:
    """Start a sandbox server on 127.0.0.1 (any free port) in background threads, for
    ``--sandbox``: returns ``(server, url, token)``; call ``server.stop()`` when done.

    ``pipelines``: (workspace, project, name) triples given empty pipelines when the state is new
    (not loaded from ``state_file``), i.e. "empty pipelines for those the files name".
    """
    opts = replace(options or SandboxOptions(), port=0, seed=seed, state_file=state_file, reset=reset, token=token)
    state, fresh = load_state(seed, state_file, reset=reset)
    if fresh and seed is None:
        for workspace, project, name in pipelines:
            state.ensure_pipeline(workspace, project, name)
    # build the app around the state already loaded (build_app would read the files again)
    app = build_app_for_state(state, opts)
    server = SandboxServer(app, host=opts.host, port=0).start()
    return server, server.url, token


def build_app_for_state(state: SandboxState, options: SandboxOptions) -> SandboxApp:
    """Like ``build_app``, around a state the caller already has."""
    if not options.token:
        raise SandboxError("the sandbox token must not be empty")
    try:
        rules = [r if isinstance(r, FaultRule) else parse_fault_spec(r) for r in options.faults]
    except FaultConfigError as exc:
        raise SandboxError(f"--fault: {exc}") from None
    switches = Switches()
    try:
        switches.update(options.switches)
    except ValueError as exc:
        raise SandboxError(str(exc)) from None
    try:
        return SandboxApp(
            state,
            tokens={options.token: ALL_SCOPES},
            faults=Faults(rules, seed=options.fault_seed, latency_ms=options.latency_ms, jitter_ms=options.jitter_ms),
            rate_limit=options.rate_limit,
            rate_window_s=options.rate_window_s,
            switches=switches,
        )
    except ValueError as exc:  # a rate budget that cannot be used
        raise SandboxError(str(exc)) from None
