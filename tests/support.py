"""Helpers shared by the tests that run the engine against the sandbox over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.buddy.client import BuddyClient, ClientSettings, RetryPolicy
from reconciler.plan.changes import change_of
from reconciler.plan.plan import Change, Plan, Target
from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

#: fast retries: the sandbox answers in microseconds, tests should not sleep for real
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.01, max_wait=5.0, min_wait=0.001)


@contextlib.contextmanager
def served(seed: Mapping[str, Any], *, parallelism: int = 8) -> Iterator[tuple[SandboxApp, BuddyClient]]:
    """A sandbox seeded with ``seed`` on 127.0.0.1, and a client for it."""
    app = SandboxApp(SandboxState.from_data(seed))
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        BuddyClient(server.url, DEFAULT_TOKEN, ClientSettings(parallelism=parallelism, retry=FAST_RETRY)) as client,
    ):
        yield app, client


def writes(app: SandboxApp) -> int:
    """How many changing requests the sandbox has served since its stats were reset."""
    by_method = app.stats()["by_method"]
    return sum(by_method.get(m, 0) for m in ("POST", "PATCH", "DELETE", "PUT"))


def live_names(app: SandboxApp, workspace: str, project: str, pipeline: str) -> list[tuple[str, str]]:
    """(name, type) of a pipeline's actions, in order, straight from the sandbox's state."""
    for ws, pr, live in app.state.iter_pipelines():
        if (ws, pr, live.name) == (workspace, project, pipeline):
            return [(a.name, a.type) for a in live.actions]
    raise KeyError(pipeline)


def change(kind: str, n: int = 1, **kw: Any) -> Change:
    """A change of pipeline acme/web #7 ("Release") to action ``a{n}`` (id ``n`` unless a create)."""
    base = {"workspace": "acme", "project": "web", "pipeline": "Release", "pipeline_id": 7}
    base.update(kw)
    return change_of(kind, action_name=f"a{n}", action_id=n if kind != "create" else None, **base)


def plan_with(*changes: Change, live: int = 10) -> Plan:
    """A plan of ``changes`` against Buddy, pipeline acme/web #7 having ``live`` actions."""
    return Plan.of(Target("https://api.buddy.works"), list(changes), live_counts={"acme/web/7": live})
