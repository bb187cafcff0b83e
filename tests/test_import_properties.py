"""Whatever live pipelines and actions the schemas allow, import writes files that validate, and the plan
right after finds nothing to change.

Hypothesis generates live data from the shipped schemas: for actions every writable field of
``action.schema.json``, for pipelines every field of the config schema's pipeline, each with a value of
its documented type (enums, patterns and limits kept; the rules between fields are not, so live data
may break them, as a server's may). The sandbox is seeded with it, ``export`` writes the files, and
``load_config`` and ``engine.plan`` read them back over real HTTP. Derandomized and bounded, so CI
runs the same examples every time.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from reconciler import engine, fields
from reconciler.buddy.client import BuddyClient
from reconciler.config.build import load_config
from reconciler.errors import SandboxError
from reconciler.importer.exporter import export
from reconciler.model import MULTI_ARCH
from reconciler.plan.diff import Options
from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
DOCS = {
    name: json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    for name in ("action.schema.json", "config.schema.json")
}

reject_reasons: list[str] = []
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Text as live data holds it: plain words, Buddy's own variables, and text that looks like ours.
text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10),
    st.sampled_from(["$BUDDY_EXECUTION_REVISION", "${env:X}", "$${env:Y}", "a: b", "- x", "#", "null", "yes", ""]),
)


def _resolve(node: Mapping[str, Any], doc: str) -> tuple[Mapping[str, Any], str]:
    ref = str(node["$ref"])
    target_doc, _, pointer = ref.partition("#")
    target_doc = target_doc or doc
    target: Any = DOCS[target_doc]
    for part in pointer.strip("/").split("/"):
        target = target[part]
    return target, target_doc


def strategy(node: Mapping[str, Any], doc: str = "action.schema.json") -> st.SearchStrategy[Any]:
    """Values of the type ``node`` documents (``null`` left out: a live value that is unset is absent)."""
    if "$ref" in node:
        return strategy(*_resolve(node, doc))
    if "enum" in node:
        return st.sampled_from([v for v in node["enum"] if v is not None])
    types = node.get("type", "object" if "properties" in node else "string")
    kind = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: len(s) < 20)
        return text.filter(lambda s: len(s) >= node.get("minLength", 0))
    if kind == "integer":
        return st.integers(node.get("minimum", 0), node.get("maximum", 100_000))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(strategy(node.get("items", {}), doc), max_size=3)
    return _object(node, doc)


def _object(node: Mapping[str, Any], doc: str) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping of the object's writable properties: the required ones, any others; an ``anyOf`` of
    required keys (an integration's ``identifier`` or ``hash_id``) is met by one of its branches."""
    properties = {k: v for k, v in node.get("properties", {}).items() if not v.get("readOnly")}
    branches = [b.get("required", []) for b in node.get("anyOf", []) if set(b) == {"required"}] or [[]]

    def one(extra: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        required = [k for k in [*node.get("required", []), *extra] if k in properties]
        return st.fixed_dictionaries(
            {k: strategy(properties[k], doc) for k in required},
            optional={k: strategy(v, doc) for k, v in properties.items() if k not in required},
        )

    return st.one_of([one(extra) for extra in branches])


ACTION = DOCS["action.schema.json"]["properties"]
WRITABLE = {k: v for k, v in ACTION.items() if not v.get("readOnly") and k not in ("name", "type")}
PIPELINE = DOCS["config.schema.json"]["$defs"]["pipeline"]["properties"]
PIPELINE_WRITABLE = {
    k: v
    for k, v in PIPELINE.items()
    if k in fields.pipeline_fields() and k not in fields.PIPELINE_NOT_IMPORTED and k not in fields.PIPELINE_READ_ONLY
}

live_actions = st.lists(
    st.fixed_dictionaries({}, optional={k: strategy(v) for k, v in WRITABLE.items()}), min_size=1, max_size=4
)
live_settings = st.fixed_dictionaries(
    {}, optional={k: strategy(v, "config.schema.json") for k, v in PIPELINE_WRITABLE.items()}
)


def _seed(settings_: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    listed = [{**a, "id": 100 + i, "name": f"Action {i}", "type": MULTI_ARCH} for i, a in enumerate(actions)]
    pipeline = {**settings_, "id": 1, "name": "Generated", "actions": listed}
    return {"workspaces": {"w": {"projects": {"p": {"pipelines": [pipeline]}}}}}


def _round_trip(app: SandboxApp, url: str, seed: dict[str, Any]) -> None:
    try:
        app.reset(data=seed)
    except SandboxError as exc:  # what Buddy itself would refuse is never live
        reject_reasons.append(str(exc))
        reject()
    with tempfile.TemporaryDirectory() as folder, BuddyClient(url, DEFAULT_TOKEN) as client:
        out = Path(folder)
        result = export(client, "w", "p", output=out)
        config = load_config(list(result.files))  # raises ValidationFailed on a file validate refuses
        assert all(w.severity == "warning" for w in config.warnings)
        plan = engine.plan(engine.given(client), [out], Options(env=dict.fromkeys(result.env, "x")))
    assert not plan.errors, plan.errors
    assert not plan.has_changes, [(c.kind, c.action_name, c.diff) for c in plan.changes]


def test_any_live_actions_import_to_a_valid_file_and_an_empty_plan() -> None:
    app = SandboxApp(SandboxState.from_data({"workspaces": {}}))
    with SandboxServer(app, poll_interval=0.005) as server:

        @SETTINGS
        @given(actions=live_actions)
        def check(actions: list[dict[str, Any]]) -> None:
            _round_trip(app, server.url, _seed({}, actions))

        check()


def test_any_live_pipeline_settings_import_to_a_valid_file_and_an_empty_plan() -> None:
    app = SandboxApp(SandboxState.from_data({"workspaces": {}}))
    with SandboxServer(app, poll_interval=0.005) as server:

        @SETTINGS
        @given(settings_=live_settings)
        def check(settings_: dict[str, Any]) -> None:
            _round_trip(app, server.url, _seed(settings_, [{}]))

        check()


def test_a_live_value_that_breaks_a_stated_rule_is_named_and_left_out() -> None:
    seed = _seed(
        {"remote_branch": "main", "remote_ref": "v1", "priority": "HIGH"},
        [{"trigger_time": "ON_FAILURE", "cache_mode": "MAX"}],
    )
    app = SandboxApp(SandboxState.from_data(seed))
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        tempfile.TemporaryDirectory() as folder,
        BuddyClient(server.url, DEFAULT_TOKEN) as client,
    ):
        result = export(client, "w", "p", output=Path(folder))
        config = load_config(list(result.files))
        plan = engine.plan(engine.given(client), [Path(folder)], Options())
    assert not plan.has_changes and not plan.errors
    (pipeline,) = config.pipelines
    assert pipeline.fields == {"priority": "HIGH"}
    assert pipeline.actions[0].fields == {"name": "Action 0", "type": MULTI_ARCH, "cache_mode": "MAX"}
    where = 'w/p pipeline "Generated"'
    assert f'{where} action "Action 0": trigger_time: "ON_FAILURE" not written: ' in "\n".join(result.notes)
    assert any(n.startswith(f'{where}: remote_branch: "main" not written: `remote_branch` and') for n in result.notes)
    assert any(n.endswith("Buddy keeps the live value (edit it there)") for n in result.notes)
