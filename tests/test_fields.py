"""The field table: what the schemas say of each field path, asked by validate, the diff and every renderer."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler import engine, fields, render, render_markdown
from reconciler.fields import SENSITIVE, FieldTable
from reconciler.model import MULTI_ARCH, ActionSummary, DesiredAction, DesiredPipeline, LivePipeline
from reconciler.plan.diff import Options, diff_pipeline
from reconciler.plan.plan import Plan, Target
from reconciler.problems import Location

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
LOC = Location("web.yml", 1, 1)


def test_the_shipped_schemas_mark_password_and_secret_values_write_only() -> None:
    table = fields.table()
    assert table.write_only == {"password", "secrets[].value"}
    assert fields.is_write_only("secrets[].value") and not fields.is_write_only("secrets[].id")
    assert {"url", "id", "current_revision", "after_action_id"} <= table.read_only
    assert fields.is_ours("after") and fields.is_ours("previous_names") and not fields.is_ours("login")
    assert fields.is_ours("prune", on="pipeline") and not fields.is_ours("priority", on="pipeline")


def test_paths_split_and_join_as_the_field_reference_writes_them() -> None:
    assert fields.split_path("secrets[].value") == ("secrets", "[]", "value")
    assert fields.join_path(("secrets", "[]", "value")) == "secrets[].value"
    assert fields.label("secrets", (3, "value")) == "secrets[].value"


def test_compare_rules_and_server_defaults_are_answered_per_field() -> None:
    assert fields.compare_rule("target_platform") == "platforms"
    assert fields.compare_rule("integration") == "integration"
    assert fields.compare_rule("build_args") == "value"
    assert fields.is_server_default("trigger_time", "ON_EVERY_EXECUTION")
    assert not fields.is_server_default("trigger_time", "ON_FAILURE")
    assert fields.is_server_default("disabled", False, on="pipeline")


def test_values_are_masked_stripped_and_found_along_the_write_only_paths() -> None:
    secrets = [{"id": "npm", "value": "s3cret", "type": "FILE"}, {"id": "tok", "type": "ENV"}]
    assert fields.masked("secrets", secrets) == [{"id": "npm", "value": SENSITIVE, "type": "FILE"}, secrets[1]]
    assert fields.strip_write_only("secrets", secrets) == [{"id": "npm", "type": "FILE"}, secrets[1]]
    assert fields.write_only_values("secrets", secrets) == [((0, "value"), "s3cret")]
    assert fields.masked("password", "hunter2") == SENSITIVE
    assert fields.masked("login", "${env:USER}") == SENSITIVE
    assert fields.masked("login", "bot") == "bot"
    assert not fields.has_write_only("secrets", [{"id": "tok"}])


# -- one more `writeOnly` in the schema, and nothing else changed -----------------------------------


@pytest.fixture
def login_write_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FieldTable:
    """The shipped schemas with ``login`` and ``variables[].value`` marked write-only, as the table."""
    directory = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, directory)
    path = directory / "action.schema.json"
    action = json.loads(path.read_text(encoding="utf-8"))
    action["properties"]["login"]["writeOnly"] = True
    action["$defs"]["EnvironmentVariableView"]["properties"]["value"]["writeOnly"] = True
    path.write_text(json.dumps(action), encoding="utf-8")
    table = FieldTable.from_dir(directory)
    monkeypatch.setattr(fields, "table", lambda: table)
    return table


def desired(**declared: Any) -> DesiredPipeline:
    action = DesiredAction("Build", MULTI_ARCH, {"name": "Build", "type": MULTI_ARCH, **declared}, LOC)
    return DesiredPipeline("acme", "web", "Release", None, None, {}, (action,), LOC, "web.yml")


LIVE = LivePipeline(7, "Release", {}, (ActionSummary(1, "Build", MULTI_ARCH),))
DECLARED = {"login": "bot-user", "variables": [{"key": "MODE", "value": "plain-mode"}]}


def test_the_new_write_only_field_is_read_from_the_schema(login_write_only: FieldTable) -> None:
    assert login_write_only.write_only == {"password", "secrets[].value", "login", "variables[].value"}
    assert fields.is_write_only("login") and fields.is_sensitive("login", "bot-user")


def test_validate_refuses_plaintext_in_the_new_write_only_fields(login_write_only: FieldTable, tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text(
        "workspace: acme\nproject: web\npipelines:\n  - name: Release\n    actions:\n"
        "      - name: Build\n        type: DOCKER_BUILD_MULTI_ARCH\n        login: bot-user\n"
        "        variables: [{key: MODE, value: plain-mode}]\n        password: ${env:TOKEN}\n",
        encoding="utf-8",
    )
    problems = engine.validate([config]).problems
    assert [(p.path, "must not be plaintext" in p.message) for p in problems] == [
        ("$.pipelines[0].actions[0].login", True),
        ("$.pipelines[0].actions[0].variables[0].value", True),
    ]
    assert not any("bot-user" in str(p) or "plain-mode" in str(p) for p in problems)


def test_the_diff_ignores_the_new_write_only_fields(login_write_only: FieldTable) -> None:
    live = {1: {"login": "someone-else", "variables": [{"key": "MODE", "value": "encrypted:9"}]}}
    assert diff_pipeline(desired(**DECLARED), LIVE, live, Options()).changes == []
    (update,) = diff_pipeline(desired(**DECLARED), LIVE, live, Options(update_secrets=True)).changes
    assert update.diff == {
        "login": {"from": SENSITIVE, "to": SENSITIVE, "resend": True},
        "variables": {"from": SENSITIVE, "to": [{"key": "MODE", "value": SENSITIVE}], "resend": True},
    }


def _every_format(plan: Plan) -> dict[str, str]:
    outputs = {}
    for name, write in (
        ("text", render.write_text),
        ("markdown", render_markdown.write_markdown),
        ("json", render.write_json),
    ):
        stream = io.StringIO()
        write(plan, stream)
        outputs[name] = stream.getvalue()
    return outputs


def _created_plan() -> Plan:
    result = diff_pipeline(desired(**DECLARED), None, {}, Options())
    return Plan.of(Target("https://api.buddy.works"), changes=result.changes)


def test_every_plan_format_masks_the_new_write_only_fields(login_write_only: FieldTable) -> None:
    for name, text in _every_format(_created_plan()).items():
        assert "bot-user" not in text and "plain-mode" not in text, name
        assert SENSITIVE in text and "MODE" in text, name


def test_without_the_annotation_the_same_values_are_shown() -> None:
    for name, text in _every_format(_created_plan()).items():
        assert "bot-user" in text and "plain-mode" in text, name


def test_a_pipelines_previous_names_are_ours_and_only_contract_summary_fields_come_with_the_list():
    assert fields.is_ours("previous_names", on="pipeline")
    assert "previous_names" not in fields.pipeline_fields()
    assert fields.in_pipeline_summary("refs") and fields.in_pipeline_summary("events")
    assert not fields.in_pipeline_summary("priority") and not fields.in_pipeline_summary("tags")
    assert fields.PIPELINE_SUMMARY_FIELDS.issubset(fields.pipeline_fields())
    assert fields.server_default("disabled", on="pipeline") is False
    assert fields.server_default("priority", on="pipeline") == "NORMAL"  # assumed: Buddy states none
    assert fields.server_default("pause_on_repeated_failures", on="pipeline") is None


def test_every_field_of_the_pipeline_model_is_a_pipeline_field_with_the_models_default():
    model = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "pipeline-model.json").read_text())
    assert set(fields.pipeline_fields()) == set(model["fields"])
    for name, spec in model["fields"].items():
        assert fields.server_default(name, on="pipeline") == spec.get("default"), name


def test_the_pipelines_read_only_keys_are_the_models():
    model = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "pipeline-model.json").read_text())
    assert set(model["read_only"]) == fields.PIPELINE_READ_ONLY
