"""A partial list item never wipes what it leaves out: the PATCH merges it with the live item."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from support import served
from test_apply import SEED, apply_files, pipeline_fields

from reconciler.plan.merge import merged

SCHEDULE = {"type": "SCHEDULE", "cron": "0 3 * * *", "timezone": "Europe/Warsaw", "refs": ["refs/heads/main"]}
CONDITION = {"trigger_condition": "VAR_IS", "trigger_variable_key": "DEPLOY", "trigger_variable_value": "yes"}

CONFIG = """\
workspace: acme
project: web
pipelines:
  - id: 7
    events:
      - {type: SCHEDULE, cron: "30 4 * * *"}
    trigger_conditions:
      - {trigger_condition: VAR_IS, trigger_variable_value: "no"}
    actions: []
"""


def test_a_declared_item_gets_the_live_items_other_keys_only_when_it_is_the_same_item() -> None:
    live = [SCHEDULE, {"type": "PUSH", "refs": ["refs/heads/main"]}]
    desired: list[dict[str, Any]] = [{"type": "SCHEDULE", "cron": "1 1 * * *"}, {"type": "CREATE_REF"}]
    assert merged("events", desired, live) == [{**SCHEDULE, "cron": "1 1 * * *"}, {"type": "CREATE_REF"}]
    assert merged("permissions", {"others": "DENIED"}, {"others": "READ_ONLY", "users": []}) == {
        "others": "DENIED",
        "users": [],
    }
    assert merged("refs", ["a"], ["b"]) == ["a"]


def test_changing_one_key_of_a_schedule_or_a_trigger_condition_keeps_the_items_other_keys_live(tmp_path: Path) -> None:
    seed = copy.deepcopy(SEED)
    pipeline = seed["workspaces"]["acme"]["projects"]["web"]["pipelines"][0]
    assert pipeline["id"] == 7
    pipeline.update(events=[SCHEDULE], trigger_conditions=[CONDITION])
    config = tmp_path / "web.yml"
    config.write_text(CONFIG)
    with served(seed) as (app, client):
        made, report = apply_files(client, config)
        assert report.ok
        (change,) = [c for c in made.changes if c.kind == "update_pipeline"]
        assert change.diff["events"]["to"] == [{**SCHEDULE, "cron": "30 4 * * *"}]  # the plan shows the merged item
        live = pipeline_fields(app, 7)
        assert live["events"] == [{**SCHEDULE, "cron": "30 4 * * *"}]
        assert {k: v for k, v in live["trigger_conditions"][0].items() if v is not None} == {
            **CONDITION,
            "trigger_variable_value": "no",
        }
        again, _ = apply_files(client, config)
        assert not again.has_changes
