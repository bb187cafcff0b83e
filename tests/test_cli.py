"""The command line as users meet it: version, help, usage errors, exit codes, output formats."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
COMMANDS = ["validate", "plan", "apply", "import", "schema", "sandbox"]

INVALID = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        cache_mode: HUGE
"""
OLD_SPELLING = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        target_platform: [linux/amd64, linux/arm64]
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp directory holding a copy of examples/, as the current directory, with no token or secret."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns(".reconcile-*", "plan.*"))
    for name in ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- version and help --------------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reconcile {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_ends_with_an_example_that_parses(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert re.search(r"^examples?: reconcile ", text, re.M)
    examples = re.findall(r"^(?:examples?:)?\s+(reconcile .+)$", text, re.M)
    assert examples
    for example in examples:
        argv = example.split()[1:]
        argv = argv[: argv.index(">")] if ">" in argv else argv
        build_parser().parse_args(argv)


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", text, re.M), command


# -- usage errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--no-such-flag"],
        ["frobnicate"],
        ["schema", "everything"],
        ["import", "--project", "web"],
        ["plan", "--format", "yaml"],
        ["plan", "--parallelism", "many"],
    ],
    ids=["unknown flag", "unknown command", "bad choice", "missing required", "bad format", "not a number"],
)
def test_a_usage_error_exits_1_with_a_pointer_to_help_and_no_traceback(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 1
    assert err.startswith("error: reconcile") and "--help" in err
    assert "Traceback" not in err + out


def test_no_command_prints_the_help_and_exits_1() -> None:
    code, _, err = run()
    assert code == 1
    assert "COMMAND" in err


def test_plan_without_a_token_says_which_scopes_to_get(workdir: Path) -> None:
    code, _, err = run("plan", "examples")
    assert code == 1
    assert "BUDDY_TOKEN is not set" in err
    assert "WORKSPACE" in err and "EXECUTION_INFO" in err and "EXECUTION_MANAGE" in err


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", "tok-never-shown-3141")
    code, out, err = run("plan", "examples", "--base-url", "http://buddy.example.com")
    assert code == 1
    assert "plain http" in err
    assert "tok-never-shown-3141" not in out + err


# -- schema ------------------------------------------------------------------------------------------


def test_schema_action_prints_the_shipped_action_schema() -> None:
    code, out, _ = run("schema", "action")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "schemas" / "action.schema.json").read_text(encoding="utf-8"))


def test_schema_config_prints_one_self_contained_schema_that_checks_the_examples() -> None:
    import jsonschema
    import yaml

    code, out, _ = run("schema", "config")
    assert code == 0 and "action.schema.json" not in out
    printed = json.loads(out)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(printed)
    for path in sorted((ROOT / "examples" / "acme").glob("*.yml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []
    bad = {
        "workspace": "a",
        "project": "b",
        "pipelines": [
            {
                "name": "p",
                "actions": [
                    {"name": "x", "type": "DOCKER_BUILD_MULTI_ARCH", "cache_mode": "HUGE", "secrets": [{"id": 1}]}
                ],
            }
        ],
    }
    assert len(list(validator.iter_errors(bad))) == 2


def test_schema_without_an_argument_prints_the_config_schema() -> None:
    assert run("schema")[1] == run("schema", "config")[1]


# -- validate ----------------------------------------------------------------------------------------


def test_validate_accepts_the_examples_and_skips_the_ci_files(workdir: Path) -> None:
    code, out, err = run("validate", "examples", "-v")
    assert code == 0
    assert "3 file(s) valid" in out
    assert err.count("skipped (not a config file)") == 4


def test_validate_github_format_prints_errors_as_annotations_and_exits_1(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, out, _ = run("validate", "cfg", "--format", "github")
    assert code == 1
    assert "::error file=cfg/web.yml,line=8,col=21::" in out
    assert "cache_mode" in out and "HUGE" in out


def test_validate_github_format_prints_warnings_as_annotations_and_still_exits_0(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", OLD_SPELLING)
    code, out, _ = run("validate", "cfg", "--format", "github")
    assert code == 0
    assert re.search(r"^::warning file=cfg/web\.yml,line=8,col=\d+::.*target_platform", out, re.M)


def test_validate_text_format_locates_every_problem(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, out, _ = run("validate", "cfg")
    assert code == 1
    assert "cfg/web.yml:8:21: $.pipelines[0].actions[0].cache_mode:" in out


def test_validate_quiet_prints_nothing_for_valid_files(workdir: Path) -> None:
    assert run("validate", "examples", "-q") == (0, "", "")


# -- plan and apply exit codes in the sandbox --------------------------------------------------------


def test_plan_detailed_exitcode_is_2_with_changes_then_0_after_apply(workdir: Path) -> None:
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2
    assert (workdir / ".reconcile-sandbox.json").is_file()  # the state lands in the current directory
    code, out, _ = run("apply", "examples", "--sandbox")
    assert code == 0
    assert "Apply complete" in out
    code, out, _ = run("plan", "examples", "--sandbox", "--detailed-exitcode")
    assert code == 0
    assert "No changes" in out


def test_plan_without_detailed_exitcode_exits_0_even_with_changes(workdir: Path) -> None:
    code, out, _ = run("plan", "examples", "--sandbox")
    assert code == 0
    assert "to create" in out


def test_plan_detailed_exitcode_is_1_on_an_invalid_file(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, _, err = run("plan", "cfg", "--sandbox", "--detailed-exitcode")
    assert code == 1
    assert "cfg/web.yml:8:21" in err


def test_plan_detailed_exitcode_is_1_when_a_pipeline_cannot_be_planned(workdir: Path) -> None:
    write(
        workdir / "cfg" / "web.yml",
        "workspace: acme\nproject: web\npipelines:\n  - name: Release images\n    actions:\n"
        "      - name: Run tests\n        type: DOCKER_BUILD_MULTI_ARCH\n",
    )
    shutil.copy(EXAMPLES / "sandbox-state.json", workdir / "cfg" / "sandbox-state.json")
    code, out, _ = run("plan", "cfg", "--sandbox", "--detailed-exitcode")
    assert code == 1
    assert "is of type BUILD" in out


def test_plan_markdown_and_json_formats_and_the_out_file(workdir: Path) -> None:
    code, out, _ = run("plan", "examples", "--sandbox", "--format", "markdown", "--out", "plans/plan.json")
    assert code == 0
    assert out.startswith("### reconcile plan")
    saved = json.loads((workdir / "plans" / "plan.json").read_text(encoding="utf-8"))
    assert saved["format_version"] == 1
    code, out, _ = run("plan", "examples", "--sandbox", "--format", "json")
    assert json.loads(out)["summary"] == saved["summary"]


def test_quiet_plan_prints_nothing_and_quiet_apply_only_errors(workdir: Path) -> None:
    assert run("plan", "examples", "--sandbox", "-q") == (0, "", "")
    code, out, err = run("apply", "examples", "--sandbox", "-q")
    assert (code, out, err) == (0, "", "")


def test_apply_plan_applies_a_plan_saved_in_the_sandbox(workdir: Path) -> None:
    run("plan", "examples", "--sandbox", "--out", "plan.json", "-q")
    assert run("apply", "--plan", "plan.json", "--sandbox", "-q")[0] == 0


def test_the_fault_examples_in_sandbox_help_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.sandbox.faults import parse_fault_spec

    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    examples = re.search(r"e\.g\. (.+?) \(kinds", help_text)
    assert examples
    for spec in examples.group(1).split(" or "):
        parse_fault_spec(spec)


# -- hostile input (issue 13) -----------------------------------------------------------------------


def test_plan_names_every_unset_variable_with_its_file_and_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", "tok-never-shown-3141")
    code, _, err = run("plan", "examples", "--base-url", "http://127.0.0.1:9")  # refused before any request
    assert code == 1
    assert re.search(r"\d+ references to unset environment variables: ", err), err
    named = re.findall(r"examples/\S+\.yml:\d+:\d+: environment variable (\w+) is not set", err)
    assert {"DOCKERHUB_USER", "GHCR_USER"} <= set(named) and len(named) >= 3, err
    assert len(err.strip().splitlines()) == 1


def test_apply_with_a_saved_plan_refuses_a_path(workdir: Path) -> None:
    code, _, err = run("apply", "--plan", "plan.json", "examples")
    assert code == 1
    assert "apply --plan applies exactly the saved plan and takes no PATH (got examples)" in err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["-q", "plan", "examples"], "options go after the command: reconcile plan -q …"),
        (["--sandbox", "plan"], "options go after the command: reconcile plan --sandbox …"),
        (["--base-url", "http://127.0.0.1:1", "apply"], "reconcile apply --base-url http://127.0.0.1:1 …"),
    ],
)
def test_an_option_before_the_command_gets_a_hint_to_put_it_after(argv: list[str], hint: str) -> None:
    code, _, err = run(*argv)
    assert code == 1 and hint in err


def test_a_plan_made_for_a_url_with_a_password_is_refused_without_showing_it(workdir: Path) -> None:
    data = {
        "format_version": 1,
        "changes": [],
        "target": {"base_url": "https://bot:hunter22@api.buddy.works", "tool_version": "0"},
        "fingerprints": {},
    }
    write(workdir / "plan.json", json.dumps(data))
    code, _, err = run("apply", "--plan", "plan.json", "--sandbox")
    assert code == 1
    assert "the plan was made for https://***@api.buddy.works, not sandbox:" in err
    assert "hunter22" not in err


def test_everything_the_cli_writes_is_redacted_even_when_written_in_pieces() -> None:
    from reconciler.redact import RedactingStream, Redactor

    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor(["tok-never-shown-3141"]))
    stream.write("token tok-never-")
    stream.write("shown-3141 here\nand a tail tok-never-shown-3141")
    assert sink.getvalue() == "token *** here\n"
    stream.flush()
    assert sink.getvalue() == "token *** here\nand a tail ***"
    assert not stream.isatty()
