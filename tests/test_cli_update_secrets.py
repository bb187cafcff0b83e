"""`--update-secrets=NAME[,NAME…]`: rotating one secret re-sends only the write-only fields whose values
come from those variables, needs only those set, and names them in the plan; against the sandbox."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.sandbox import ALL_SCOPES, SandboxApp, SandboxServer, SandboxState
from reconciler.sandbox.fields import encrypt

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "tok-rotation-0123456789abcdef"
SECRETS = {
    "DOCKERHUB_USER": "user-dockerhub",
    "DOCKERHUB_TOKEN": "pw-dockerhub-old",
    "GHCR_USER": "user-ghcr",
    "GHCR_TOKEN": "pw-ghcr-old",
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """The examples applied to a sandbox served over HTTP, every secret set."""
    seed = json.loads((EXAMPLES / "sandbox-state.json").read_text(encoding="utf-8"))
    app = SandboxApp(SandboxState.from_data(seed), tokens={TOKEN: ALL_SCOPES})
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with SandboxServer(app, poll_interval=0.005) as running:
        monkeypatch.setenv("BUDDY_BASE_URL", running.url)
        code, out, err = run("apply", "examples", "-q")
        assert code == 0, out + err
        yield running


def passwords(server: SandboxServer) -> dict[str, str]:
    """Each multi-arch action's stored (encrypted) password, by workspace/project/pipeline/action."""
    found = {}
    for workspace, project, pipeline in server.app.state.iter_pipelines():
        for action in pipeline.actions:
            if action.fields.get("password"):
                found[f"{workspace}/{project}/{pipeline.name}/{action.name}"] = action.fields["password"]
    return found


def resends(plan_json: str) -> list[tuple[str, list[str]]]:
    """(action, variables) of every re-sent field of a JSON plan."""
    return sorted(
        (change["action_name"], entry.get("variables", []))
        for change in json.loads(plan_json)["changes"]
        for entry in (change.get("diff") or {}).values()
        if entry.get("resend")
    )


def test_a_named_secret_is_the_only_one_re_sent_and_the_plan_names_its_variable(server: SandboxServer) -> None:
    code, out, err = run("plan", "examples", "--update-secrets=GHCR_TOKEN", "--format", "json", "--detailed-exitcode")
    assert code == 2, err
    found = resends(out)
    assert found and all(variables == ["GHCR_TOKEN"] for _, variables in found)
    _, text, _ = run("plan", "examples", "--update-secrets=GHCR_TOKEN")
    assert "re-sent from GHCR_TOKEN" in text and "DOCKERHUB_TOKEN" not in text
    assert "pw-ghcr-old" not in out + text


def test_rotating_one_secret_needs_only_its_variable_and_changes_only_its_fields(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = passwords(server)
    monkeypatch.delenv("DOCKERHUB_TOKEN")  # not needed to rotate the other one
    monkeypatch.setenv("GHCR_TOKEN", "pw-ghcr-new")
    code, out, err = run("apply", "examples", "--update-secrets=GHCR_TOKEN")
    assert code == 0, out + err
    after = passwords(server)
    changed = {key for key in before if before[key] != after[key]}
    assert changed and all(after[key] == encrypt("pw-ghcr-new") for key in changed)
    assert all(after[key] == before[key] for key in before.keys() - changed)
    assert "pw-ghcr-new" not in out + err


def test_several_names_are_given_with_commas(server: SandboxServer) -> None:
    code, out, err = run("plan", "examples", "--update-secrets=GHCR_TOKEN,DOCKERHUB_TOKEN", "--format", "json")
    assert code == 0, err
    assert {tuple(v) for _, v in resends(out)} == {("GHCR_TOKEN",), ("DOCKERHUB_TOKEN",)}


def test_a_bare_update_secrets_still_re_sends_every_write_only_field_and_takes_no_path_for_a_name(
    server: SandboxServer,
) -> None:
    _, bare, _ = run("plan", "--update-secrets", "examples", "--format", "json")
    _, named, _ = run("plan", "examples", "--update-secrets=GHCR_TOKEN,DOCKERHUB_TOKEN", "--format", "json")
    every = resends(bare)
    assert len(resends(named)) < len(every) and all(item in every for item in resends(named))
    # a password of no ${env:…} variable (`$DOCKERHUB_TOKEN`, a Buddy variable) is re-sent too, unnamed
    assert ("Build Airflow image", []) in every


def test_a_name_no_write_only_field_uses_is_a_usage_error_naming_the_known_ones(server: SandboxServer) -> None:
    code, out, err = run("plan", "examples", "--update-secrets=GHCR_TOKN")
    assert code == 1 and out == ""
    assert "GHCR_TOKN" in err
    assert "they use: DOCKERHUB_TOKEN, GHCR_TOKEN" in err
    assert "Traceback" not in err


def test_an_empty_list_of_names_is_a_usage_error(server: SandboxServer) -> None:
    code, _, err = run("plan", "examples", "--update-secrets=")
    assert code == 1 and "--update-secrets=" in err and "separated by commas" in err


def test_apply_of_a_saved_plan_refuses_update_secrets_with_names(server: SandboxServer) -> None:
    assert run("plan", "examples", "--out", "plan.json")[0] == 0
    code, _, err = run("apply", "--plan", "plan.json", "--update-secrets=GHCR_TOKEN")
    assert code == 1 and "--update-secrets" in err and "plan --out" in err


def test_a_saved_plan_re_sends_only_the_named_secret_when_applied(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = passwords(server)
    assert run("plan", "examples", "--update-secrets=GHCR_TOKEN", "--out", "plan.json")[0] == 0
    monkeypatch.delenv("DOCKERHUB_TOKEN")
    monkeypatch.setenv("GHCR_TOKEN", "pw-ghcr-saved")
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 0, out + err
    after = passwords(server)
    assert {k for k in before if before[k] != after[k]} == {k for k in after if after[k] == encrypt("pw-ghcr-saved")}


def test_a_command_that_takes_no_update_secrets_names_the_option_as_it_was_typed(server: SandboxServer) -> None:
    code, _, err = run("validate", "examples", "--update-secrets=GHCR_TOKEN")
    assert code == 1
    assert "unrecognized arguments: --update-secrets=GHCR_TOKEN" in err
    assert "--update-secrets-for" not in err


def test_update_secrets_with_names_before_the_command_is_told_to_go_after_it(server: SandboxServer) -> None:
    code, _, err = run("--update-secrets=GHCR_TOKEN", "plan", "examples")
    assert code == 1
    assert "invalid choice" not in err
    assert "options go after the command: reconcile plan --update-secrets=GHCR_TOKEN" in err
