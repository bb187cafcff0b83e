"""`reconcile env`: every `${env:…}` the files reference, where, and whether it is set, never its value;
and the short "not set" report plan and apply give."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import main
from reconciler.config import envlist
from reconciler.config.build import load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_NAMES = ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN", "TAG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _NAMES:
        monkeypatch.delenv(name, raising=False)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - name: Build
        type: DOCKER_BUILD_MULTI_ARCH
        dockerfile_path: Dockerfile
        target_platform: linux/amd64
        docker_registry: DOCKER_HUB
        repository: acme/web
        docker_image_tag: ${env:TAG:-latest}
        login: ${env:DOCKERHUB_USER}
        password: ${env:DOCKERHUB_TOKEN}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "web.yml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_each_variable_is_listed_with_the_field_and_action_using_it_and_whether_it_is_set(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKERHUB_TOKEN", "hunter2-secret")
    code, out, _ = run("env", str(config))
    assert code == 0
    assert "hunter2" not in out
    lines = out.splitlines()
    assert lines[0] == "DOCKERHUB_TOKEN  set  needed by apply only (write-only: plan never compares it)"
    assert lines[1].endswith('web.yml:14:19  acme/web/Release  action "Build"  password')
    assert lines[2] == "DOCKERHUB_USER  NOT SET  needed by plan and apply"
    assert lines[4] == "TAG  NOT SET  optional (every use has a default)"
    assert lines[5].endswith("docker_image_tag  (has a default)")
    assert lines[-1] == "3 variables referenced in 1 file(s): 1 set, 2 not set."


def test_an_empty_variable_counts_as_not_set_as_plan_and_apply_take_it(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKERHUB_USER", "")
    _, out, _ = run("env", str(config), "--format", "json")
    (user,) = [v for v in json.loads(out)["variables"] if v["name"] == "DOCKERHUB_USER"]
    assert user["set"] is False


def test_json_gives_every_use_with_its_location_and_never_a_value(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKERHUB_USER", "octocat-login")
    code, out, _ = run("env", str(config), "--format", "json")
    assert code == 0 and "octocat" not in out
    data = json.loads(out)
    assert [v["name"] for v in data["variables"]] == ["DOCKERHUB_TOKEN", "DOCKERHUB_USER", "TAG"]
    user = data["variables"][1]
    assert user["set"] is True and user["needed_by_plan"] is True and user["needed_by_apply"] is True
    (use,) = user["uses"]
    assert use == {
        "pipeline": "acme/web/Release",
        "action": "Build",
        "field": "login",
        "file": str(config / "web.yml"),
        "line": 13,
        "column": 16,
        "write_only": False,
        "has_default": False,
    }


def test_github_format_is_the_env_block_of_the_example_apply_job() -> None:
    code, out, _ = run("env", str(EXAMPLES), "--format", "github")
    assert code == 0
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github" / "reconcile.yml").read_text(encoding="utf-8"))
    assert yaml.safe_load(out) == {"env": workflow["jobs"]["apply"]["env"]}
    assert "DOCKERHUB_TOKEN: ${{ secrets.DOCKERHUB_TOKEN }}  # write-only: the apply job only" in out
    assert "DOCKERHUB_USER: ${{ secrets.DOCKERHUB_USER }}\n" in out


SECRETS = """\
        secrets:
          - id: npmrc
            value: ${env:NPMRC}
            type: FILE
"""


def test_github_format_marks_what_only_apply_needs_and_what_has_a_default(config: Path) -> None:
    _, out, _ = run("env", str(config), "--format", "github")
    assert out.splitlines() == [
        "env:",
        "  BUDDY_TOKEN: ${{ secrets.BUDDY_TOKEN }}",
        "  DOCKERHUB_TOKEN: ${{ secrets.DOCKERHUB_TOKEN }}  # write-only: the apply job only",
        "  DOCKERHUB_USER: ${{ secrets.DOCKERHUB_USER }}",
        "  TAG: ${{ secrets.TAG }}  # optional: every use has a default",
    ]


def test_a_secrets_value_is_named_by_its_path_and_a_pipeline_field_as_such(tmp_path: Path) -> None:
    text = CONFIG.replace("  - name: Release\n", "  - name: Release\n    target_site_url: ${env:SITE}\n") + SECRETS
    (tmp_path / "p.yml").write_text(text, encoding="utf-8")
    found = {v.name: v for v in envlist.variables(load_config([tmp_path]).pipelines, {})}
    (npm,) = found["NPMRC"].uses
    assert npm.field == "secrets[].value" and npm.write_only
    (site,) = found["SITE"].uses
    assert site.action is None and site.field == "target_site_url" and not site.write_only


def test_env_needs_no_token_nor_network_and_an_invalid_file_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("workspace: acme\nproject: web\npipelines: 3\n", encoding="utf-8")
    code, out, err = run("env", str(tmp_path))
    assert code == 1 and out == ""
    assert "bad.yml:3:" in err


# -- the short "not set" report -----------------------------------------------------------------------


def test_plan_names_the_unset_variables_on_one_line_then_each_reference(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", "not-used")
    code, _, err = run("plan", str(config), "--base-url", "http://127.0.0.1:9")  # refused before any request
    assert code == 1
    first, *details = err.splitlines()
    assert first == "error: environment variable not set: DOCKERHUB_USER"
    assert any("web.yml:13:16" in line and "DOCKERHUB_USER" in line for line in details)


def test_the_report_names_each_variable_once_sorted_and_keeps_each_detail_once() -> None:
    report = envlist.unset_report(["B", "A", "B"], ["x: B", "y: A", "x: B"], doing="cannot apply")
    assert report.splitlines() == [
        "cannot apply: 2 environment variables not set: A, B",
        "  (`reconcile env` lists every variable the files use and where)",
        "  x: B",
        "  y: A",
    ]


def test_unset_names_skips_set_ones_and_those_with_a_default() -> None:
    value = {"a": "${env:SET}-${env:GONE}", "b": ["${env:EMPTY}", "${env:OPT:-x}"]}
    assert envlist.unset_names(value, {"SET": "1", "EMPTY": ""}) == ["GONE", "EMPTY"]


def test_apply_names_the_unset_write_only_variable_on_one_line_and_changes_nothing(
    config: Path, sandbox_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", sandbox_server.token)
    monkeypatch.setenv("DOCKERHUB_USER", "octocat")
    writes = ("POST", "PATCH", "DELETE")
    before = [sandbox_server.app.stats()["by_method"].get(m, 0) for m in writes]
    code, _, err = run("apply", str(config), "--base-url", sandbox_server.url)
    assert code == 1
    first, second, *details = err.splitlines()
    assert first == "error: cannot apply (nothing was changed): environment variable not set: DOCKERHUB_TOKEN"
    assert second.startswith("  (`reconcile env`")
    assert details and all("DOCKERHUB_TOKEN" in line for line in details)
    assert [sandbox_server.app.stats()["by_method"].get(m, 0) for m in writes] == before
