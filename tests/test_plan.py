"""The plan as a value: summary, JSON round trip, safety threshold."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from reconciler.errors import PlanError, UnsafePlanError, UsageError
from reconciler.plan import Change, Limits, Plan, Target, fingerprint
from reconciler.planfile import read_plan_file, write_plan_file


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
        plan.safety["acme/web/7"] = file
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
    plan.safety["acme/web/7"] = {"max_delete_percent": 50}
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again.safety == {"acme/web/7": {"max_delete_percent": 50}}
    again.raise_if_unsafe(force=False, live_counts={"acme/web/7": 8})


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


# -- edited plan files -------------------------------------------------------------------------------


def saved_plan() -> dict:
    """A plan file's data: a new pipeline with two chained creates, and an update elsewhere."""
    new = {"workspace": "acme", "project": "web", "pipeline": "New", "pipeline_id": None}
    made = Plan(
        Target("https://api.buddy.works"),
        [
            Change(kind="create_pipeline", fields={"name": "New"}, **new),  # type: ignore[arg-type]
            Change(kind="create", action_name="A", fields={"name": "A"}, **new),  # type: ignore[arg-type]
            Change(kind="create", action_name="B", after_action_name="A", fields={"name": "B"}, **new),  # type: ignore[arg-type]
            change("update", 41, diff={"cache_mode": {"from": "MIN", "to": "MAX"}}, fields={"cache_mode": "MAX"}),
        ],
        fingerprints={"acme/web/7": "sha256:x", "acme/web/name:New": "absent"},
        declared={"acme/web/7": {"41": ["cache_mode"]}},
    )
    return json.loads(json.dumps(made.to_json()))


def test_a_saved_plan_with_every_kind_of_field_reads_back():
    data = saved_plan()
    again = Plan.from_json(data)
    assert [c.kind for c in again.changes] == ["create_pipeline", "create", "create", "update"]
    assert again.declared == {"acme/web/7": {"41": ["cache_mode"]}}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["changes"][3].update(pipeline_id="x"),
            'changes[3].pipeline_id: expected an integer or null, got "x"',
        ),
        (lambda d: d["changes"][3].update(action_id=None), "changes[3].action_id: expected an integer, got null"),
        (lambda d: d["changes"][3].update(action_id=True), "changes[3].action_id: expected an integer, got true"),
        (
            lambda d: d["changes"][0].update(kind="rename"),
            "changes[0].kind: expected one of create_pipeline, update_pipeline, create",
        ),
        (lambda d: d["changes"][2].update(after_action_name="Z"), 'changes[2].after_action_name: "Z" is not created'),
        (lambda d: d["changes"][1].update(fields=[1]), "changes[1].fields: expected an object, got a list"),
        (
            lambda d: d["changes"][3].update(diff={"cache_mode": "MAX"}),
            "changes[3].diff.cache_mode: expected an object",
        ),
        (lambda d: d["changes"][1].update(workspace=7), "changes[1].workspace: expected a non-empty string, got 7"),
        (lambda d: d["changes"].pop(0), "changes[0].pipeline_id: expected an integer (no earlier change creates"),
        (lambda d: d.update(declared=[]), "declared: expected an object, got a list"),
        (lambda d: d["declared"]["acme/web/7"].update(x=["a"]), 'declared["acme/web/7"] key: expected an action id'),
        (lambda d: d["fingerprints"].update({"acme/web/7": 3}), 'fingerprints["acme/web/7"]: expected a non-empty'),
        (lambda d: d["target"].update(base_url=None), "target.base_url: expected a non-empty string, got null"),
        (lambda d: d.update(warnings=[1]), "warnings[0]: expected a string, got 1"),
        (lambda d: d.update(skipped=[{"pipeline": "Docs"}]), "skipped[0].reason: expected a non-empty string"),
        (lambda d: d.update(changes={}), "changes: expected a list, got an object"),
    ],
)
def test_an_edited_plan_file_is_refused_naming_the_field(edit, message: str):
    data = saved_plan()
    edit(data)
    with pytest.raises(PlanError) as caught:
        Plan.from_json(data, source="plan.json")
    assert str(caught.value).startswith("plan.json is malformed: ")
    assert message in str(caught.value)


def test_a_plan_of_another_format_version_says_which():
    data = saved_plan()
    data["format_version"] = 2
    with pytest.raises(PlanError, match="format_version 2; this reconcile reads format_version 1"):
        Plan.from_json(data)
    data["format_version"] = True  # JSON true is not the integer 1
    with pytest.raises(PlanError, match="is not a plan of format_version 1"):
        Plan.from_json(data)


# -- where --out writes ------------------------------------------------------------------------------


def test_out_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path: Path):
    target = tmp_path / "plans" / "real.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "plan.json"
    link.symlink_to(target)
    write_plan_file(plan_with(change("delete")), link)
    assert link.is_symlink() and json.loads(target.read_text())["summary"]["delete"] == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["real.json"]


def test_out_into_a_fifo_writes_into_it_without_replacing_it(tmp_path: Path):
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    write_plan_file(plan_with(change("delete")), fifo)
    reader.join(timeout=10)
    assert json.loads(received[0])["summary"]["delete"] == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode) and os.listdir(tmp_path) == ["plan.fifo"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "plan.json"
    path.write_text("old")

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("reconciler.planfile.os.replace", full)
    with pytest.raises(UsageError, match=r"cannot write the plan to .*plan\.json: No space left on device"):
        write_plan_file(plan_with(change("delete")), path)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["plan.json"]


def test_out_naming_a_directory_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="it is a directory"):
        write_plan_file(plan_with(), tmp_path)


def test_a_new_plan_file_gets_the_usual_permissions_and_a_replaced_one_keeps_its_own(tmp_path: Path):
    fresh = tmp_path / "fresh.json"
    write_plan_file(plan_with(), fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    kept.chmod(0o640)
    write_plan_file(plan_with(), kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
