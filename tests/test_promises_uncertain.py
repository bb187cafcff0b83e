"""After an uncertain create the run keeps looking for twice the request timeout since the POST was
sent, so a late commit is found; else the report says until when another apply could duplicate it
and points at `reconcile plan` (issue 23, item 3). Against the sandbox over real HTTP, small timeouts."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support import FAST_RETRY, live_names

from reconciler import engine, uncertain
from reconciler.apply import ApplyOptions, Looks
from reconciler.buddy.client import BuddyClient, ClientSettings
from reconciler.plan.diff import Options
from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

MA = "DOCKER_BUILD_MULTI_ARCH"
SEED: dict[str, Any] = {
    "workspaces": {"acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release", "actions": []}]}}}}
}
CONFIG = (
    "workspace: acme\nproject: web\npipelines:\n  - name: Release\n    actions:\n"
    "      - {name: Build A, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: a/Dockerfile}\n"
)
TIMEOUT = 0.25
#: one look right after the POST fails: the rest of the window is the run's own
ONE_LOOK = Looks(delays=(0.0,))


@contextmanager
def late(ms: float, sleep: Any = None) -> Iterator[tuple[SandboxApp, BuddyClient]]:
    """A sandbox that commits the first POST ``ms`` after it came, and a client that gives up first."""
    app = SandboxApp(SandboxState.from_data(SEED), **({"sleep": sleep} if sleep else {}))
    app.set_late_commit(ms, methods=["POST"], count=1)
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        BuddyClient(
            server.url, DEFAULT_TOKEN, ClientSettings(timeout=TIMEOUT, parallelism=1, retry=FAST_RETRY)
        ) as client,
    ):
        yield app, client


def test_a_create_the_server_commits_after_the_client_gave_up_is_found_and_not_sent_again(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(CONFIG)
    with late(TIMEOUT * 1000 * 1.4) as (app, client):  # lands inside twice the timeout, after the first look
        _plan, report = engine.apply(engine.given(client), [tmp_path], Options(), ApplyOptions(looks=ONE_LOOK))
        assert report.ok, report.outcomes
        assert client.requests["POST"] == 1
        assert live_names(app, "acme", "web", "Release") == [("Build A", MA)]


def test_a_create_still_unseen_says_until_when_another_apply_could_duplicate_it(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(CONFIG)
    release = threading.Event()
    try:
        with late(1000, sleep=lambda _s: release.wait(10)) as (_app, client):
            _plan, report = engine.apply(engine.given(client), [tmp_path], Options(), ApplyOptions(looks=ONE_LOOK))
            [uncertain] = report.of("uncertain")
            message = uncertain.message or ""
            assert re.search(r"until about \d\d:\d\d:\d\d UTC", message), message
            assert "`reconcile plan`" in message and "run apply again" not in message
            assert "second time" in message
            assert client.requests["GET"] >= 3  # the list read once, then looked for more than once
    finally:
        release.set()


def test_the_looks_end_even_when_no_wait_sleeps_and_cover_the_window() -> None:
    frozen = lambda: 10.0  # noqa: E731 - a clock that never moves: a test's wait that does not sleep
    waits = list(uncertain.delays((0.0, 1.0), sent=10.0, failed=10.0, span=4.0, clock=frozen))
    assert waits[:2] == [0.0, 1.0] and sum(waits) >= 4.0 and len(waits) <= 2 + uncertain.SPREAD_LOOKS


def test_no_look_is_added_once_the_window_has_passed() -> None:
    waits = list(uncertain.delays((0.0,), sent=0.0, failed=9.0, span=0.5, clock=lambda: 9.0))
    assert waits == [0.0]
