"""The README tells the truth: its field tables are the schemas', its commands parse, its examples load,
and the schemas it points editors at describe every field."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.cli.args import build_parser
from reconciler.cli.main import main
from reconciler.sandbox import SandboxState

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCHEMAS = ROOT / "schemas"
QUICKSTART = [
    "python3 -m pip install . && reconcile plan --sandbox examples/",
    "python3 -m pip install '.[test]' && pytest",
]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("field_reference", ROOT / "scripts" / "field_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


field_reference = _script()


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the `## title` section (up to the next `## `)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme(), re.M | re.S)
    assert match, f"the README has no section '## {title}'"
    return match.group(1)


def code_blocks(language: str, text: str | None = None) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", text or readme(), re.M | re.S)


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


# -- the field reference -----------------------------------------------------------------------------


def test_readme_field_tables_are_exactly_what_the_script_makes_from_the_schemas() -> None:
    assert field_reference.main(["--check"]) == 0, "run: python scripts/field_reference.py"


def test_check_fails_on_a_stale_readme_and_a_rewrite_repairs_it(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(readme().replace("| `cache_mode` | string | `MIN`, `MAX` |", "| `cache_mode` | string | |"))
    assert field_reference.main(["--check", "--readme", str(stale)]) == 1
    assert field_reference.main(["--readme", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == readme()


def test_check_fails_when_the_markers_are_missing(tmp_path: Path) -> None:
    bare = tmp_path / "README.md"
    bare.write_text("# reconcile\n")
    assert field_reference.main(["--check", "--readme", str(bare)]) == 1


def test_every_writable_action_field_has_a_row_and_every_read_only_one_is_named_as_refused() -> None:
    region = readme().split("<!-- field-reference:start -->")[1].split("<!-- field-reference:end -->")[0]
    rows = set(re.findall(r"^\| `([^`]+)` \|", region, re.M))
    properties = schema("action")["properties"]
    writable = {name for name, node in properties.items() if not node.get("readOnly")}
    refused = set(properties) - writable
    assert writable <= rows
    assert {"secrets[].id", "secrets[].value", "integration.identifier", "permissions.users[].id"} <= rows
    refused_line = next(line for line in region.splitlines() if line.startswith("Refused in a file"))
    assert set(re.findall(r"`([a-z_]+)`", refused_line.split(":", 1)[1])) == refused


def test_every_enum_is_listed_with_its_allowed_values() -> None:
    region = readme().split("<!-- field-reference:start -->")[1]
    for name, node in schema("action")["properties"].items():
        values = [v for v in node.get("enum", []) if v is not None]
        if values:
            expected = ", ".join(f"`{v}`" for v in values)
            assert f"| `{name}` | string | {expected} |" in region


def test_the_tables_escape_pipes_so_markdown_keeps_four_columns() -> None:
    for region in ("field-reference", "action-keys", "pipeline-reference"):
        text = readme().split(f"<!-- {region}:start -->")[1].split(f"<!-- {region}:end -->")[0]
        for line in text.splitlines():
            if line.startswith("|"):
                assert len(re.split(r"(?<!\\)\|", line)) == 6, line


# -- the schemas editors read ----------------------------------------------------------------------


def _properties(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of every object in a schema, nested definitions included."""
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{path}.{name}", child
        for key, child in node.items():
            yield from _properties(child, f"{path}.{key}")
    elif isinstance(node, list):
        for child in node:
            yield from _properties(child, path)


@pytest.mark.parametrize("name", ["action", "config"])
def test_every_property_in_the_schemas_has_a_description_for_editors(name: str) -> None:
    undescribed = [
        path
        for path, node in _properties(schema(name))
        if not node.get("description") and not str(node.get("$ref", "")).startswith("action.schema.json#")
    ]
    assert not undescribed


def test_the_schemas_carry_the_enums_editors_complete() -> None:
    action = schema("action")["properties"]
    assert "DOCKER_HUB" in action["docker_registry"]["enum"]
    assert action["cache_mode"]["enum"] == ["MIN", "MAX", None]
    assert schema("config")["$defs"]["pipeline"]["properties"]["priority"]["enum"][:3] == ["HIGH", "NORMAL", "LOW"]


def test_readme_shows_both_ways_to_point_an_editor_at_the_schema() -> None:
    text = section("Editor support")
    assert "# yaml-language-server: $schema=../schemas/config.schema.json" in text
    settings = json.loads(code_blocks("json", text)[0])
    assert "./schemas/config.schema.json" in settings["yaml.schemas"]


def test_the_example_configs_point_at_the_schema_by_a_path_that_exists() -> None:
    for path in sorted((ROOT / "examples" / "acme").glob("*.yml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        target = first.removeprefix("# yaml-language-server: $schema=")
        assert target != first and (path.parent / target).resolve().is_file(), path


# -- the README's prose ------------------------------------------------------------------------------


def test_quickstart_keeps_its_two_commands() -> None:
    (block,) = code_blocks("sh", section("Quickstart"))
    assert block.splitlines() == QUICKSTART


def test_every_command_and_every_option_of_the_cli_is_documented() -> None:
    text = readme()
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        assert f"`reconcile {name}" in text, name
        for action in sub._actions:
            longs = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            if longs and action.help != argparse.SUPPRESS:  # a hidden option is the parser's own
                assert any(o in text for o in longs), f"reconcile {name} {longs}"


def _readme_commands() -> Iterator[list[str]]:
    for block in code_blocks("sh"):
        for line in block.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            tokens = list(lexer)
            segment: list[str] = []
            for token in [*tokens, ";"]:
                if token in {"&&", "||", ";", "|", "&", ">"}:
                    if segment[:1] == ["reconcile"]:
                        yield segment[1:]
                    segment = [] if token != ">" else ["(redirect)"]
                else:
                    segment.append(token)


def test_every_reconcile_command_in_the_readme_parses() -> None:
    found = list(_readme_commands())
    assert len(found) >= 8
    parser = build_parser()
    for argv in found:
        if argv != ["--version"]:
            parser.parse_args(argv)


def test_the_json_plan_example_has_the_keys_the_tool_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns(".reconcile-*"))
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert main(["plan", "examples", "--sandbox", "--format", "json"], out=out, err=io.StringIO()) == 0
    real = json.loads(out.getvalue())
    example = json.loads(code_blocks("json", section("Reading a plan"))[0])
    assert set(example) == set(real)
    assert set(example["changes"][0]) == set(real["changes"][0])
    assert set(example["skipped"][0]) == set(real["skipped"][0])
    assert set(example["summary"]) == set(real["summary"])
    assert example["skipped"][0]["reason"] == real["skipped"][0]["reason"]


def test_the_seed_example_is_a_seed_the_sandbox_accepts() -> None:
    text = section("The sandbox")
    seed = json.loads(next(block for block in code_blocks("json", text) if '"workspaces"' in block))
    state = SandboxState.from_data(seed)
    assert [p.name for _, _, p in state.iter_pipelines()] == ["Release images", "Docs site"]


def test_files_the_readme_names_exist() -> None:
    named = set(re.findall(r"`((?:examples|scripts|benchmarks|schemas|reconciler|tests|\.ci)/[^`\s]*)`", readme()))
    assert len(named) > 10
    missing = [name for name in sorted(named) if not (ROOT / name.rstrip("/")).exists() and "<" not in name]
    assert not missing


def test_troubleshooting_covers_the_errors_users_meet() -> None:
    text = section("Troubleshooting")
    for needle in (
        "BUDDY_TOKEN is not set",
        "401",
        "403",
        "EXECUTION_INFO",
        "EXECUTION_MANAGE",
        "defined in Buddy YAML",
        "--force",
        "the plan is stale",
        "is not set (referenced as ${env:",
        "it will be added at the end",
        "plain http",
    ):
        assert needle in text, needle


def test_every_environment_variable_the_tool_reads_is_documented_in_the_connection_section() -> None:
    read = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        if "sandbox" in path.parts:
            continue  # the simulator reads a WSGI environ, not the user's environment
        read |= set(re.findall(r"""environ\.get\(["']([A-Z_]+)["']""", path.read_text(encoding="utf-8")))
    assert {"BUDDY_TOKEN", "BUDDY_TIMEOUT", "BUDDY_WORKSPACE"} <= read
    text = readme().split("### Connection and environment variables")[1].split("\n### ")[0]
    assert not [name for name in sorted(read) if f"`{name}`" not in text]


def test_every_option_the_readme_names_is_an_option_of_some_command() -> None:
    parser = build_parser()
    options = {o for a in parser._actions for o in a.option_strings}
    for sub in next(a for a in parser._actions if a.dest == "command").choices.values():
        options |= {o for a in sub._actions for o in a.option_strings}
    others = {"--check", "--mount", "--rate-limit", "--rate-window"}  # a script's, Docker's, a benchmark's
    others |= {"--bare", "--check-jsonschema"}  # the benchmarks' yardsticks
    others |= {"--module-lines", "--function-lines", "--complexity"}  # scripts/check_sizes.py's
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", readme()))
    assert named - options <= others, named - options - others


def test_every_fault_kind_of_the_sandbox_is_in_the_readme() -> None:
    text = section("The sandbox")
    kinds = re.search(r"\(kinds: ([^)]*)\)", " ".join(_help("sandbox").split()))
    assert kinds
    for kind in kinds.group(1).split(", "):
        assert f"`{kind}`" in text, kind


def test_the_contents_line_links_every_section() -> None:
    contents = readme().split("**Contents:**")[1].split("\n\n")[0]
    for title in re.findall(r"^## (.+)$", readme(), re.M):
        anchor = "#" + re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
        assert f"]({anchor})" in contents, title


def _help(command: str) -> str:
    out = io.StringIO()
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    sub.print_help(out)
    return out.getvalue()
