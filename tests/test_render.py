"""What reviewers read: the text, markdown and JSON plans, masking, annotations."""

from __future__ import annotations

import io

from reconciler import annotate, render, render_markdown
from reconciler.apply import ApplyReport, Outcome
from reconciler.plan.changes import CreateAction, CreatePipeline, DeleteAction, UpdateAction, UpdatePipeline
from reconciler.plan.plan import Plan, Skipped, Target

COMMON = {"workspace": "acme", "project": "web", "pipeline": "Release images", "pipeline_id": 7}


def sample() -> Plan:
    return Plan.of(
        Target("https://api.buddy.works"),
        [
            CreateAction(
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
            UpdateAction(
                action_name="Build worker image",
                action_id=42,
                fields={"cache_mode": "MAX"},
                diff={"cache_mode": {"from": "MIN", "to": "MAX"}},
                **COMMON,
            ),
            DeleteAction(action_name="Old build", action_id=43, reason="prune: not declared in web.yml", **COMMON),
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
    render_markdown.write_markdown(plan, out)
    render.write_json(plan, out)
    text = out.getvalue()
    assert "DOCKERHUB_TOKEN" not in text and "DOCKERHUB_USER" not in text and ".npmrc" not in text
    assert "(sensitive)" in text


def test_an_empty_plan_says_there_is_nothing_to_do():
    assert "No changes." in text_of(Plan.of(Target("x")))


def test_markdown_puts_each_change_symbol_in_the_first_column_so_a_pull_request_colours_it():
    out = io.StringIO()
    render_markdown.write_markdown(sample(), out)
    text = out.getvalue()
    assert "| pipeline | create | update | delete |" in text
    assert "<details>" in text and "```diff" in text
    lines = text.splitlines()
    assert '! update  "Build worker image" (#42)' in lines
    assert "+       dockerfile_path  Dockerfile" in lines
    assert any(line.startswith('- delete  "Old build" (#43)') for line in lines)


def test_markdown_cuts_detail_from_the_end_and_names_what_it_left_out():
    changes = [
        UpdateAction(
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
    render_markdown.write_markdown(Plan.of(Target("x"), changes), out, limit=20_000)
    text = out.getvalue()
    assert len(text) < 20_000
    assert "not shown:" in text and '"P99"' in text


def test_github_annotations_escape_newlines_and_locate_problems():
    line = annotate.github_annotation("error", "bad\nthing", file="a,b.yml", line=3, col=4)
    assert line == "::error file=a%2Cb.yml,line=3,col=4::bad%0Athing"


# -- the apply summary ------------------------------------------------------------------------------

OTHER = {"workspace": "acme", "project": "api", "pipeline": "Nightly", "pipeline_id": 8}


def mixed_report() -> ApplyReport:
    """Two pipelines: one where everything landed, one where a create failed and the next was not tried."""
    created = CreateAction(action_name="Build app image", **COMMON)
    updated = UpdateAction(action_name="Build worker image", action_id=42, **COMMON)
    broken = CreateAction(action_name="Build api image", **OTHER)
    after = CreateAction(action_name="Build cron image", **OTHER)
    unsure = CreateAction(action_name="Build docs image", **OTHER)
    return ApplyReport(
        [
            Outcome(created, "applied", object_id=101),
            Outcome(updated, "applied", object_id=42),
            Outcome(broken, "failed", "400 cache_mode: must be one of MIN, MAX"),
            Outcome(after, "not tried", 'the create of "Build api image" before it failed'),
            Outcome(unsure, "uncertain", "no answer; the next plan shows whether it landed"),  # type: ignore[arg-type]
        ]
    )


def summary_of(report: ApplyReport, **kwargs: bool) -> list[str]:
    out = io.StringIO()
    render.write_apply_report(report, out, **kwargs)
    return out.getvalue().splitlines()


def test_the_apply_summary_groups_by_pipeline_and_lists_each_change_only_where_something_went_wrong():
    lines = summary_of(mixed_report())
    assert lines[0] == 'acme/web  pipeline "Release images" (#7): 2 applied'
    assert lines[1] == 'acme/api  pipeline "Nightly" (#8): 1 failed, 1 uncertain, 1 not tried'
    assert lines[2] == '    failed     create   "Build api image": 400 cache_mode: must be one of MIN, MAX'
    assert lines[3] == '    not tried  create   "Build cron image": the create of "Build api image" before it failed'
    assert lines[4].startswith('    uncertain  create   "Build docs image": no answer')
    assert lines[-1] == (
        "Apply incomplete: 2 applied, 1 failed, 1 uncertain, 1 not tried. "
        "Run `reconcile plan` to see what is left to do."
    )


def test_a_quiet_summary_keeps_only_the_pipelines_with_problems_and_the_verdict():
    lines = summary_of(mixed_report(), quiet=True)
    assert not any("Release images" in line for line in lines)
    assert lines[0].startswith('acme/api  pipeline "Nightly"')
    assert lines[-1].startswith("Apply incomplete")


def test_an_interrupted_apply_says_so():
    report = mixed_report()
    report.interrupted = True  # type: ignore[attr-defined]
    assert summary_of(report)[-1].startswith("Apply interrupted: 2 applied")


def test_a_complete_apply_is_one_line_per_pipeline_and_a_verdict():
    report = ApplyReport([o for o in mixed_report().outcomes if o.status == "applied"])
    assert summary_of(report) == ['acme/web  pipeline "Release images" (#7): 2 applied', "Apply complete: 2 applied."]
    assert summary_of(ApplyReport()) == ["Apply complete: nothing to do."]


def test_the_coloured_summary_neither_highlights_nor_obeys_markup_nor_passes_escape_codes():
    change = CreateAction(action_name="[bold]x[/bold] 42", **COMMON)
    report = ApplyReport([Outcome(change, "failed", 'Buddy says "no" \x1b[2J 503')])
    text = "\n".join(summary_of(report, color=True))
    assert '"[bold]x[/bold] 42"' in text  # markup in a name is shown, not applied
    assert "\x1b[2J" not in text and "\\x1b[2J" in text  # a server's escape code is shown, not obeyed
    failed_line = next(line for line in text.splitlines() if "failed " in line)
    assert failed_line.count("\x1b[") == 2  # one style on, one off: no highlighting of numbers or quotes


def test_progress_names_the_change_in_hand_and_the_outcome_in_the_past_tense():
    create = CreateAction(action_name="Build app image", **COMMON)
    assert render.describe_progress(create) == 'creating "Build app image" in acme/web "Release images"'
    done = Outcome(create, "applied", object_id=101)
    assert render.describe_outcome(done) == 'created "Build app image" (#101) in acme/web "Release images"'
    gone = Outcome(DeleteAction(action_name="Old", action_id=43, **COMMON), "applied", "already gone", 43)
    assert render.describe_outcome(gone) == 'deleted "Old" (#43) in acme/web "Release images" (already gone)'
    failed = Outcome(create, "failed", "400 bad")
    assert render.describe_outcome(failed) == 'failed: create "Build app image" in acme/web "Release images": 400 bad'


def update(diff: dict, **extra) -> Plan:
    change = UpdateAction(action_name="Build", action_id=42, fields={}, diff=diff, **COMMON, **extra)
    return Plan.of(Target("x"), [change])


def test_a_changed_list_reads_element_by_element_as_terraform_shows_it():
    plan = update({"build_args": {"from": ["APP_VERSION=1", "B=2"], "to": ["APP_VERSION=2", "B=2"]}})
    lines = text_of(plan).splitlines()
    at = lines.index("        build_args")
    assert lines[at + 1 : at + 4] == ['          - "APP_VERSION=1"', '          + "APP_VERSION=2"', '            "B=2"']


def test_a_nested_change_shows_its_path_not_both_objects():
    before = {"users": [{"id": 1, "access_level": "READ_ONLY"}, {"id": 2, "access_level": "READ_ONLY"}]}
    after = {"users": [{"id": 1, "access_level": "READ_ONLY"}, {"id": 2, "access_level": "READ_WRITE"}]}
    text = text_of(update({"permissions": {"from": before, "to": after}}))
    assert "permissions.users[1].access_level  READ_ONLY -> READ_WRITE" in text
    assert '"id": 1' not in text


def test_markdown_puts_element_lines_in_their_own_colour():
    plan = update({"build_args": {"from": ["A=1"], "to": ["A=2"]}})
    out = io.StringIO()
    render_markdown.write_markdown(plan, out)
    lines = out.getvalue().splitlines()
    assert '-         - "A=1"' in lines and '+         + "A=2"' in lines


def test_secrets_stay_masked_at_every_path_of_an_element_diff():
    """A diff holding secrets at nested paths (say, a hand-edited plan file) never shows them."""
    plan = update(
        {
            "secrets": {
                "from": [{"key": "A", "value": "hunter2"}, {"key": "B", "value": "x"}],
                "to": [{"key": "A", "value": "hunter3"}, {"key": "C", "value": "x"}],
                "paths": [
                    {"path": "secrets[0].value", "op": "change", "from": "hunter2", "to": "hunter3"},
                    {"path": "secrets[1].key", "op": "change", "from": "B", "to": "C"},
                ],
            },
            "variables": {"from": [{"key": "T", "value": "old"}], "to": [{"key": "T", "value": "${env:TOKEN}"}]},
            "password": {"from": "pw-old", "to": "pw-new"},
        }
    )
    out = io.StringIO()
    render.write_text(plan, out)
    render_markdown.write_markdown(plan, out)
    render.write_json(plan, out)
    text = out.getvalue()
    for secret in ("hunter2", "hunter3", "TOKEN", "pw-old", "pw-new"):
        assert secret not in text
    assert "secrets[1].key  B -> C" in text


def test_the_text_plan_shows_its_warnings_before_the_details_as_the_spec_says():
    plan = sample()
    plan.warnings.append("apply would refuse this without --force: too many deletes")
    text = text_of(plan)
    assert text.index("warning: apply would refuse") < text.index('acme/web  pipeline "Release images"')
    assert text.rstrip().endswith("Plan: 1 to create, 1 to update, 1 to delete in 1 pipeline.")


def test_markdown_puts_warnings_and_errors_under_the_table_before_the_details():
    plan = sample()
    plan.warnings.append("apply would refuse this without --force: too many deletes")
    plan.errors.append('acme/web pipeline "X": boom')
    out = io.StringIO()
    render_markdown.write_markdown(plan, out)
    text = out.getvalue()
    table = text.index("| pipeline | create |")
    assert table < text.index(":warning: apply would refuse") < text.index("<details>")
    assert table < text.index(":x: error:") < text.index("<details>")


def test_markdown_keeps_warnings_when_the_size_limit_cuts_detail():
    changes = [
        DeleteAction("acme", "web", f"P{i}", i, action_name="a" * 40, action_id=i, reason="prune") for i in range(400)
    ]
    plan = Plan.of(Target("x"), changes, warnings=["apply would refuse this without --force: deletes"])
    for limit in (20_000, 3_000):
        out = io.StringIO()
        render_markdown.write_markdown(plan, out, limit=limit)
        text = out.getvalue()
        assert len(text) < limit and ":warning: apply would refuse" in text


def test_plan_annotations_land_on_the_line_their_message_names():
    plan = Plan.of(
        Target("x"),
        warnings=[
            "web,1.yml:6:9: $.pipelines[0]: warning: old spelling",
            "targeted: 1 of 40 declared pipelines",
        ],
        errors=['acme/web pipeline "P": "A" is to go after "B" (web.yml:12:11), but no live action has that name'],
    )
    out = io.StringIO()
    annotate.write_plan_annotations(plan, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "::warning file=web%2C1.yml,line=6,col=9::$.pipelines[0]: warning: old spelling"
    assert lines[1] == "::warning::targeted: 1 of 40 declared pipelines"
    assert lines[2].startswith("::error file=web.yml,line=12,col=11::acme/web pipeline")


def test_annotation_properties_escape_colons_and_messages_escape_percent_and_newlines():
    line = annotate.github_annotation("warning", "50%\r\ndone", file="C:/x.yml", line=1, col=2)
    assert line == "::warning file=C%3A/x.yml,line=1,col=2::50%25%0D%0Adone"


def pipeline_update() -> Plan:
    return Plan.of(
        Target("https://api.buddy.works"),
        [
            UpdatePipeline(
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
    render_markdown.write_markdown(pipeline_update(), out)
    text = out.getvalue()
    assert '| acme/web  pipeline "Release" (#7) (pipeline updated) | 0 | 0 | 0 |' in text
    assert '! update pipeline "Release" (#7)' in text and "!       priority         NORMAL -> HIGH" in text


def test_a_pipeline_update_is_named_in_the_apply_report():
    [change] = pipeline_update().changes
    assert render.describe_change(change) == 'update pipeline acme/web "Release" (#7)'


def markdown_of(plan: Plan) -> str:
    out = io.StringIO()
    render_markdown.write_markdown(plan, out)
    return out.getvalue()


def test_values_with_escape_codes_neither_recolour_a_terminal_nor_reach_a_comment():
    """A live value is what a server says: its control characters are shown as escapes."""
    red, title = "D\x1b[31mred", "b\x1b]0;pwned\x07"
    plan = update({"dockerfile_path": {"from": red, "to": "x"}, "target_stage": {"from": "a" * 90, "to": title}})
    for text in (text_of(plan), markdown_of(plan)):
        assert "\x1b" not in text and "\x07" not in text
        assert "D\\x1b[31mred" in text


def test_markdown_escapes_html_in_the_table_the_notes_and_the_skipped_list():
    odd = "Rel</details><img src=x onerror=alert(1)>"
    change = UpdateAction(
        action_name="A",
        action_id=1,
        fields={},
        diff={"cache_mode": {"from": "MIN", "to": "MAX"}},
        workspace="acme",
        project="web",
        pipeline=odd,
        pipeline_id=7,
    )
    plan = Plan.of(
        Target("x"),
        [change],
        warnings=[f'did you mean "{odd}"?'],
        errors=[f'pipeline "{odd}": boom'],
        skipped=[Skipped("acme", "web", odd, 9, "defined in Buddy YAML")],
    )
    text = markdown_of(plan)
    assert "<img" not in text and "</details><" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_text_puts_the_safety_check_first_then_the_other_warnings_then_the_details():
    plan = sample()
    for index in (6, 7, 8):  # three deletes in a pipeline of six live actions: over 30%
        plan.pipelines[0].changes.append(DeleteAction(action_name=f"Old {index}", action_id=index, **COMMON))
    plan.pipelines[0].live_count = 6
    plan.warnings.append("an ordinary warning")
    plan.add_safety_warnings()
    text = io.StringIO()
    render.write_text(plan, text)
    lines = text.getvalue().splitlines()
    assert lines[0].startswith("warning: apply would refuse this without --force: ")
    assert lines[1] == "warning: an ordinary warning"
    assert lines.index('acme/web  pipeline "Release images" (#7)') == 3
    assert sum("would refuse" in line for line in lines) == 1


def test_the_summary_names_a_new_pipeline_whose_create_is_uncertain_once():
    new = CreatePipeline("acme", "web", "Fresh", None, fields={"name": "Fresh"})
    report = ApplyReport([Outcome(new, "uncertain", "outcome unknown")])
    out = io.StringIO()
    render.write_apply_report(report, out)
    assert '    uncertain  create pipeline "Fresh": outcome unknown' in out.getvalue()
