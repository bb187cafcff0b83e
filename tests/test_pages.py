"""Lists read whole and true: whatever page size the server caps, and whatever moves mid-read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support import served

from reconciler import engine
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.live import read_live
from reconciler.buddy.pages import SHIFT_READS
from reconciler.errors import ShiftedReadError
from reconciler.model import DesiredPipeline
from reconciler.plan.diff import Options
from reconciler.problems import Location

PIPELINES = 45
BIG = 125


def seed() -> dict[str, Any]:
    def action(ident: int, name: str) -> dict[str, Any]:
        return {"id": ident, "name": name, "type": "DOCKER_BUILD_MULTI_ARCH", "dockerfile_path": "Dockerfile"}

    pipelines = [{"id": 100 + i, "name": f"svc-{i}", "actions": [action(1000 + i, "Build")]} for i in range(PIPELINES)]
    pipelines.append({"id": 500, "name": "big", "actions": [action(5000 + i, f"a-{i}") for i in range(BIG)]})
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": pipelines}}}}}


def config() -> str:
    build = (
        "    actions:\n      - name: Build\n"
        "        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
    )
    small = "".join(f"  - name: svc-{i}\n{build}" for i in range(PIPELINES))
    tail = "".join(
        f"      - name: a-{i}\n        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
        for i in range(BIG - 5, BIG)
    )
    return f"workspace: acme\nproject: web\npipelines:\n{small}  - name: big\n    actions:\n{tail}"


@pytest.mark.parametrize("cap", [1, 7, 30, 50, 100])
def test_every_pipeline_and_action_is_read_whatever_the_servers_page_cap(cap: int) -> None:
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=cap)
        pipelines = client.list_pipelines("acme", "web")
        actions = client.list_actions("acme", "web", 500)
    assert [p["id"] for p in pipelines] == [*range(100, 100 + PIPELINES), 500]
    assert [a["id"] for a in actions] == list(range(5000, 5000 + BIG))


@pytest.mark.parametrize("cap", [1, 7, 30, 50, 100])
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
    client, _ = scripted([[1, 2], [4], [2, 3], [4], [2, 3], [4]])
    with client:
        first = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in first] == [2, 3, 4]  # the two later reads agree, the first did not


def test_a_single_page_needs_no_confirmation() -> None:
    client, asked = scripted([[1, 2, 3], []])
    with client:
        client.list_pipelines("acme", "web", confirm=True)
    assert asked == ["1", "2"]


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
