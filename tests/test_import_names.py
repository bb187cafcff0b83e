"""reconcile import reuses the variable that the repository's files already use for the same login or
build secret, instead of inventing a second name for one value, and lists every variable the written
files need. Against the sandbox over real HTTP."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import served

from reconciler import engine
from reconciler.cli.main import main
from reconciler.importer.existing import repository_names, repository_root
from reconciler.importer.exporter import export
from reconciler.model import MULTI_ARCH
from reconciler.plan.diff import Options

HUB = {"docker_registry": "DOCKER_HUB", "login": "acme-bot", "password": "hub-token"}
SEED: dict[str, Any] = {
    "workspaces": {
        "w": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 1,
                            "name": "Release",
                            "actions": [
                                {"id": 10, "name": "Push", "type": MULTI_ARCH, **HUB},
                                {"id": 11, "name": "Other login", "type": MULTI_ARCH, **HUB, "login": "someone"},
                                {
                                    "id": 12,
                                    "name": "Npm",
                                    "type": MULTI_ARCH,
                                    "secrets": [{"id": "npmrc", "type": "FILE", "value": "s"}],
                                },
                            ],
                        }
                    ]
                }
            }
        }
    }
}

#: A file of the repository, outside the output directory, as a team would have written it.
EXISTING = """\
workspace: w
project: api
pipelines:
  - name: Build
    actions:
      - name: Image
        type: DOCKER_BUILD_MULTI_ARCH
        docker_registry: DOCKER_HUB
        login: ${env:DOCKERHUB_USER}
        password: ${env:DOCKERHUB_TOKEN}
      - name: Npm
        type: DOCKER_BUILD_MULTI_ARCH
        secrets:
          - {id: npmrc, type: FILE, value: "${env:NPMRC}"}
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "api.yml").write_text(EXISTING, encoding="utf-8")
    return tmp_path


def _import(repository: Path, environ: dict[str, str]) -> tuple[Any, dict[str, Any], Any]:
    out = repository / "imported"
    with served(copy.deepcopy(SEED)) as (_app, client):
        result = export(client, "w", "web", output=out, environ=environ)
        env = {name: "x" for name in result.env}
        plan = engine.plan(engine.given(client), [out], Options(env=env))
    written = yaml.safe_load((out / "web.yml").read_text(encoding="utf-8"))
    actions = {a["name"]: a for a in written["pipelines"][0]["actions"]}
    return result, actions, plan


def test_the_repositorys_variable_for_the_same_login_and_secret_id_is_reused(repository: Path):
    result, actions, plan = _import(repository, {"DOCKERHUB_USER": "acme-bot"})
    assert not plan.has_changes and not plan.errors
    assert actions["Push"]["password"] == "${env:DOCKERHUB_TOKEN}"  # not a new DOCKERHUB_PASSWORD
    assert actions["Npm"]["secrets"][0]["value"] == "${env:NPMRC}"
    assert actions["Other login"]["password"] == "${env:DOCKERHUB_PASSWORD}"  # another login, another value
    assert list(result.env) == ["DOCKERHUB_TOKEN", "DOCKERHUB_PASSWORD", "NPMRC"]
    assert "api.yml:6:" in result.env["DOCKERHUB_TOKEN"] and "already names it" in result.env["DOCKERHUB_TOKEN"]


def test_a_login_reference_that_is_not_set_matches_no_login(repository: Path):
    _result, actions, _plan = _import(repository, {})
    assert actions["Push"]["password"] == "${env:DOCKERHUB_PASSWORD}"
    assert actions["Npm"]["secrets"][0]["value"] == "${env:NPMRC}"  # no login on either side: the same


def test_a_taken_name_is_never_handed_out_for_another_value(repository: Path):
    (repository / "api" / "api.yml").write_text(
        EXISTING.replace("${env:DOCKERHUB_TOKEN}", "${env:DOCKERHUB_PASSWORD}"), encoding="utf-8"
    )
    _result, actions, _plan = _import(repository, {"DOCKERHUB_USER": "nobody-here"})
    names = {actions[a]["password"] for a in ("Push", "Other login")}
    assert "${env:DOCKERHUB_PASSWORD}" not in names and len(names) == 2


def test_the_repository_is_the_folder_holding_dot_git(repository: Path, tmp_path: Path):
    assert repository_root(repository / "imported" / "deeper") == repository.resolve()
    names = repository_names(repository / "imported", [], {})
    assert names.taken == {"DOCKERHUB_USER", "DOCKERHUB_TOKEN", "NPMRC"}
    outside = tmp_path.parent / f"{tmp_path.name}-no-repository"
    assert repository_root(outside) == outside.resolve()


def test_the_cli_lists_the_variables_the_files_inherit_from_a_defaults_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERHUB_USER", "acme-bot")
    Path("pipelines").mkdir()
    Path("pipelines/defaults.yml").write_text("defaults:\n  password: ${env:SHARED_TOKEN}\n", encoding="utf-8")
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "import",
        "--workspace",
        "w",
        "--project",
        "web",
        "--sandbox",
        "--sandbox-seed",
        str(seed),
        "-o",
        "pipelines",
    ]
    assert main(argv, out=out, err=err) == 0, err.getvalue()
    listed = out.getvalue().split("Set these variables", 1)[1]
    assert "  SHARED_TOKEN  inherited from the defaults in pipelines/defaults.yml" in listed  # Npm inherits it
    assert "  DOCKERHUB_PASSWORD  " in listed
