"""The plan as a value: summary, JSON round trip, safety threshold."""

from __future__ import annotations

import json

import pytest
from support import change, plan_with

from reconciler.errors import UnsafePlanError
from reconciler.plan.plan import Limits
from reconciler.plan.planfile import plan_from_json


def test_the_summary_counts_each_kind():
    plan = plan_with(change("create"), change("update", 2), change("delete", 3), change("delete", 4))
    assert plan.summary == {
        "create": 1,
        "update": 1,
        "delete": 2,
        "create_pipeline": 0,
        "update_pipeline": 0,
        "delete_pipeline": 0,
    }


def test_a_plan_survives_a_json_round_trip():
    plan = plan_with(
        change("create", fields={"name": "a1", "password": "${env:X}"}, after_action_id=3, after_action_name="Tests")
    )
    unit = plan.unit("acme/web/7")
    assert unit is not None
    unit.fingerprint, unit.declared_actions = "sha256:abc", {3: ["cache_mode"]}
    again = plan_from_json(json.loads(json.dumps(plan.to_json())))
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


#: The safety check as data: (live actions, deletes, updates, limits from the flags, the file's
#: ``safety:``, --force) → refused or allowed. Deletes: refused over the limit and more than one;
#: updates: refused over the limit only in a pipeline of 10 or more live actions.
SAFETY_TABLE = [
    # live, deletes, updates, flags, file, force, refused
    (8, 3, 0, Limits(), None, False, True),  # 37.5% and 3 deletes
    (10, 3, 0, Limits(), None, False, False),  # 30% exactly is allowed
    (10, 4, 0, Limits(), None, False, True),
    (3, 1, 0, Limits(), None, False, False),  # 33%, but a single delete
    (2, 2, 0, Limits(), None, False, True),  # every action, two of them
    (1, 1, 0, Limits(), None, False, False),  # the only action
    (6, 0, 2, Limits(), None, False, False),  # two updates in six: small pipelines are not gated
    (9, 0, 9, Limits(), None, False, False),  # every action of nine
    (10, 0, 3, Limits(), None, False, False),
    (10, 0, 4, Limits(), None, False, True),
    (20, 0, 7, Limits(), None, False, True),
    (8, 3, 0, Limits(max_delete_percent=50), None, False, False),  # --max-delete-percent 50
    (10, 0, 4, Limits(max_update_percent=40), None, False, False),  # --max-update-percent 40
    (10, 2, 0, Limits(max_delete_percent=10), None, False, True),
    (8, 3, 0, Limits(), {"max_delete_percent": 50}, False, False),  # the file's safety: loosens
    (8, 3, 0, Limits(max_delete_percent=50), {"max_delete_percent": 20}, False, True),  # the file wins
    (10, 0, 4, Limits(), {"max_update_percent": 40}, False, False),
    (10, 0, 4, Limits(), {"max_delete_percent": 90}, False, True),  # only the key given changes
    (8, 3, 0, Limits(), None, True, False),  # --force
    (10, 0, 10, Limits(), None, True, False),
]


@pytest.mark.parametrize(("live", "deletes", "updates", "flags", "file", "force", "refused"), SAFETY_TABLE)
def test_the_safety_check_refuses_exactly_what_the_table_says(live, deletes, updates, flags, file, force, refused):
    changes = [change("delete", i) for i in range(deletes)] + [change("update", 100 + i) for i in range(updates)]
    plan = plan_with(*changes, live=live)
    if file is not None:
        plan.pipelines[0].safety = file
    if refused:
        with pytest.raises(UnsafePlanError):
            plan.raise_if_unsafe(force=force, limits=flags)
    else:
        plan.raise_if_unsafe(force=force, limits=flags)


def test_secret_re_sends_are_not_counted_as_updates():
    resend = {"password": {"from": "(sensitive)", "to": "(sensitive)", "resend": True}}
    real = {"cache_mode": {"from": "MIN", "to": "MAX"}, **resend}
    plan = plan_with(*(change("update", i, diff=resend) for i in range(8)), change("update", 9, diff=real), live=10)
    [count] = plan.safety_counts(limits=Limits())
    assert (count.live, count.updates, count.refused) == (10, 1, False)


def test_the_refusal_names_what_was_counted_per_pipeline():
    plan = plan_with(*(change("delete", i) for i in range(4)), *(change("update", 10 + i) for i in range(5)), live=12)
    with pytest.raises(UnsafePlanError) as caught:
        plan.raise_if_unsafe(force=False)
    assert caught.value.message == (
        "refusing to apply: the safety check counted\n"
        '  acme/web pipeline "Release": 12 live actions (of any type); 4 deletes, over the limit of 30%; '
        "5 updates, over the limit of 30%\n"
        "Nothing was changed. Review the plan; if it is what you want, run apply again with --force, or raise "
        "the limit with --max-delete-percent / --max-update-percent or the pipeline's `safety:` in its file."
    )


def test_the_plan_warns_as_apply_would_refuse_and_says_when_force_skips_it():
    plan = plan_with(*(change("delete", i) for i in range(3)), live=5)
    plan.add_safety_warnings(Limits())
    assert plan.warnings == [
        'apply would refuse this without --force: acme/web pipeline "Release": 5 live actions (of any type); '
        "3 deletes, over the limit of 30%; 0 updates (not limited under 10 live actions)"
    ]
    forced = plan_with(*(change("delete", i) for i in range(3)), live=5)
    forced.add_safety_warnings(Limits(), force=True)
    assert forced.warnings[0].startswith("the safety check was skipped (--force); it would refuse: ")


def test_a_pipelines_own_limits_survive_the_plan_file():
    plan = plan_with(*(change("delete", i) for i in range(3)), live=8)
    plan.pipelines[0].safety = {"max_delete_percent": 50}
    again = plan_from_json(json.loads(json.dumps(plan.to_json())))
    assert again.safety == {"acme/web/7": {"max_delete_percent": 50}}
    again.raise_if_unsafe(force=False, live_counts={"acme/web/7": 8})


def test_a_change_keys_its_pipeline_by_id():
    assert change("create", None).pipeline_key == "acme/web/7"
