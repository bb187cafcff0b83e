"""The CI recipes in examples/ci/ and the pre-commit hook: their structure, and the very `reconcile`
command lines they run, replayed against the sandbox on a copy of examples/."""

from __future__ import annotations

import functools
import io
import json
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import envrefs, fields
from reconciler.cli.main import main
from reconciler.config import loader
from reconciler.config.build import load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GITHUB = EXAMPLES / "ci" / "github" / "reconcile.yml"
GITLAB = EXAMPLES / "ci" / "gitlab" / ".gitlab-ci.yml"
BUDDY = EXAMPLES / "ci" / "buddy" / "buddy.yml"
DRIFT = EXAMPLES / "ci" / "github" / "drift.yml"
DRIFT_ISSUE = EXAMPLES / "ci" / "gitlab" / "drift_issue.py"
CI_FILES = (GITHUB, GITLAB, BUDDY, DRIFT)
MARKER = "<!-- reconcile-plan -->"
DRIFT_MARKER = "<!-- reconcile-drift -->"
#: Every variable the example configs might reference: none may leak in from the developer's shell.
_ENV_NAMES = ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN")


# -- reading the files the way CI systems do -------------------------------------------------------


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (GitHub and GitLab read `on:` as a string, PyYAML's 1.1 reads it as true)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@functools.cache
def read_yaml(path: Path) -> Any:
    """The parsed file (cached: callers only read it)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)  # a SafeLoader


@dataclass(frozen=True)
class Command:
    """One `reconcile` invocation found in a CI script: its arguments and where its stdout goes."""

    argv: tuple[str, ...]
    stdout: str | None = None


_CONTROL = {"&&", "||", ";", "|", "&"}


def reconcile_commands(script: str) -> list[Command]:
    """The `reconcile …` simple commands of a shell script, in order (other commands are ignored)."""
    found: list[Command] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        segment: list[str] = []
        for token in [*lexer, ";"]:
            if token in _CONTROL:
                if segment and segment[0] == "reconcile":
                    found.append(_command(segment))
                segment = []
            else:
                segment.append(token)
    return found


def _command(tokens: list[str]) -> Command:
    argv: list[str] = []
    stdout = None
    rest = iter(tokens[1:])
    for token in rest:
        if token == ">":
            stdout = next(rest)
        elif set(token) <= set("<>&|();"):
            raise AssertionError(f"unexpected shell syntax {token!r} in: {' '.join(tokens)}")
        else:
            argv.append(token)
    return Command(tuple(argv), stdout)


def gitlab_scripts(job: str) -> list[str]:
    return list(read_yaml(GITLAB)[job]["script"])


def buddy_scripts(index: int = 0) -> list[str]:
    """The commands of the Buddy recipe's pipeline ``index`` (0 applies main, 1 plans pull requests)."""
    return [cmd for action in read_yaml(BUDDY)[index]["actions"] for cmd in action.get("execute_commands", [])]


def commands_of(scripts: list[str]) -> list[Command]:
    return [command for script in scripts for command in reconcile_commands(script)]


# -- replaying commands in the sandbox -------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of examples/ as the repository root and the current directory, with no secrets set."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".reconcile-sandbox.json", "plan.*"))
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    yield root


def run(command: Command) -> int:
    """Run a command as CI would, in process, against the sandbox instead of Buddy."""
    argv = list(command.argv)
    if argv and argv[0] in ("plan", "apply", "import"):
        argv.append("--sandbox")
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    if command.stdout:
        Path(command.stdout).write_text(out.getvalue(), encoding="utf-8")
    assert code in (0, 2), f"reconcile {' '.join(argv)} exited {code}:\n{out.getvalue()}{err.getvalue()}"
    return code


def run_all(commands: list[Command]) -> list[int]:
    return [run(command) for command in commands]


# The GitHub recipes run reconcile through the action (action.yml): tests/test_action.py runs its
# scripts with the recipes' inputs against the sandbox.
REVIEW_AND_APPLY = {
    "gitlab": (
        lambda: commands_of(gitlab_scripts("reconcile-validate") + gitlab_scripts("reconcile-plan")),
        lambda: commands_of(gitlab_scripts("reconcile-apply")),
    ),
}


@pytest.mark.parametrize("system", sorted(REVIEW_AND_APPLY))
def test_review_commands_show_changes_then_apply_makes_them_and_the_next_review_shows_none(
    system: str, repo: Path
) -> None:
    review, apply = (get() for get in REVIEW_AND_APPLY[system])
    assert [c.argv[0] for c in review] == ["validate", "plan", "show"]
    assert [c.argv for c in apply] == [("apply",)]

    assert run_all(review) == [0, 2, 0]
    plan_md = (repo / "plan.md").read_text(encoding="utf-8")
    assert plan_md.startswith("### reconcile plan")
    saved = json.loads((repo / "plan.json").read_text(encoding="utf-8"))
    assert saved["format_version"] == 1 and saved["changes"]

    assert run_all(apply) == [0]
    assert run_all(review) == [0, 0, 0]
    assert "No changes" in (repo / "plan.md").read_text(encoding="utf-8")


def test_buddy_pipeline_command_applies_and_a_second_run_changes_nothing(repo: Path) -> None:
    commands = commands_of(buddy_scripts())
    assert [c.argv for c in commands] == [("apply",)]
    assert run_all(commands) == [0]
    assert run(Command(("plan", "--detailed-exitcode"))) == 0


def test_the_plan_files_hold_no_secret_values(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKERHUB_TOKEN", "hunter2-dockerhub")
    monkeypatch.setenv("GHCR_TOKEN", "hunter2-ghcr")
    run_all(commands_of(gitlab_scripts("reconcile-plan")))
    for name in ("plan.md", "plan.json"):
        text = (repo / name).read_text(encoding="utf-8")
        assert "hunter2" not in text
    assert "${env:DOCKERHUB_TOKEN}" in (repo / "plan.json").read_text(encoding="utf-8")


def test_the_command_extractor_understands_redirections_and_control_operators() -> None:
    script = 'code=0\nreconcile plan --out "my plan.json" > plan.md || code=$?  # a comment\npip x && reconcile apply'
    assert reconcile_commands(script) == [
        Command(("plan", "--out", "my plan.json"), "plan.md"),
        Command(("apply",)),
    ]


# -- the files themselves --------------------------------------------------------------------------


def test_the_ci_files_are_skipped_by_validate_because_they_are_not_config_files() -> None:
    result = loader.load_paths([EXAMPLES])
    skipped = {Path(name).resolve() for name in result.skipped}
    assert {path.resolve() for path in CI_FILES} <= skipped
    assert not result.problems


def test_github_workflow_runs_on_pull_requests_and_on_pushes_to_main() -> None:
    workflow = read_yaml(GITHUB)
    assert "pull_request" in workflow["on"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in workflow["jobs"]["plan"]["if"]
    assert "push" in workflow["jobs"]["apply"]["if"] and "refs/heads/main" in workflow["jobs"]["apply"]["if"]


def test_github_workflow_checks_out_then_runs_the_action_pinned_to_a_tag_in_both_jobs() -> None:
    for job, command in (("plan", "plan"), ("apply", "apply")):
        steps = read_yaml(GITHUB)["jobs"][job]["steps"]
        assert steps[0]["uses"].startswith("actions/checkout@")
        (ours,) = [step for step in steps if step.get("uses", "").startswith("YOUR-ORG/reconcile@")]
        assert re.fullmatch(r"YOUR-ORG/reconcile@v\d+\.\d+\.\d+", ours["uses"])
        assert ours["with"]["command"] == command


def test_github_plan_job_may_post_the_plan_comment_the_action_keeps_current() -> None:
    job = read_yaml(GITHUB)["jobs"]["plan"]
    assert job["permissions"]["pull-requests"] == "write"
    (ours,) = [step for step in job["steps"] if step.get("uses", "").startswith("YOUR-ORG/reconcile@")]
    assert ours["with"].get("comment", "true") == "true"
    assert MARKER in (ROOT / "action.yml").read_text(encoding="utf-8")


def test_github_applies_never_overlap_nor_cancel_each_other() -> None:
    concurrency = read_yaml(GITHUB)["jobs"]["apply"]["concurrency"]
    assert concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def _referenced_variables() -> tuple[set[str], set[str]]:
    """The `${env:…}` names the example configs use: (in compared fields, in write-only fields)."""
    compared: set[str] = set()
    write_only: set[str] = set()
    for pipeline in load_config([EXAMPLES]).pipelines:  # the effective actions, defaults applied
        for action in pipeline.actions:
            for key, value in action.fields.items():
                for _parts, secret in fields.write_only_values(key, value):
                    write_only.update(ref.name for ref in envrefs.find_refs(str(secret)))
                for text in _strings(fields.strip_write_only(key, value) if fields.is_compared(key) else ()):
                    compared.update(ref.name for ref in envrefs.find_refs(text))
    return compared, write_only


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def test_github_maps_the_token_and_every_variable_the_examples_reference_from_secrets() -> None:
    compared, write_only = _referenced_variables()
    assert compared == {"DOCKERHUB_USER", "GHCR_USER"} and write_only == {"DOCKERHUB_TOKEN", "GHCR_TOKEN"}
    jobs = read_yaml(GITHUB)["jobs"]
    for job, needed in (("plan", compared), ("apply", compared | write_only)):
        env = jobs[job]["env"]
        assert set(env) == needed | {"BUDDY_TOKEN"}, job
        for name, value in env.items():
            assert value == f"${{{{ secrets.{name} }}}}"


def test_github_plan_job_gets_no_registry_password_because_plan_never_compares_them() -> None:
    _, write_only = _referenced_variables()
    assert not write_only & set(read_yaml(GITHUB)["jobs"]["plan"]["env"])


def test_gitlab_plans_merge_requests_and_keeps_the_plan_as_an_artifact() -> None:
    ci = read_yaml(GITLAB)
    for job in ("reconcile-validate", "reconcile-plan"):
        assert ci[job]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    plan = ci["reconcile-plan"]
    assert {"plan.md", "plan.json"} <= set(plan["artifacts"]["paths"])
    assert plan["artifacts"]["when"] == "always"
    assert plan["script"][-1] == 'test "$code" -ne 1'  # exit 2 passes, exit 1 fails
    assert plan["script"][-2] == 'python ci/plan_note.py "$code" plan.md'  # posted before it may fail
    assert "reconcile show --format markdown plan.json > plan.md" in plan["script"][-3]  # the saved plan
    assert ci["stages"] == ["validate", "plan", "apply"]


def test_gitlab_applies_main_one_at_a_time() -> None:
    apply = read_yaml(GITLAB)["reconcile-apply"]
    assert apply["resource_group"]
    assert apply["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE == "push"'}]
    assert "pip install" in " ".join(read_yaml(GITLAB)["default"]["before_script"])


def test_buddy_plan_pipeline_plans_pull_requests_to_main_and_fails_only_on_errors(repo: Path) -> None:
    _, pipeline = read_yaml(BUDDY)
    (event,) = pipeline["events"]
    assert event["type"] == "PULL_REQUEST" and event["branches"] == ["main"]
    assert {"opened", "synchronize"} <= set(event["events"])
    commands = commands_of(buddy_scripts(1))
    assert [c.argv for c in commands] == [
        ("validate",),
        ("plan", "--detailed-exitcode", "--quiet", "--out", "plan.json"),
        ("show", "plan.json"),
    ]
    assert buddy_scripts(1)[-1].endswith('; test "$code" -ne 1')
    assert run_all(commands) == [0, 2, 0]


def test_buddy_pipeline_runs_a_build_action_on_pushes_to_main_one_run_at_a_time() -> None:
    pipeline, _plan = read_yaml(BUDDY)
    assert pipeline["events"] == [{"type": "PUSH", "refs": ["refs/heads/main"]}]
    assert pipeline["concurrent_pipeline_runs"] is False
    (action,) = pipeline["actions"]
    assert action["type"] == "BUILD"
    assert action["docker_image_name"] == "library/python"
    (command,) = action["execute_commands"]
    assert command.startswith("pip install") and command.endswith("&& reconcile apply")


def _mappings(value: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(value, dict):
        yield value
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _mappings(item)


def test_no_ci_file_holds_a_credential_every_one_comes_from_the_ci_systems_secrets() -> None:
    for path in CI_FILES:
        for mapping in _mappings(read_yaml(path)):
            for key, value in mapping.items():
                if re.search(r"(?i)(token|password|user)$", str(key)):
                    assert value == f"${{{{ secrets.{key} }}}}", f"{path}: {key}"


def test_examples_gitignore_keeps_sandbox_state_and_plan_files_out_of_git() -> None:
    ignored = (EXAMPLES / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {".reconcile-sandbox.json", "plan.json", "plan.md"} <= set(ignored)


def test_pre_commit_hook_validates_the_whole_repository_when_yaml_changes() -> None:
    (hook,) = read_yaml(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "reconcile-validate"
    assert shlex.split(hook["entry"]) == ["reconcile", "validate"]
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is False
    assert re.search(hook["files"], "pipelines/web.yml") and re.search(hook["files"], "web.yaml")
    assert not re.search(hook["files"], "README.md")


def test_pre_commit_hook_entry_validates_the_examples_with_no_token_nor_secret_set(repo: Path) -> None:
    (hook,) = read_yaml(ROOT / ".pre-commit-hooks.yaml")
    out = io.StringIO()
    assert main(shlex.split(hook["entry"])[1:], out=out, err=io.StringIO()) == 0
    assert "4 file(s) valid" in out.getvalue()


# -- drift detection -------------------------------------------------------------------------------

DRIFT_CHECKS = {
    "gitlab": lambda: commands_of(gitlab_scripts("reconcile-drift")),
}


@pytest.mark.parametrize("system", sorted(DRIFT_CHECKS))
def test_the_drift_check_reports_drift_until_the_repository_is_applied_then_reports_none(
    system: str, repo: Path
) -> None:
    commands = DRIFT_CHECKS[system]()
    assert [c.argv for c in commands] == [("plan", "--detailed-exitcode", "--format", "markdown")]
    assert [c.stdout for c in commands] == ["plan.md"]
    assert run_all(commands) == [2]
    assert "### reconcile plan" in (repo / "plan.md").read_text(encoding="utf-8")
    run(Command(("apply",)))
    assert run_all(commands) == [0]
    assert "No changes" in (repo / "plan.md").read_text(encoding="utf-8")


def test_github_drift_check_runs_on_a_schedule_and_on_demand_with_a_read_only_buddy_token() -> None:
    workflow = read_yaml(DRIFT)
    assert workflow["on"]["schedule"][0]["cron"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["drift"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert job["concurrency"]["cancel-in-progress"] is False
    compared, write_only = _referenced_variables()
    assert set(job["env"]) == compared | {"BUDDY_TOKEN"}  # plan never needs the registry passwords
    assert not write_only & set(job["env"])


def test_github_drift_check_keeps_one_issue_found_by_its_marker_and_closes_it_when_buddy_matches() -> None:
    steps = read_yaml(DRIFT)["jobs"]["drift"]["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("actions/github-script@")]
    assert step["if"] == "steps.plan.outputs.exitcode == '0' || steps.plan.outputs.exitcode == '2'"
    script = step["with"]["script"]
    assert DRIFT_MARKER in script and "listForRepo" in script
    assert "issues.update" in script and "issues.create(" in script and "state: 'closed'" in script
    assert script.index("issues.update") < script.index("issues.create(")  # update first, open only if none
    (plan,) = [s for s in steps if s.get("id") == "plan"]
    assert plan["uses"].startswith("YOUR-ORG/reconcile@") and plan["with"] == {"command": "plan", "comment": "false"}


def test_gitlab_drift_job_runs_only_on_schedules_and_fails_only_on_errors() -> None:
    ci = read_yaml(GITLAB)
    job = ci["reconcile-drift"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert job["resource_group"]
    assert 'test "$code" -ne 1' in job["script"]
    assert any("drift_issue.py" in line and '"$code"' in line for line in job["script"])
    for name in ("reconcile-validate", "reconcile-plan", "reconcile-apply"):
        assert "schedule" not in json.dumps(ci[name]["rules"])  # a scheduled pipeline runs the drift check alone


class _FakeGitLab:
    """The few GitLab issue endpoints drift_issue.py calls, in memory."""

    def __init__(self, issues: list[dict[str, Any]] | None = None) -> None:
        self.issues = issues or []
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path))
        if method == "GET":
            return [i for i in self.issues if i["state"] == "opened"]
        if method == "POST" and path == "/issues":
            issue = {"iid": len(self.issues) + 1, "state": "opened", **(body or {})}
            self.issues.append(issue)
            return issue
        iid = int(path.split("/")[2])
        issue = next(i for i in self.issues if i["iid"] == iid)
        if method == "PUT" and body and body.get("state_event") == "close":
            issue["state"] = "closed"
        elif method == "PUT" and body:
            issue.update(body)
        return issue


@pytest.fixture
def drift_issue() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("drift_issue", DRIFT_ISSUE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gitlab_drift_issue_is_opened_on_drift_updated_on_more_drift_and_closed_when_buddy_matches(
    drift_issue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitlab = _FakeGitLab([{"iid": 1, "state": "opened", "description": "an unrelated issue"}])
    monkeypatch.setattr(drift_issue, "call", gitlab)
    assert drift_issue.sync("2", "plan one") == "opened drift issue #2"
    assert drift_issue.sync("2", "plan two") == "updated drift issue #2"
    assert "plan two" in gitlab.issues[1]["description"] and DRIFT_MARKER in gitlab.issues[1]["description"]
    assert drift_issue.sync("0", "No changes") == "closed drift issue #2"
    assert gitlab.issues[1]["state"] == "closed" and gitlab.issues[0]["state"] == "opened"
    assert drift_issue.sync("0", "No changes") == "nothing to do"
    assert drift_issue.sync("1", "") == "nothing to do"


# -- the GitLab merge-request plan note ----------------------------------------------------------------


class _FakeNotes:
    """The merge-request notes endpoints plan_note.py calls, in memory."""

    def __init__(self, notes: list[dict[str, Any]]) -> None:
        self.notes = notes
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path))
        if method == "GET":
            page = int(re.search(r"&page=(\d+)", path)[1])  # type: ignore[index]
            return self.notes[(page - 1) * 100 : page * 100]
        if method == "POST":
            note = {"id": 1000 + len(self.notes), **(body or {})}
            self.notes.append(note)
            return note
        note = next(n for n in self.notes if n["id"] == int(path.split("/")[2]))
        note.update(body or {})
        return note


@pytest.fixture
def plan_note(monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("plan_note", EXAMPLES / "ci" / "gitlab" / "plan_note.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("PLAN_NOTE_TOKEN", "glpat-never-shown")
    return module


def test_gitlab_plan_note_is_posted_once_then_updated_in_place_found_by_its_marker(
    plan_note: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = [{"id": i, "body": f"review comment {i}"} for i in range(150)]  # the marker is on page 2
    notes = _FakeNotes(others)
    monkeypatch.setattr(plan_note, "call", notes)
    assert plan_note.sync("2", "plan one") == "posted plan note 1150"
    assert plan_note.sync("2", "plan two") == "updated plan note 1150"
    (ours,) = [n for n in notes.notes if MARKER in n["body"]]
    assert ours["body"] == f"{MARKER}\nplan two"
    assert ("GET", "/notes?per_page=100&page=2&sort=asc") in notes.calls
    assert plan_note.sync("1", "plan three").startswith("updated")
    assert "**reconcile plan failed**" in ours["body"]


def test_gitlab_plan_note_without_its_token_posts_nothing_and_says_so(
    plan_note: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAN_NOTE_TOKEN")
    monkeypatch.setattr(plan_note, "call", _FakeNotes([]))
    assert plan_note.sync("2", "plan") == "PLAN_NOTE_TOKEN is not set: the plan is not posted on the merge request"
