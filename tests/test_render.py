"""What reviewers read: the text, markdown and JSON plans, masking, annotations."""

from __future__ import annotations

import io

from reconciler import render
from reconciler.plan import Change, Plan, Skipped, Target

COMMON = {"workspace": "acme", "project": "web", "pipeline": "Release images", "pipeline_id": 7}


def sample() -> Plan:
    return Plan(
        Target("https://api.buddy.works"),
        [
            Change(
                "create",
                action_name="Build app image",
                after_action_id=40,
                after_action_name="Run tests",
                fields={
                    "name": "Build app image",
                    "type": "DOCKER_BUILD_MULTI_ARCH",
                    "dockerfile_path": "Dockerfile",
                    "password": "${env:DOCKERHUB_TOKEN}",
                    "login": "${env:DOCKERHUB_USER}",
                    "secrets": [{"id": "npmrc", "value": ".npmrc", "type": "FILE"}],
                },
                **COMMON,
            ),
            Change(
                "update",
                action_name="Build worker image",
                action_id=42,
                fields={"cache_mode": "MAX"},
                diff={"cache_mode": {"from": "MIN", "to": "MAX"}},
                **COMMON,
            ),
            Change("delete", action_name="Old build", action_id=43, reason="prune: not declared in web.yml", **COMMON),
        ],
        skipped=[Skipped("acme", "web", "Docs", 9, "defined in Buddy YAML (git_config_ref FIXED)")],
    )


def text_of(plan: Plan) -> str:
    out = io.StringIO()
    render.write_text(plan, out)
    return out.getvalue()


def test_the_text_plan_reads_like_the_spec():
    text = text_of(sample())
    assert 'acme/web  pipeline "Release images" (#7)' in text
    assert '+ create  "Build app image"' in text and 'after "Run tests" (#40)' in text
    assert "cache_mode" in text and "MIN -> MAX" in text
    assert '- delete  "Old build" (#43)' in text and "prune: not declared in web.yml" in text
    assert 'pipeline "Docs" (#9)  skipped: defined in Buddy YAML' in text
    assert "Plan: 1 to create, 1 to update, 1 to delete in 1 pipeline." in text


def test_secrets_and_env_values_are_masked_in_every_format():
    plan = sample()
    out = io.StringIO()
    render.write_text(plan, out)
    render.write_markdown(plan, out)
    render.write_json(plan, out)
    text = out.getvalue()
    assert "DOCKERHUB_TOKEN" not in text and "DOCKERHUB_USER" not in text and ".npmrc" not in text
    assert "(sensitive)" in text


def test_an_empty_plan_says_there_is_nothing_to_do():
    assert "No changes." in text_of(Plan(Target("x")))


def test_markdown_puts_each_change_symbol_in_the_first_column_so_a_pull_request_colours_it():
    out = io.StringIO()
    render.write_markdown(sample(), out)
    text = out.getvalue()
    assert "| pipeline | create | update | delete |" in text
    assert "<details>" in text and "```diff" in text
    lines = text.splitlines()
    assert '! update  "Build worker image" (#42)' in lines
    assert "+       dockerfile_path  Dockerfile" in lines
    assert any(line.startswith('- delete  "Old build" (#43)') for line in lines)


def test_markdown_cuts_detail_from_the_end_and_names_what_it_left_out():
    changes = [
        Change(
            "update",
            workspace="acme",
            project="web",
            pipeline=f"P{i}",
            pipeline_id=i,
            action_name="a" * 50,
            action_id=i,
            fields={"x": 1},
            diff={"x": {"from": "y" * 900, "to": 1}},
        )
        for i in range(100)
    ]
    out = io.StringIO()
    render.write_markdown(Plan(Target("x"), changes), out, limit=20_000)
    text = out.getvalue()
    assert len(text) < 20_000
    assert "not shown:" in text and '"P99"' in text


def test_github_annotations_escape_newlines_and_locate_problems():
    line = render.github_annotation("error", "bad\nthing", file="a,b.yml", line=3, col=4)
    assert line == "::error file=a%2Cb.yml,line=3,col=4::bad%0Athing"


def pipeline_update() -> Plan:
    return Plan(
        Target("https://api.buddy.works"),
        [
            Change(
                "update_pipeline",
                fields={"name": "Release", "priority": "HIGH", "target_site_url": "${env:SITE}"},
                diff={
                    "name": {"from": "Release images", "to": "Release"},
                    "priority": {"from": "NORMAL", "to": "HIGH"},
                    "target_site_url": {"from": "(sensitive)", "to": "(sensitive)"},
                },
                **{**COMMON, "pipeline": "Release"},
            )
        ],
    )


def test_a_pipeline_update_shows_each_field_old_to_new_and_is_counted():
    text = text_of(pipeline_update())
    assert '  ~ update pipeline "Release" (#7)\n' in text
    assert "name             Release images -> Release" in text
    assert "priority         NORMAL -> HIGH" in text
    assert "target_site_url  (sensitive)\n" in text and "${env:SITE}" not in text
    assert "Plan: 0 to create, 0 to update, 0 to delete in 1 pipeline (1 with pipeline settings to update)." in text
    assert pipeline_update().summary["update_pipeline"] == 1


def test_a_pipeline_update_in_markdown_is_a_changed_line_and_marked_in_the_table():
    out = io.StringIO()
    render.write_markdown(pipeline_update(), out)
    text = out.getvalue()
    assert '| acme/web  pipeline "Release" (#7) (pipeline updated) | 0 | 0 | 0 |' in text
    assert '! update pipeline "Release" (#7)' in text and "!       priority         NORMAL -> HIGH" in text


def test_a_pipeline_update_is_named_in_the_apply_report():
    [change] = pipeline_update().changes
    assert render.describe_change(change) == 'update pipeline acme/web "Release" (#7)'
