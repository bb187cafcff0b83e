"""Lists read whole and true: whatever page size the server caps, and whatever moves mid-read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import served

from reconciler import engine
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.live import read_live
from reconciler.buddy.pages import SHIFT_READS
from reconciler.config.build import load_config
from reconciler.errors import ShiftedReadError
from reconciler.model import DesiredPipeline
from reconciler.plan.options import ApplyOptions, Options
from reconciler.problems import Location

PIPELINES = 45
BIG = 125
MID = 45
CAPS = [1, 7, 30, 50, 100]


def seed() -> dict[str, Any]:
    def action(ident: int, name: str) -> dict[str, Any]:
        return {"id": ident, "name": name, "type": "DOCKER_BUILD_MULTI_ARCH", "dockerfile_path": "Dockerfile"}

    pipelines = [{"id": 100 + i, "name": f"svc-{i}", "actions": [action(1000 + i, "Build")]} for i in range(PIPELINES)]
    pipelines.append({"id": 500, "name": "big", "actions": [action(5000 + i, f"a-{i}") for i in range(BIG)]})
    pipelines.append({"id": 600, "name": "mid", "actions": [action(6000 + i, f"m-{i}") for i in range(MID)]})
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": pipelines}}}}}


def config() -> str:
    build = (
        "    actions:\n      - name: Build\n"
        "        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
    )
    small = "".join(f"  - name: svc-{i}\n{build}" for i in range(PIPELINES))

    def tail(prefix: str, count: int) -> str:  # the last five actions: all past the first page of a cap under 100
        return "".join(
            f"      - name: {prefix}-{i}\n        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
            for i in range(count - 5, count)
        )

    big, mid = tail("a", BIG), tail("m", MID)
    head = "workspace: acme\nproject: web\npipelines:\n"
    return f"{head}{small}  - name: big\n    actions:\n{big}  - name: mid\n    actions:\n{mid}"


@pytest.mark.parametrize("cap", CAPS)
def test_every_pipeline_and_action_is_read_whatever_the_servers_page_cap(cap: int) -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=cap)
        pipelines = client.list_pipelines("acme", "web")
        actions = client.list_actions("acme", "web", 500)
    assert [p["id"] for p in pipelines] == [*range(100, 100 + PIPELINES), 500, 600]
    assert [a["id"] for a in actions] == list(range(5000, 5000 + BIG))


@pytest.mark.parametrize("cap", CAPS)
def test_declared_items_past_the_first_page_are_matched_not_created_again(tmp_path: Path, cap: int) -> None:
    path = tmp_path / "web.yml"
    path.write_text(config(), encoding="utf-8")
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=cap)
        made = engine.plan(engine.given(client), [path], Options())
    assert not made.errors
    assert made.changes == []  # nothing past a page boundary looks absent


def test_a_page_shorter_than_asked_ends_the_list_only_once_a_fuller_page_was_seen() -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=30)
        client.list_pipelines("acme", "web")  # 30, 16, then 16 < 30: the end, proven (no empty page)
        assert client.requests["GET"] == 2
        client.list_actions("acme", "web", 100)  # 1 < 30: ends at once
        assert client.requests["GET"] == 3


def scripted(pages: list[list[int]]) -> tuple[BuddyClient, list[str]]:
    """A client whose server answers the pipeline-list pages in ``pages`` in turn (ids only)."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["page"])
        ids = pages.pop(0) if pages else []
        return httpx.Response(200, json={"pipelines": [{"id": i, "name": f"p{i}"} for i in ids]})

    return BuddyClient("https://api.example.test", "t0ken", transport=httpx.MockTransport(handler)), asked


def test_an_id_seen_twice_is_a_shifted_read_and_the_list_is_read_again() -> None:
    # the server caps pages at 2; someone adds a pipeline in front between page 1 and page 2
    client, asked = scripted([[1, 2], [2, 3], [0, 1], [2, 3], []])
    with client:
        items = client.list_pipelines("acme", "web")
    assert [p["id"] for p in items] == [0, 1, 2, 3]  # the second read, whole; never #2 twice
    assert asked == ["1", "2", "1", "2", "3"]


def test_a_list_that_keeps_moving_fails_with_a_message_that_says_so() -> None:
    client, _ = scripted([[1, 2], [2, 3]] * SHIFT_READS)
    with client, pytest.raises(ShiftedReadError) as caught:
        client.list_pipelines("acme", "web")
    assert "changed while it was being read" in str(caught.value)
    assert "#2 was on page 1 and again on page 2" in str(caught.value)
    assert "someone is editing the project" in str(caught.value)


def test_a_confirmed_read_of_several_pages_catches_an_item_skipped_by_a_removal() -> None:
    # #1 is removed between page 1 and page 2 of the first read: #3 slides onto page 1 and is missed
    client, asked = scripted([[1, 2], [4], [2, 3], [2, 3], [4], [2, 3]])
    with client:
        first = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in first] == [2, 3, 4]  # page 1 asked again showed the removal; read again
    assert asked == ["1", "2", "1", "1", "2", "1"]


def test_a_single_page_proven_the_end_by_a_shorter_one_needs_no_confirmation() -> None:
    client, asked = scripted([[1, 2, 3], [4], [5, 6]])
    with client:
        client.list_pipelines("acme", "web")  # the server fills pages of 3: [4] ended the list
        assert client.list_pipelines("acme", "web", confirm=True) == [{"id": 5, "name": "p5"}, {"id": 6, "name": "p6"}]
    assert asked == ["1", "2", "1"]


def test_a_first_page_then_an_empty_one_are_two_answers_and_are_confirmed() -> None:
    # a removal in front between the two would move the list's last item onto the page already read
    client, asked = scripted([[1, 2, 3], [], [1, 2, 3]])
    with client:
        client.list_pipelines("acme", "web", confirm=True)
    assert asked == ["1", "2", "1"]  # the first page again (not a whole read): nothing was removed from it


def test_a_first_page_that_lost_an_item_between_two_requests_makes_the_list_read_again() -> None:
    # pages of 3: [1, 2, 3], then #1 is removed, so #4 moves onto page 1 and page 2 comes back empty
    client, asked = scripted([[1, 2, 3], [], [2, 3, 4], [2, 3, 4], [], [2, 3, 4]])  # read twice, page 1 thrice
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [2, 3, 4]
    assert asked == ["1", "2", "1", "1", "2", "1"]


def test_a_plan_reads_a_long_pipeline_list_again_before_it_plans_a_create(tmp_path: Path) -> None:
    # 45 pipelines at 30 a page: "svc-44" is declared and live; a second read confirms nothing was skipped
    path = tmp_path / "web.yml"
    path.write_text(config() + "  - name: brand-new\n    actions: []\n", encoding="utf-8")
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=30)
        made = engine.plan(engine.given(client), [path], Options())
        listed = app.stats()["by_route"]["GET /pipelines"]
    assert [c.pipeline for c in made.changes] == ["brand-new"]
    assert listed == 4  # two reads of two pages: the create is planned on a list read twice alike


def test_a_pipeline_whose_action_list_keeps_moving_is_not_planned_and_the_others_are() -> None:
    def declared(name: str) -> DesiredPipeline:
        return DesiredPipeline("acme", "web", name, None, None, {}, (), Location("f.yml", 1, 1), "f.yml")

    calls = {"n": 0}
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=50)
        real = client.list_actions

        def moving(workspace: str, project: str, pipeline_id: int, **kw: Any) -> Any:
            if pipeline_id == 500:
                calls["n"] += 1
                raise ShiftedReadError("GET", f"/pipelines/{pipeline_id}/actions", "actions", "moved", SHIFT_READS)
            return real(workspace, project, pipeline_id, **kw)

        client.list_actions = moving  # type: ignore[method-assign]
        states = read_live(client, [declared("big"), declared("svc-1")])
    big, small = states
    assert big.error is not None and "changed while it was being read" in big.error
    assert small.error is None and small.live is not None and len(small.live.actions) == 1


def _live_actions(app: Any, pipeline_id: int) -> list[str]:
    pipeline = app.state.pipeline("acme", "web", pipeline_id)
    assert pipeline is not None
    return [a.name for a in pipeline.actions]


@pytest.mark.parametrize("cap", CAPS)
def test_prune_plans_and_apply_deletes_every_undeclared_action_past_any_page(tmp_path: Path, cap: int) -> None:
    path = tmp_path / "web.yml"
    path.write_text(config(), encoding="utf-8")
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=cap)
        pruning = Options(prune=True)
        made = engine.plan(engine.given(client), [path], pruning)
        deletes = Counter(c.pipeline for c in made.changes if c.kind == "delete")
        assert deletes == {"big": BIG - 5, "mid": MID - 5} and len(made.changes) == sum(deletes.values())
        _made, report = engine.apply(engine.given(client), [path], pruning, ApplyOptions(force=True))
        assert report.ok, report.errors
        assert _live_actions(app, 500) == [f"a-{i}" for i in range(BIG - 5, BIG)]
        assert _live_actions(app, 600) == [f"m-{i}" for i in range(MID - 5, MID)]
        assert engine.plan(engine.given(client), [path], pruning).changes == []


@pytest.mark.parametrize("cap", CAPS)
def test_import_writes_every_pipeline_and_action_past_any_page(tmp_path: Path, cap: int) -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=cap)
        engine.import_(engine.given(client), "acme", "web", output=tmp_path)
        imported = load_config([tmp_path]).pipelines
        assert [p.name for p in imported] == [*(f"svc-{i}" for i in range(PIPELINES)), "big", "mid"]
        assert [len(p.actions) for p in imported][-2:] == [BIG, MID]
        assert engine.plan(engine.given(client), [tmp_path], Options()).changes == []  # matched, not created
