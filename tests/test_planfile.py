"""Plan files: ``plan --out`` writes them (through links, into special files, atomically) and
``apply --plan`` reads them back, refusing an edited or damaged one naming the field."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from support import change, plan_with

from reconciler.errors import PlanError, UsageError
from reconciler.plan import elements, planfile
from reconciler.plan.changes import CreateAction, CreatePipeline
from reconciler.plan.plan import Plan, Target
from reconciler.plan.planfile import plan_from_json, read_plan_file, write_plan_file


def test_a_file_that_is_not_a_plan_is_refused_with_a_message():
    with pytest.raises(PlanError, match="format_version"):
        plan_from_json({"changes": []})
    with pytest.raises(PlanError, match="malformed"):
        plan_from_json({"format_version": 1, "changes": []})


def test_a_plan_file_with_a_key_that_names_no_pipeline_is_refused():
    data = Plan.of(Target("https://api.buddy.works"), fingerprints={"acme/web/7": "sha256:x"}).to_json()
    assert plan_from_json(data).fingerprints == {"acme/web/7": "sha256:x"}
    data["fingerprints"] = {"acme/web/seven": "sha256:x"}
    with pytest.raises(PlanError, match="malformed"):
        plan_from_json(data)


def test_the_plan_file_keeps_references_and_reads_back(tmp_path: Path):
    made = plan_with(change("create", fields={"name": "a1", "password": "${env:DOCKERHUB_TOKEN}"}))
    path = tmp_path / "out" / "plan.json"
    write_plan_file(made, path)
    assert json.loads(path.read_text())["changes"][0]["fields"]["password"] == "${env:DOCKERHUB_TOKEN}"
    assert read_plan_file(path).changes == made.changes
    assert not (tmp_path / "out" / "plan.json.tmp").exists()


def test_a_plan_whose_updates_carry_element_paths_reads_back(tmp_path: Path):
    before, after = ["A=1", "B=2"], ["A=1", "B=3"]
    paths = [c.to_json() for c in elements.changes("build_args", before, after)]
    made = plan_with(
        change(
            "update",
            41,
            diff={"build_args": {"from": before, "to": after, "paths": paths}},
            fields={"build_args": after},
        )
    )
    path = tmp_path / "plan.json"
    write_plan_file(made, path)
    assert read_plan_file(path).changes == made.changes


def test_a_missing_plan_file_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read the plan file"):
        read_plan_file(tmp_path / "nope.json")


def test_a_plan_file_that_never_ends_or_never_opens_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"not a regular file \(a character device\); a plan file must be one"):
        read_plan_file(Path("/dev/zero"))
    with pytest.raises(UsageError, match="not a regular file"):
        read_plan_file(fifo)  # opened without blocking: no writer is waited for
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:  # sparse: costs no disk
        handle.truncate(1024 + 1)
    monkeypatch.setattr(planfile, "MAX_PLAN_BYTES", 1024)
    with pytest.raises(UsageError, match=r"larger than 0\.0009765.* MiB .* a plan file that big is refused unread"):
        read_plan_file(big)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format_version": NaN}', "NaN is not a JSON value"),
    ],
)
def test_a_damaged_plan_file_is_a_plan_error(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(PlanError, match=message):
        read_plan_file(path)


# -- edited plan files -------------------------------------------------------------------------------


def saved_plan() -> dict:
    """A plan file's data: a new pipeline with two chained creates, and an update elsewhere."""
    new = {"workspace": "acme", "project": "web", "pipeline": "New", "pipeline_id": None}
    made = Plan.of(
        Target("https://api.buddy.works"),
        [
            CreatePipeline(fields={"name": "New"}, **new),  # type: ignore[arg-type]
            CreateAction(action_name="A", fields={"name": "A"}, **new),  # type: ignore[arg-type]
            CreateAction(action_name="B", after_action_name="A", fields={"name": "B"}, **new),  # type: ignore[arg-type]
            change("update", 41, diff={"cache_mode": {"from": "MIN", "to": "MAX"}}, fields={"cache_mode": "MAX"}),
        ],
        fingerprints={"acme/web/7": "sha256:x", "acme/web/name:New": "absent"},
        declared={"acme/web/7": {"41": ["cache_mode"]}},
    )
    return json.loads(json.dumps(made.to_json()))


def test_a_saved_plan_with_every_kind_of_field_reads_back():
    data = saved_plan()
    again = plan_from_json(data)
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
            "changes[0].kind: expected one of create_pipeline, update_pipeline, delete_pipeline, create",
        ),
        (lambda d: d["changes"][2].update(after_action_name="Z"), 'changes[2].after_action_name: "Z" is not created'),
        (lambda d: d["changes"][1].update(fields=[1]), "changes[1].fields: expected an object, got a list"),
        (
            lambda d: d["changes"][3].update(diff={"cache_mode": "MAX"}),
            "changes[3].diff.cache_mode: expected an object",
        ),
        (
            lambda d: d["changes"][3]["diff"]["cache_mode"].update(paths=["cache_mode"]),
            "changes[3].diff.cache_mode.paths[0]: expected an object",
        ),
        (
            lambda d: d["changes"][3]["diff"]["cache_mode"].update(paths=[{"path": "cache_mode", "op": "move"}]),
            "changes[3].diff.cache_mode.paths[0].op: expected one of change, add, remove",
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
        (
            lambda d: d["changes"][1].update(kind="delete_pipeline", pipeline_id=None),
            "changes[1].pipeline_id: expected an integer, got null",
        ),
        (lambda d: d.update(not_managed=[{"name": "Old"}]), "not_managed[0].pipeline_id: expected an integer"),
        (lambda d: d.update(project_pipelines={"acme/web": -1}), 'project_pipelines["acme/web"]: expected a whole'),
        (lambda d: d["changes"][3].update(sources={"cache_mode": 3}), "changes[3].sources.cache_mode: expected a"),
    ],
)
def test_an_edited_plan_file_is_refused_naming_the_field(edit, message: str):
    data = saved_plan()
    edit(data)
    with pytest.raises(PlanError) as caught:
        plan_from_json(data, source="plan.json")
    assert str(caught.value).startswith("plan.json is malformed: ")
    assert message in str(caught.value)


def test_a_plan_of_another_format_version_says_which():
    data = saved_plan()
    data["format_version"] = 2
    with pytest.raises(PlanError, match="format_version 2; this reconcile reads format_version 1"):
        plan_from_json(data)
    data["format_version"] = True  # JSON true is not the integer 1
    with pytest.raises(PlanError, match="is not a plan of format_version 1"):
        plan_from_json(data)


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

    monkeypatch.setattr("reconciler.atomic.os.replace", full)
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
