"""reconcile import into a directory whose defaults file gives action fields: the written actions say
the live value of every key whose inherited default differs from live, so the plan right after the
import is empty, and import names the defaults it overrode. Against the sandbox over real HTTP."""

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
from reconciler.config.build import load_config
from reconciler.importer.exporter import export
from reconciler.importer.inherited import reaching
from reconciler.model import MULTI_ARCH
from reconciler.plan.diff import Options

#: What a new user tries first in pipelines/defaults.yml (the issue's case).
DEFAULTS = "defaults:\n  cache_mode: MAX\n  provenance: MAX\n  target_platform: linux/amd64,linux/arm64\n"


def _multi(action_id: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"id": action_id, "name": name, "type": MULTI_ARCH, **fields}


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
                                _multi(10, "Plain"),  # inherits nothing it has: all three overridden
                                _multi(
                                    11,
                                    "Same as the defaults",
                                    cache_mode="MAX",
                                    provenance="MAX",
                                    target_platform="linux/arm64, linux/amd64",
                                ),
                                _multi(12, "Own cache", cache_mode="MIN", permissions={"others": "READ_ONLY"}),
                                {"id": 13, "name": "Lint", "type": "BUILD"},
                            ],
                        },
                        {"id": 2, "name": "Nightly", "actions": [_multi(20, "Build", provenance="MIN")]},
                    ]
                }
            }
        }
    }
}


def _import_and_plan(tmp_path: Path, *, defaults: bool, split: bool = False) -> tuple[Any, Any, Path]:
    out = tmp_path / "pipelines"
    out.mkdir()
    (out / "defaults.yml").write_text(DEFAULTS, encoding="utf-8")
    with served(copy.deepcopy(SEED)) as (_app, client):
        result = export(client, "w", "web", output=out, defaults=defaults, split=split)
        config = load_config([out])
        assert not [w for w in config.warnings if w.severity == "error"]
        plan = engine.plan(engine.given(client), [out], Options())
    return result, plan, out


def _assert_empty(plan: Any) -> None:
    assert not plan.errors, plan.errors
    assert not plan.has_changes, [(c.kind, c.action_name, c.diff) for c in plan.changes]


@pytest.mark.parametrize("defaults", [False, True], ids=["plain", "with --defaults"])
@pytest.mark.parametrize("split", [False, True], ids=["one-file", "split"])
def test_a_plan_right_after_an_import_under_a_defaults_file_is_empty(tmp_path: Path, defaults: bool, split: bool):
    _result, plan, _out = _import_and_plan(tmp_path, defaults=defaults, split=split)
    _assert_empty(plan)


def test_each_action_says_the_live_value_where_the_inherited_one_differs(tmp_path: Path):
    result, _plan, out = _import_and_plan(tmp_path, defaults=False)
    written = yaml.safe_load((out / "web.yml").read_text(encoding="utf-8"))
    plain, same, own = written["pipelines"][0]["actions"]
    assert {k: plain[k] for k in ("cache_mode", "provenance", "target_platform")} == {
        "cache_mode": None,
        "provenance": None,
        "target_platform": "linux/amd64",  # Buddy's default: a null there is refused
    }
    assert (same["cache_mode"], same["provenance"]) == ("MAX", "MAX")  # its own live values, as ever
    assert own["cache_mode"] == "MIN" and own["provenance"] is None
    note = next(n for n in result.notes if 'pipeline "Release": inherited defaults' in n)
    assert note.endswith(
        "defaults.yml overridden with the live values, so that the plan stays empty: "
        "cache_mode (1 action), provenance (2 actions), target_platform (2 actions)"
    )


def test_with_defaults_shared_values_still_go_into_the_pipelines_block(tmp_path: Path):
    _result, plan, out = _import_and_plan(tmp_path, defaults=True)
    _assert_empty(plan)
    written = yaml.safe_load((out / "web.yml").read_text(encoding="utf-8"))
    release = written["pipelines"][0]
    assert release["defaults"]["type"] == MULTI_ARCH
    for action in release["actions"]:
        assert not set(release["defaults"]) & set(action)


def test_a_mapping_both_give_gets_null_for_the_inner_keys_the_action_lacks(tmp_path: Path):
    out = tmp_path / "pipelines"
    out.mkdir()
    (out / "defaults.yml").write_text("defaults:\n  permissions:\n    users: [{id: 1, access_level: DENIED}]\n")
    with served(copy.deepcopy(SEED)) as (_app, client):
        export(client, "w", "web", output=out, pipelines=["Release"])
        plan = engine.plan(engine.given(client), [out], Options())
    _assert_empty(plan)
    written = yaml.safe_load((out / "web.yml").read_text(encoding="utf-8"))
    assert written["pipelines"][0]["actions"][2]["permissions"] == {"others": "READ_ONLY", "users": None}


def test_no_defaults_file_leaves_the_import_as_it_was(tmp_path: Path):
    with served(copy.deepcopy(SEED)) as (_app, client):
        result = export(client, "w", "web", output=tmp_path)
    assert not any("inherited defaults" in n for n in result.notes)
    text = (tmp_path / "web.yml").read_text(encoding="utf-8")
    assert "null" not in text and "provenance" in text  # Nightly's own MIN


def test_defaults_above_the_output_directory_reach_it_when_the_plan_runs_from_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipelines" / "web").mkdir(parents=True)
    (tmp_path / "pipelines" / "defaults.yml").write_text(DEFAULTS, encoding="utf-8")
    target = Path("pipelines/web/web.yml")
    assert set(reaching(target, Path("pipelines/web")).values) == {"cache_mode", "provenance", "target_platform"}
    assert reaching(target, Path("pipelines/web"), top=tmp_path / "pipelines" / "web").values == {}


def test_the_cli_names_the_overridden_defaults_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    Path("pipelines").mkdir()
    Path("pipelines/defaults.yml").write_text(DEFAULTS, encoding="utf-8")
    sandbox = ["--sandbox", "--sandbox-seed", str(seed)]
    for extra in ([], ["--defaults"]):
        out, err = io.StringIO(), io.StringIO()
        code = main(["import", "--workspace", "w", "--project", "web", *sandbox, "-o", "pipelines", "--force", *extra],
                    out=out, err=err)  # fmt: skip
        assert code == 0, err.getvalue()
        assert "inherited defaults of pipelines/defaults.yml overridden" in err.getvalue()
        assert "inherited defaults" not in out.getvalue()
        out, err = io.StringIO(), io.StringIO()
        assert main(["plan", "pipelines", *sandbox, "--detailed-exitcode"], out=out, err=err) == 0, out.getvalue()
