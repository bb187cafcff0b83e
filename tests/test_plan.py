"""The plan as a value: summary, JSON round trip, safety threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import PlanError, UnsafePlanError, UsageError
from reconciler.plan import Change, Plan, Target, fingerprint, read_plan_file, write_plan_file


def change(kind: str, n: int = 1, **kw) -> Change:
    base = {"workspace": "acme", "project": "web", "pipeline": "Release", "pipeline_id": 7}
    base.update(kw)
    return Change(kind=kind, action_name=f"a{n}", action_id=n if kind != "create" else None, **base)  # type: ignore[arg-type]


def plan_with(*changes: Change, live: int = 10) -> Plan:
    return Plan(Target("https://api.buddy.works"), list(changes), live_counts={"acme/web/7": live})


def test_the_summary_counts_each_kind():
    plan = plan_with(change("create"), change("update", 2), change("delete", 3), change("delete", 4))
    assert plan.summary == {"create": 1, "update": 1, "delete": 2, "create_pipeline": 0, "update_pipeline": 0}


def test_a_plan_survives_a_json_round_trip():
    plan = plan_with(
        change("create", fields={"name": "a1", "password": "${env:X}"}, after_action_id=3, after_action_name="Tests")
    )
    plan.fingerprints["acme/web/7"] = "sha256:abc"
    plan.declared["acme/web/7"] = {"3": ["cache_mode"]}
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again.changes == plan.changes
    assert again.fingerprints == plan.fingerprints and again.declared == plan.declared
    assert again.target == plan.target


def test_the_json_plan_has_the_keys_of_the_spec():
    data = plan_with(change("update", diff={"cache_mode": {"from": "MIN", "to": "MAX"}})).to_json()
    assert {"format_version", "changes", "summary", "skipped", "warnings", "target", "fingerprints"} <= set(data)
    assert {
        "kind",
        "workspace",
        "project",
        "pipeline",
        "pipeline_id",
        "action_name",
        "action_id",
        "after_action_id",
        "after_action_name",
        "fields",
        "diff",
    } <= set(data["changes"][0])


def test_a_file_that_is_not_a_plan_is_refused_with_a_message():
    with pytest.raises(PlanError, match="format_version"):
        Plan.from_json({"changes": []})
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_json({"format_version": 1, "changes": []})


def test_deleting_more_than_thirty_percent_of_five_or_more_actions_is_refused():
    plan = plan_with(*(change("delete", i) for i in range(4)), live=10)
    with pytest.raises(UnsafePlanError, match="4 deletes of 10 live actions"):
        plan.raise_if_unsafe(force=False)
    plan.raise_if_unsafe(force=True)


def test_thirty_percent_exactly_is_allowed_and_small_pipelines_are_exempt():
    plan_with(*(change("update", i) for i in range(3)), live=10).raise_if_unsafe(force=False)
    plan_with(*(change("delete", i) for i in range(4)), live=4).raise_if_unsafe(force=False)


def test_fingerprints_depend_on_order_and_keys_name_absent_pipelines():
    a = fingerprint([(1, "A", "X"), (2, "B", "X")], {})
    b = fingerprint([(2, "B", "X"), (1, "A", "X")], {})
    assert a != b and a.startswith("sha256:")
    assert change("create", None).pipeline_key == "acme/web/7"


def test_a_plan_file_with_a_key_that_names_no_pipeline_is_refused():
    data = Plan(Target("https://api.buddy.works"), fingerprints={"acme/web/7": "sha256:x"}).to_json()
    assert Plan.from_json(data).fingerprints == {"acme/web/7": "sha256:x"}
    data["fingerprints"] = {"acme/web/seven": "sha256:x"}
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_json(data)


def test_the_plan_file_keeps_references_and_reads_back(tmp_path: Path):
    made = plan_with(change("create", fields={"name": "a1", "password": "${env:DOCKERHUB_TOKEN}"}))
    path = tmp_path / "out" / "plan.json"
    write_plan_file(made, path)
    assert json.loads(path.read_text())["changes"][0]["fields"]["password"] == "${env:DOCKERHUB_TOKEN}"
    assert read_plan_file(path).changes == made.changes
    assert not (tmp_path / "out" / "plan.json.tmp").exists()


def test_a_missing_plan_file_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read the plan file"):
        read_plan_file(tmp_path / "nope.json")
