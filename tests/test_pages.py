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
    client, asked = scripted([[1, 2], [4], [5]])
    with client:
        client.list_pipelines("acme", "web")  # the server fills pages of 2: [4] ended the list
        assert client.list_pipelines("acme", "web", confirm=True) == [{"id": 5, "name": "p5"}]
    assert asked == ["1", "2", "1"]


def test_a_first_page_then_an_empty_one_are_two_answers_and_are_confirmed() -> None:
    # a removal in front between the two would move the list's last item onto the page already read
    client, asked = scripted([[1, 2], [], [1, 2]])  # two items: too few for the overlap probe
    with client:
        client.list_pipelines("acme", "web", confirm=True)
    assert asked == ["1", "2", "1"]  # the first page again (not a whole read): nothing was removed from it


def test_a_first_page_that_lost_an_item_between_two_requests_makes_the_list_read_again() -> None:
    # pages of 2: [1, 2], then #1 is removed, so #3 moves onto page 1 and page 2 comes back empty
    client, asked = scripted([[1, 2], [], [2, 3], [2, 3], [], [2, 3]])  # read twice, page 1 thrice
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [2, 3]
    assert asked == ["1", "2", "1", "1", "2", "1"]


def offsets(
    ids: list[int], *, cap: int = 100, fixed: int | None = None, edits: dict[int, Any] | None = None
) -> tuple[BuddyClient, list[str]]:
    """A client whose server pages ``ids`` by offset, ``cap`` at most a page; ``edits[n]`` changes
    the list just before the n-th request (from 1) is answered; ``fixed``: a page size that ignores
    ``per_page``. ``asked`` holds ``page:per_page``."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.params['page']}:{request.url.params['per_page']}")
        (edits or {}).get(len(asked), lambda _ids: None)(ids)
        size = fixed or min(int(request.url.params["per_page"]), cap)
        start = (int(request.url.params["page"]) - 1) * size
        return httpx.Response(200, json={"pipelines": [{"id": i, "name": f"p{i}"} for i in ids[start : start + size]]})

    return BuddyClient("https://api.example.test", "t0ken", transport=httpx.MockTransport(handler)), asked


def test_a_short_sorted_first_page_is_proven_whole_by_one_page_that_overlaps_its_last_item() -> None:
    client, asked = offsets([1, 2, 3, 4, 5])
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [1, 2, 3, 4, 5]
    assert items.checked
    assert asked == ["1:100", "2:4"]  # [5] alone: five items, and none removed in front of the last


def test_the_overlap_reads_on_at_its_own_page_size_when_the_server_caps_pages_at_the_first_ones_length() -> None:
    client, asked = offsets(list(range(1, 13)), cap=5)
    with client:
        items = client.list_pipelines("acme", "web")
    assert [p["id"] for p in items] == list(range(1, 13))
    assert asked == ["1:100", "2:4", "3:4", "4:4"]  # 1-5; 5-8; 9-12; and the empty page that ends it


def test_a_removal_in_front_before_the_overlap_is_seen_and_the_list_read_again() -> None:
    client, asked = offsets([1, 2, 3, 4, 5], edits={2: lambda ids: ids.remove(1)})
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [2, 3, 4, 5]  # never #1, which is gone; never a missed one
    assert asked[:2] == ["1:100", "2:4"] and len(asked) > 2


def test_a_pipeline_added_at_the_end_before_the_overlap_is_read_with_the_rest() -> None:
    client, asked = offsets([1, 2, 3, 4, 5], edits={2: lambda ids: ids.append(9)})
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [1, 2, 3, 4, 5, 9]
    assert asked == ["1:100", "2:4"]


def test_a_list_that_is_not_sorted_by_id_gets_no_overlap_and_is_confirmed_by_its_first_page_again() -> None:
    client, asked = offsets([3, 1, 2, 5, 4])  # a server that ignores sort_by: an added item may land anywhere
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [3, 1, 2, 5, 4]
    assert asked == ["1:100", "2:100", "1:100"]


def test_an_overlap_that_does_not_go_on_in_ascending_order_proves_nothing() -> None:
    client, asked = offsets([1, 2, 3, 4, 5, 8, 6], cap=5)  # page 1 happens to ascend; the rest does not
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [1, 2, 3, 4, 5, 8, 6]
    assert asked == ["1:100", "2:4", "2:100", "1:100"]


def test_a_server_that_ignores_per_page_still_has_its_list_read_whole() -> None:
    client, asked = offsets([1, 2, 3, 4, 5, 6, 7], fixed=20)  # pages of 20, whatever is asked
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [1, 2, 3, 4, 5, 6, 7]
    assert asked == ["1:100", "2:6", "2:100", "1:100"]  # the overlap found nothing: read on as usual


def test_a_short_action_list_is_proven_whole_by_the_pipeline_that_holds_it() -> None:
    with served(seed()) as (app, client):
        items = client.list_actions("acme", "web", 600, confirm=True)
        routes = app.stats()["by_route"]
    assert [a["id"] for a in items] == [6000 + i for i in range(MID)]
    assert items.checked
    # the pipeline's one answer, not an empty page and page 1 again
    assert (routes["GET /pipelines/:pipeline_id/actions"], routes["GET /pipelines/:pipeline_id"]) == (1, 1)


def test_an_action_list_whose_pipeline_disagrees_is_confirmed_by_its_pages_instead() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path.rsplit("/", 1)[-1])
        if request.url.path.endswith("/actions"):
            page = int(request.url.params["page"])
            return httpx.Response(200, json={"actions": [{"id": 7, "name": "a"}] if page == 1 else []})
        return httpx.Response(200, json={"id": 3, "name": "p"})  # a pipeline that does not list its actions

    with BuddyClient("https://api.example.test", "t0ken", transport=httpx.MockTransport(handler)) as client:
        items = client.list_actions("acme", "web", 3, confirm=True)
    assert [a["id"] for a in items] == [7]
    assert asked == ["actions", "3", "actions", "actions"]  # the pipeline asked once a read


def test_a_plan_reads_a_long_pipeline_list_again_before_it_plans_a_create(tmp_path: Path) -> None:
    # 45 pipelines at 30 a page: "svc-44" is declared and live; a second read confirms nothing was skipped
    path = tmp_path / "web.yml"
    path.write_text(config() + "  - name: brand-new\n    actions: []\n", encoding="utf-8")
    with served(seed()) as (app, client):
        app.set_switches(per_page_max=30)
        made = engine.plan(engine.given(client), [path], Options())
        listed = app.stats()["by_route"]["GET /pipelines"]
    assert [c.pipeline for c in made.changes] == ["brand-new"]
    # page 1 (30), then page 2 at 29 a page, which starts with page 1's last pipeline: nobody removed
    # one in front meanwhile (the list is sorted by id, so one added lands at the end), the read is whole
    assert listed == 2


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


def test_a_first_page_asked_again_that_came_back_shorter_makes_the_list_read_again() -> None:
    # pages of 2 over [1, 2, 3]: #2 goes before page 2 (empty, #3 slid onto page 1), #3 before page 1 again
    client, asked = scripted([[1, 2], [], [1], [1], [], [1]])
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
    assert [p["id"] for p in items] == [1]  # never [1, 2]: that was never the list
    assert asked[:3] == ["1", "2", "1"] and len(asked) > 3


def test_a_page_of_a_read_thrown_away_does_not_teach_the_run_how_full_a_page_can_be() -> None:
    # ids out of order (no overlap probe): a first read of three is thrown away (page 1 again differs);
    # its page of three must not prove a later page of two the end: that read asks on
    client, asked = scripted([[3, 2, 1], [], [9], [2, 1], [], [2, 1], [5, 4, 3, 2]])
    with client:
        items = client.list_pipelines("acme", "web", confirm=True)
        assert [p["id"] for p in items] == [2, 1]
        assert asked == ["1", "2", "1", "1", "2", "1"]
        assert client.list_pipelines("acme", "web") == [{"id": i, "name": f"p{i}"} for i in (5, 4, 3, 2)]
    assert asked[6:] == ["1", "2"]  # 4 items: more than the 2 the kept read taught, so not proven the end


def test_one_overfull_page_from_a_bad_answer_does_not_cut_later_lists_short() -> None:
    # pages of 7; one answer of a full 100 (a deviant page, its read then thrown away by the pipeline's
    # own answer): later action lists of 10 must still be read past their first page of 7
    data = seed()
    data["workspaces"]["acme"]["projects"]["web"]["pipelines"].append(
        {"id": 700, "name": "ten", "actions": [{"id": 7000 + i, "name": f"t-{i}", "type": "BUILD"} for i in range(10)]}
    )
    with served(data) as (app, client):
        app.set_switches(per_page_max=7)
        route = "/pipelines/:pipeline_id/actions"
        app.set_faults({"kind": "deviant", "mode": "endless_pages", "count": 1, "route": route})
        first = client.list_actions("acme", "web", 600, confirm=True)
        later = client.list_actions("acme", "web", 700, confirm=True)
    assert [a["id"] for a in first] == [6000 + i for i in range(MID)]
    assert [a["id"] for a in later] == [7000 + i for i in range(10)]
