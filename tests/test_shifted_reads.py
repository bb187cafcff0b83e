"""Lists that move while they are read (the sandbox's shift fault, over real HTTP, 4 items a page):
plan, apply and apply --dedupe neither delete nor create again anything that existed, and a plan
after is empty. An item added in front is seen twice by a naive read, one removed is never seen: both
are caught, and nothing is skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import served

from reconciler import engine
from reconciler.buddy.client import BuddyClient
from reconciler.plan.options import ApplyOptions, Looks, Options
from reconciler.sandbox import SandboxApp

MA = "DOCKER_BUILD_MULTI_ARCH"
CAP = 4
#: undeclared items first in each list: the ones a ``remove`` shift takes away
FRONT = ("old-0", "old-1")
SERVICES = 7
BIG = 11
PIPELINES_ROUTE = "/pipelines"
ACTIONS_ROUTE = "/pipelines/:pipeline_id/actions"
HOW = ApplyOptions(looks=Looks(delays=(0.0, 0.0), sleep=lambda _s: None))


def _action(ident: int, name: str, path: str = "Dockerfile") -> dict[str, Any]:
    return {"id": ident, "name": name, "type": MA, "dockerfile_path": path}


def seed() -> dict[str, Any]:
    """Two undeclared pipelines, seven one-action ones, and "big": two undeclared BUILD actions, then
    ``a-0``…``a-10`` (``a-10`` stale). 10 pipelines and 13 actions: several pages at 4 a page."""
    front = [{"id": 10 + i, "name": name, "actions": []} for i, name in enumerate(FRONT)]
    services = [{"id": 100 + i, "name": f"svc-{i}", "actions": [_action(1000 + i, "Build")]} for i in range(SERVICES)]
    checkout = [{"id": 4000 + i, "name": name, "type": "BUILD"} for i, name in enumerate(FRONT)]
    actions = [_action(5000 + i, f"a-{i}", "old/Dockerfile" if i == BIG - 1 else "Dockerfile") for i in range(BIG)]
    big = {"id": 500, "name": "big", "actions": checkout + actions}
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": [*front, *services, big]}}}}}


def config(tmp_path: Path) -> Path:
    """Every seeded pipeline but the front two, every multi-arch action (``a-10`` fixed), a new action
    ``a-new`` and a new pipeline ``fresh``."""
    build = "    actions:\n      - {name: Build, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}\n"
    services = "".join(f"  - name: svc-{i}\n{build}" for i in range(SERVICES))
    big = "".join(
        f"      - {{name: {name}, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}}\n"
        for name in [*(f"a-{i}" for i in range(BIG)), "a-new"]
    )
    text = f"workspace: acme\nproject: web\npipelines:\n{services}  - name: big\n    actions:\n{big}"
    path = tmp_path / "web.yml"
    path.write_text(text + "  - name: fresh\n    actions: []\n", encoding="utf-8")
    return path


#: what a plan of ``config`` over ``seed`` must be, whatever moved while it read
EXPECTED = [("create", "big", "a-new"), ("update", "big", "a-10"), ("create_pipeline", "fresh", None)]


def live(app: SandboxApp) -> dict[int, str]:
    """Every pipeline and action of the sandbox, id → name."""
    found: dict[int, str] = {}
    for _ws, _pr, pipeline in app.state.iter_pipelines():
        found[pipeline.id] = pipeline.name
        found.update({a.id: a.name for a in pipeline.actions})
    return found


def assert_nothing_lost_or_doubled(before: dict[int, str], app: SandboxApp) -> None:
    """Every declared item that existed keeps its id; no name of a declared item is there twice."""
    after = live(app)
    kept = {i: n for i, n in before.items() if not n.startswith(FRONT)}
    assert {i: after.get(i) for i in kept} == kept
    counts = Counter(n for n in after.values() if not n.startswith(("old-", "inserted ")))
    assert counts.pop("Build") == SERVICES  # one in each service pipeline
    assert {n for n, c in counts.items() if c > 1} == set()


def plan_after(client: BuddyClient, app: SandboxApp, path: Path) -> list[Any]:
    app.clear_faults()
    made = engine.plan(engine.given(client), [path], Options())
    assert not made.errors
    return made.changes


CASES = [(mode, route) for mode in ("insert", "remove") for route in (PIPELINES_ROUTE, ACTIONS_ROUTE)]


def _fired(app: SandboxApp) -> int:
    return sum(rule.fired for rule in app.faults.rules)


@pytest.mark.parametrize(("mode", "route"), CASES)
def test_a_plan_over_a_list_that_moves_mid_read_plans_only_what_the_files_change(
    tmp_path: Path, mode: str, route: str
) -> None:
    path = config(tmp_path)
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=CAP)
        app.set_shift(mode, route=route, count=1)
        made = engine.plan(engine.given(client), [path], Options())
        assert _fired(app) == 1  # the list did move mid-read
    assert not made.errors
    assert [(c.kind, c.pipeline, c.action_name) for c in made.changes] == EXPECTED


@pytest.mark.parametrize("dedupe", [False, True], ids=["apply", "dedupe"])
@pytest.mark.parametrize(("mode", "route"), CASES)
def test_an_apply_over_a_list_that_moves_mid_read_deletes_and_recreates_nothing(
    tmp_path: Path, mode: str, route: str, dedupe: bool
) -> None:
    """The list moves during the plan's read, and again during the check after the changes."""
    path = config(tmp_path)
    with served(seed()) as (app, client):
        before = live(app)
        app.set_switches(per_page_max=CAP)
        app.set_shift(mode, route=route, count=1)

        def again(_plan: Any) -> None:
            assert _fired(app) == 1
            app.set_shift(mode, route=route, count=1)

        made, report = engine.apply(engine.given(client), [path], Options(dedupe=dedupe), HOW, show=again)
        assert _fired(app) == 1  # the check after the changes read a moving list too
        assert [(c.kind, c.pipeline, c.action_name) for c in made.changes] == EXPECTED
        assert report.ok, (report.errors, [o.message for o in report.outcomes])
        assert_nothing_lost_or_doubled(before, app)
        assert plan_after(client, app, path) == []


@pytest.mark.parametrize("route", [PIPELINES_ROUTE, ACTIONS_ROUTE])
def test_a_removal_in_front_mid_read_skips_nothing_a_confirmed_read_returns(route: str) -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=CAP)
        app.set_shift("remove", route=route, count=1)
        if route == PIPELINES_ROUTE:
            items = client.list_pipelines("acme", "web", confirm=True)
            truth = [p.id for _ws, _pr, p in app.state.iter_pipelines()]
        else:
            items = client.list_actions("acme", "web", 500, confirm=True)
            truth = [a.id for a in app.state.pipeline("acme", "web", 500).actions]  # type: ignore[union-attr]
        assert _fired(app) == 1
    assert [i["id"] for i in items] == sorted(truth) if route == PIPELINES_ROUTE else truth
    assert len(truth) == (SERVICES + 2 if route == PIPELINES_ROUTE else BIG + 1)  # one went


@pytest.mark.parametrize("route", [PIPELINES_ROUTE, ACTIONS_ROUTE])
def test_an_insertion_in_front_mid_read_is_seen_once_or_not_at_all_and_nothing_twice(route: str) -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=CAP)
        app.set_shift("insert", route=route, count=1)
        if route == PIPELINES_ROUTE:
            items = client.list_pipelines("acme", "web")
            truth = sorted(p.id for _ws, _pr, p in app.state.iter_pipelines())
        else:
            items = client.list_actions("acme", "web", 500)
            truth = [a.id for a in app.state.pipeline("acme", "web", 500).actions]  # type: ignore[union-attr]
        assert _fired(app) == 1
    assert [i["id"] for i in items] == truth  # read again whole after the shift, so the new one is there


@pytest.mark.parametrize("mode", ["insert", "remove"])
def test_dedupe_over_a_moving_list_deletes_the_later_copy_and_never_the_one_it_keeps(tmp_path: Path, mode: str) -> None:
    path = config(tmp_path)
    data = seed()
    big = data["workspaces"]["acme"]["projects"]["web"]["pipelines"][-1]
    big["actions"].append(_action(5999, "a-5"))  # a true duplicate of a-5 (#5005), last in the pipeline
    with served(data) as (app, client):
        before = live(app)
        app.set_switches(per_page_max=CAP)
        app.set_shift(mode, route=ACTIONS_ROUTE, count=1)
        made, report = engine.apply(engine.given(client), [path], Options(dedupe=True), HOW)
        assert _fired(app) == 1
        deletes = [(c.action_id, c.reason) for c in made.changes if c.kind == "delete"]
        assert deletes == [(5999, 'duplicate: "a-5" #5005 comes first and is kept')]
        assert report.ok, report.errors
        after = live(app)
        assert after.get(5005) == "a-5" and 5999 not in after
        del before[5999]
        assert_nothing_lost_or_doubled(before, app)
        assert plan_after(client, app, path) == []


def test_a_check_after_the_changes_over_a_list_that_keeps_moving_says_so_and_blames_no_apply(tmp_path: Path) -> None:
    path = config(tmp_path)
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=CAP)
        keep_moving = lambda _plan: app.set_shift("insert", route=ACTIONS_ROUTE)  # noqa: E731 (no count: every read)
        _made, report = engine.apply(engine.given(client), [path], Options(), HOW, show=keep_moving)
    [error] = report.errors
    assert error.startswith("could not read the changed pipelines again to check for duplicates: the actions list")
    assert "changed while it was being read, 3 times in a row" in error and "someone is editing the project" in error
    assert "another apply" not in error


@pytest.mark.parametrize("cap", [1, 2, 7])
@pytest.mark.parametrize("route", [PIPELINES_ROUTE, ACTIONS_ROUTE])
def test_a_removal_in_front_before_an_empty_second_page_creates_nothing_again(
    tmp_path: Path, route: str, cap: int
) -> None:
    """A list one item longer than the server's page: the first page comes back full, the removal moves
    the last item onto it, and the second page comes back empty. Two requests, not one snapshot."""
    front = [{"id": 10 + i, "name": f"old-{i}", "actions": []} for i in range(cap)]
    checkout = [{"id": 4000 + i, "name": f"old-{i}", "type": "BUILD"} for i in range(cap)]
    keep = {"id": 500, "name": "keep", "actions": [*checkout, _action(5000, "Build")]}
    data = {"workspaces": {"acme": {"projects": {"web": {"pipelines": [*front, keep]}}}}}
    path = tmp_path / "web.yml"
    path.write_text(
        "workspace: acme\nproject: web\npipelines:\n  - name: keep\n    actions:\n"
        "      - {name: Build, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}\n",
        encoding="utf-8",
    )
    with served(data) as (app, client):
        app.set_switches(per_page_max=cap)
        app.set_shift("remove", route=route, count=1)
        made, report = engine.apply(engine.given(client), [path], Options(), HOW)
        assert _fired(app) == 1
        assert made.changes == [] and report.ok, (made.errors, report.errors)
        assert [p.name for _ws, _pr, p in app.state.iter_pipelines()].count("keep") == 1
        assert [a.name for a in app.state.pipeline("acme", "web", 500).actions].count("Build") == 1  # type: ignore[union-attr]
