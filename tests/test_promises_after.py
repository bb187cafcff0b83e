"""``after:`` names an action by its new name while the same apply renames it (issue 23, item 5)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from support import live_names, served

from reconciler import engine, render
from reconciler.apply import ApplyOptions, Looks
from reconciler.plan.diff import Options
from reconciler.plan.planfile import plan_from_json

MA = "DOCKER_BUILD_MULTI_ARCH"
SEED: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release",
                            "actions": [
                                {"id": 40, "name": "A", "type": MA, "dockerfile_path": "a/Dockerfile"},
                                {"id": 41, "name": "Notify", "type": "SLACK"},
                            ],
                        }
                    ]
                }
            }
        }
    }
}
CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - {name: New, after: A2, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: new/Dockerfile}
      - {name: A2, previous_names: [A], type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: a/Dockerfile}
"""


def test_after_may_name_an_action_by_the_new_name_the_same_apply_gives_it(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(CONFIG)
    with served(SEED) as (app, client):
        plan = engine.plan(engine.given(client), [tmp_path], Options())
        assert plan.errors == []
        text = io.StringIO()
        render.write_text(plan, text)
        assert 'after "A2" (renamed from "A")' in text.getvalue()
        saved = plan_from_json(json.loads(json.dumps(plan.to_json())))
        assert [c.after_renamed_from for c in saved.changes if c.kind == "create"] == ["A"]
        engine.apply(
            engine.given(client), [tmp_path], Options(), ApplyOptions(looks=Looks(delays=(0.0,), sleep=lambda _s: None))
        )
        assert live_names(app, "acme", "web", "Release") == [("A2", MA), ("New", MA), ("Notify", "SLACK")]
        assert not engine.plan(engine.given(client), [tmp_path], Options()).has_changes


def test_after_an_unknown_name_still_suggests_the_new_name_of_a_renamed_action(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(CONFIG.replace("after: A2", "after: A22"))
    with served(SEED) as (_app, client):
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    [error] = plan.errors
    assert 'did you mean "A2"' in error
