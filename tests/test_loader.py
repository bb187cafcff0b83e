"""The loader turns YAML into plain data that remembers where everything was written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.config.loader import MAX_ALIAS_EXPANSION, Document, load_file, load_paths, load_text
from reconciler.problems import Location

CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        cache_mode: MAX
        build_args: [A=1, B=2]
      - name: Build worker image
        type: DOCKER_BUILD_MULTI_ARCH
        timeout: 600
        pull: true
        registry: null
"""


def one_doc(text: str | bytes, file: str = "c.yml") -> Document:
    result = load_text(text, file)
    assert [str(p) for p in result.problems if p.severity == "error"] == []
    assert len(result.documents) == 1
    return result.documents[0]


def errors(text: str | bytes, file: str = "c.yml") -> list[str]:
    result = load_text(text, file)
    assert result.documents == []
    return [str(p) for p in result.problems]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- data and locations ----------------------------------------------------------------------------


def test_the_data_is_plain_python_values() -> None:
    doc = one_doc(CONFIG)
    second = doc.data["pipelines"][0]["actions"][1]
    assert second == {
        "name": "Build worker image",
        "type": "DOCKER_BUILD_MULTI_ARCH",
        "timeout": 600,
        "pull": True,
        "registry": None,
    }
    assert doc.data["pipelines"][0]["actions"][0]["build_args"] == ["A=1", "B=2"]


def test_every_mapping_value_key_and_list_item_has_a_one_based_location() -> None:
    doc = one_doc(CONFIG)
    action = ("pipelines", 0, "actions", 0)
    assert doc.locations[(*action, "cache_mode")] == Location("c.yml", 8, 21)
    assert doc.key_locations[(*action, "cache_mode")] == Location("c.yml", 8, 9)
    assert doc.locations[action] == Location("c.yml", 6, 9)
    assert doc.locations[(*action, "build_args", 1)] == Location("c.yml", 9, 27)
    assert doc.locations[()] == Location("c.yml", 1, 1)


def test_locate_falls_back_to_the_nearest_located_ancestor() -> None:
    doc = one_doc(CONFIG)
    assert doc.locate(("pipelines", 0, "actions", 1, "missing")) == Location("c.yml", 10, 9)
    assert doc.locate(("pipelines", 0, "name"), key=True) == Location("c.yml", 4, 5)


def test_yaml_11_scalars_become_their_python_values_and_dates_stay_text() -> None:
    doc = one_doc("workspace: acme\nhex: 0x1F\nflag: yes\nratio: 1.5\nday: 2024-01-31\nbig: 1_000\n")
    assert doc.data == {"workspace": "acme", "hex": 31, "flag": True, "ratio": 1.5, "day": "2024-01-31", "big": 1000}


def test_anchors_aliases_and_merge_keys_work_with_the_written_locations() -> None:
    text = (
        "workspace: acme\n"
        "creds: &creds {login: bot, password: $TOKEN}\n"
        "pipelines:\n"
        "  - name: P\n"
        "    actions:\n"
        "      - <<: *creds\n"
        "        name: A\n"
        "        login: other\n"
    )
    doc = one_doc(text)
    action = doc.data["pipelines"][0]["actions"][0]
    assert action == {"name": "A", "login": "other", "password": "$TOKEN"}
    path = ("pipelines", 0, "actions", 0)
    assert doc.locations[(*path, "password")] == Location("c.yml", 2, 38)  # where it was written
    assert doc.locations[(*path, "login")] == Location("c.yml", 8, 16)  # the explicit key wins
    assert not any("<<" in p for p in doc.locations)


def test_an_aliased_block_is_copied_not_shared() -> None:
    doc = one_doc("workspace: acme\na: &x {k: [1]}\nb: *x\n")
    doc.data["a"]["k"].append(2)
    assert doc.data["b"] == {"k": [1]}


def test_a_byte_order_mark_is_accepted() -> None:
    assert one_doc(b"\xef\xbb\xbfworkspace: acme\n").data == {"workspace": "acme"}


# -- refused input --------------------------------------------------------------------------------


def test_a_duplicate_key_is_refused_at_the_second_naming_the_first_line() -> None:
    text = "workspace: acme\nproject: web\npipelines:\n  - name: P\n    name: Q\n"
    assert errors(text) == ["c.yml:5:5: $.pipelines[0].name: duplicate key `name` (first given at line 4)"]


def test_every_duplicate_key_of_a_file_is_reported_at_once() -> None:
    assert len(errors("workspace: a\nworkspace: b\nproject: c\nproject: d\n")) == 2


def test_a_billion_laughs_file_is_refused_quickly() -> None:
    lines = ["workspace: acme", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join(['*' + previous] * 9)}]")
    started = time.perf_counter()
    found = errors("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    assert len(found) == 1
    assert "aliases expand to more than" in found[0] and "billion laughs" in found[0]


def test_a_big_file_may_reuse_a_block_on_every_action() -> None:
    # 2,000 actions each merging a 5-key block: 12,000 expanded nodes, more than the fixed margin,
    # but in proportion to the file's own size.
    actions = "".join(f"      - <<: *defaults\n        name: Build {n}\n" for n in range(2000))
    text = (
        "workspace: acme\nproject: web\n"
        "defaults: &defaults {type: T, login: bot, password: $TOKEN, cache_mode: MAX, pull: true}\n"
        f"pipelines:\n  - name: P\n    actions:\n{actions}"
    )
    assert MAX_ALIAS_EXPANSION < 2000 * 6
    doc = one_doc(text)
    assert len(doc.data["pipelines"][0]["actions"]) == 2000


def test_a_recursive_alias_is_refused() -> None:
    assert "recursive structure" in errors("workspace: &a [*a]\n")[0]


def test_an_empty_file_is_refused_when_named() -> None:
    assert errors("") == ["c.yml:1:1: $: the file is empty"]
    assert errors("# only a comment\n") == ["c.yml:1:1: $: the file is empty (it holds only comments)"]


def test_non_utf8_bytes_are_refused_with_their_offset_and_line() -> None:
    assert errors(b"workspace: acme\nproject: caf\xe9\n") == [
        "c.yml:2:13: $: the file is not UTF-8: invalid byte 0xe9 at byte offset 28"
    ]


def test_a_top_level_that_is_not_a_mapping_is_refused_when_named() -> None:
    assert errors("- workspace: acme\n") == [
        "c.yml:1:1: $: not a config file: expected a top-level mapping with `workspace`, `project` and "
        "`pipelines`, found a list"
    ]


def test_tab_indentation_is_named_as_such() -> None:
    assert errors("workspace: acme\npipelines:\n\t- name: P\n") == [
        "c.yml:3:1: $: a tab character is used for indentation; YAML indentation must be spaces"
    ]


def test_a_syntax_error_is_located_at_the_problem() -> None:
    (message,) = errors("workspace: acme\npipelines: [a, b\nproject: web\n")
    assert message.startswith("c.yml:3:")
    assert "YAML syntax error" in message
    assert "started at line 2" in message


def test_non_string_keys_are_refused_with_a_hint_to_quote_them() -> None:
    assert errors("workspace: acme\non: push\n") == [
        "c.yml:2:1: $: mapping keys must be strings: `on` is read as a boolean; put it in quotes if a string is meant"
    ]
    assert "not a list or a mapping" in errors("workspace: acme\n? [a]\n: 1\n")[0]


def test_custom_tags_and_infinite_numbers_are_refused() -> None:
    assert "unsupported YAML tag" in errors("workspace: !Ref acme\n")[0]
    assert "not a finite number" in errors("workspace: acme\ntimeout: .inf\n")[0]


def test_a_stray_document_marker_adds_no_document_and_never_makes_a_config_a_skipped_file(tmp_path: Path) -> None:
    ending = write(tmp_path / "ends.yml", CONFIG + "---\n")
    starting = write(tmp_path / "starts.yml", "--- # the web project\n" + CONFIG + "--- # end\n...\n")
    result = load_paths([tmp_path])
    assert len(result.documents) == 2 and result.problems == [] and result.skipped == []
    assert {d.file for d in result.documents} == {str(ending), str(starting)}


def test_a_scanned_file_of_several_documents_that_holds_a_config_is_an_error_not_skipped(tmp_path: Path) -> None:
    # skipped, its pipelines would look undeclared, and prune_pipelines would delete them
    both = write(tmp_path / "web.yml", CONFIG + "---\nkind: ConfigMap\n")
    result = load_paths([tmp_path])
    assert result.skipped == [] and result.documents == []
    message = "$: a config file holds one YAML document; this one holds 2"
    assert [str(p) for p in result.problems] == [f"{both}:16:1: {message}"]


def test_two_documents_in_one_named_file_are_refused() -> None:
    assert errors("workspace: a\n---\nworkspace: b\n") == [
        "c.yml:3:1: $: a config file holds one YAML document; this one holds 2"
    ]


# -- directory scan -------------------------------------------------------------------------------


def test_a_directory_scan_reads_yml_and_yaml_files_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "workspace: acme\nproject: b\n")
    write(tmp_path / "a" / "z.yml", "workspace: acme\nproject: az\n")
    write(tmp_path / "a.yml", "workspace: acme\nproject: a\n")
    write(tmp_path / "notes.txt", "workspace: acme\n")
    write(tmp_path / "sandbox-state.json", "{}")
    result = load_paths([tmp_path])
    assert [Path(d.file).relative_to(tmp_path).as_posix() for d in result.documents] == [
        "a/z.yml",
        "a.yml",
        "b.yaml",
    ]
    assert result.problems == []


def test_a_directory_scan_skips_dot_directories(tmp_path: Path) -> None:
    write(tmp_path / ".github" / "workflows" / "ci.yml", "workspace: [broken\n")
    write(tmp_path / ".hidden" / "c.yml", "workspace: acme\n")
    result = load_paths([tmp_path])
    assert result.documents == [] and result.problems == [] and result.skipped == []


def test_a_directory_scan_skips_yaml_that_is_not_a_config_file(tmp_path: Path) -> None:
    workflow = write(tmp_path / "ci" / "github.yml", "on: push\njobs:\n  validate:\n    runs-on: ubuntu\n")
    gitlab = write(tmp_path / "ci" / "gitlab.yml", "stages: [validate]\n")
    listing = write(tmp_path / "list.yml", "- a\n- b\n")
    empty = write(tmp_path / "empty.yml", "")
    manifests = write(tmp_path / "k8s.yml", "kind: A\n---\nkind: B\n")
    write(tmp_path / "web.yml", "workspace: acme\nproject: web\n")
    result = load_paths([tmp_path])
    assert [d.data["project"] for d in result.documents] == ["web"]
    assert result.problems == []
    assert sorted(result.skipped) == sorted(str(p) for p in (workflow, gitlab, listing, empty, manifests))


@pytest.mark.parametrize(
    ("text", "key", "meant"),
    [
        ("Workspace: acme\nProject: web\n", "Workspace", "workspace"),
        ("worksapce: acme\n", "worksapce", "workspace"),
        ("pipeline:\n  - name: P\n", "pipeline", "pipelines"),
    ],
)
def test_a_skipped_file_with_a_near_miss_of_a_config_key_gets_a_warning_naming_file_and_key(
    tmp_path: Path, text: str, key: str, meant: str
) -> None:
    file = write(tmp_path / "web.yml", text)
    result = load_paths([tmp_path])
    assert result.skipped == [str(file)]
    warning = result.problems[0]
    assert warning.severity == "warning" and warning.location == Location(str(file), 1, 1)
    assert f"`{key}` looks like `{meant}`" in warning.message


def test_ci_files_beside_the_configs_get_no_near_miss_warning(tmp_path: Path) -> None:
    write(tmp_path / "gh.yml", "name: CI\non: push\ndefaults:\n  run:\n    shell: bash\njobs: {}\n")
    write(tmp_path / "gl.yml", "default:\n  image: python\nstages: [test]\nvariables: {A: b}\nworkflow: {}\n")
    assert load_paths([tmp_path]).problems == []


def test_a_directory_scan_reports_yaml_it_cannot_parse(tmp_path: Path) -> None:
    # We cannot tell whether a broken file was meant to be a config; it must not silently vanish.
    write(tmp_path / "broken.yml", "workspace: [acme\n")
    result = load_paths([tmp_path])
    assert len(result.problems) == 1 and result.problems[0].severity == "error"


def test_a_file_named_on_the_command_line_must_be_a_config_file(tmp_path: Path) -> None:
    workflow = write(tmp_path / "ci.yml", "on: push\njobs: {}\n")
    result = load_paths([workflow])
    assert result.documents == [] and result.skipped == []
    assert [p.severity for p in result.problems] == ["error"]


def test_a_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    result = load_paths([missing])
    assert [str(p) for p in result.problems] == [f"{missing}:1:1: $: no such file or directory"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    config = write(tmp_path / "web.yml", "workspace: acme\nproject: web\n")
    assert len(load_paths([config, tmp_path, str(config)]).documents) == 1


def test_every_file_level_problem_is_reported_in_one_result(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", "workspace: acme\nworkspace: again\n")
    (tmp_path / "b.yml").write_bytes(b"workspace: \xff\n")
    write(tmp_path / "c.yml", "workspace: acme\nproject:\n\t- x\n")
    result = load_paths([tmp_path, tmp_path / "missing.yml"])
    assert len(result.problems) == 4


def test_load_file_reads_one_file(tmp_path: Path) -> None:
    config = write(tmp_path / "web.yml", "workspace: acme\n")
    assert load_file(config).documents[0].file == str(config)


def test_a_symlink_loop_is_named_as_one_not_as_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.yml").symlink_to(tmp_path / "b.yml")
    (tmp_path / "b.yml").symlink_to(tmp_path / "a.yml")
    result = load_paths([tmp_path / "a.yml"])
    assert [p.message for p in result.problems] == ["a symlink loop (the link never reaches a file)"]


def test_a_dangling_symlink_names_the_missing_target(tmp_path: Path) -> None:
    (tmp_path / "a.yml").symlink_to(tmp_path / "gone.yml")
    result = load_paths([tmp_path / "a.yml"])
    assert [p.message for p in result.problems] == [f"a symlink to {tmp_path / 'gone.yml'}, which does not exist"]


def test_a_cycle_made_while_the_collector_is_paused_is_still_collected_after() -> None:
    import gc
    import weakref

    from reconciler.config.loader import collector_paused

    class Node:
        pass

    with collector_paused():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        ref = weakref.ref(node)
        del node
    assert gc.isenabled()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize(
    "text",
    [
        "- workspace: acme\n  project: web\n  pipelines: []\n",
        "config:\n  workspace: acme\n  project: web\n  pipelines: []\n",
        "<<: {workspace: acme, project: web, pipelines: []}\n",
    ],
)
def test_a_skipped_file_holding_a_config_one_level_down_gets_a_warning_and_counts_as_doubtful(
    tmp_path: Path, text: str
) -> None:
    file = write(tmp_path / "b.yml", text)
    result = load_paths([tmp_path])
    assert result.skipped == [str(file)] and result.doubtful == [str(file)]
    assert [p.message for p in result.problems] == [
        "this file is skipped as not a config file, but it holds what looks like a config's keys"
    ]


def test_a_ci_workflow_is_skipped_without_a_warning_and_is_not_doubtful(tmp_path: Path) -> None:
    write(tmp_path / "ci.yml", "on: push\njobs:\n  build:\n    runs-on: ubuntu\n    steps: []\n")
    result = load_paths([tmp_path])
    assert result.problems == [] and result.doubtful == [] and len(result.skipped) == 1


def test_a_drone_file_of_two_documents_is_skipped_not_an_error(tmp_path: Path) -> None:
    drone = "kind: pipeline\nname: a\nworkspace:\n  path: /src\nsteps: []\n---\nkind: pipeline\nname: b\n"
    file = write(tmp_path / "drone.yml", drone)
    result = load_paths([tmp_path])
    assert result.problems == [] and result.skipped == [str(file)] and result.doubtful == []


@pytest.mark.parametrize(
    "text",
    [
        "kind: x\n---\nWorkspace: acme\nProject: web\nPipelines: []\n",  # near misses in a later document
        "<<: [{workspace: acme, project: web, pipelines: []}]\n",  # a merge key's list
    ],
)
def test_a_config_meant_in_a_later_document_or_a_merge_list_makes_the_file_doubtful(tmp_path: Path, text: str) -> None:
    file = write(tmp_path / "b.yml", text)
    result = load_paths([tmp_path])
    assert result.skipped == [str(file)] and result.doubtful == [str(file)]
    assert all(p.severity == "warning" for p in result.problems) and result.problems


def test_one_near_miss_key_of_another_tool_is_told_but_does_not_make_the_file_doubtful(tmp_path: Path) -> None:
    write(tmp_path / "atlantis.yaml", "version: 3\nprojects:\n  - dir: infra\n")
    result = load_paths([tmp_path])
    assert len(result.problems) == 1 and result.doubtful == []


@pytest.mark.parametrize(
    "text",
    [
        "- workspace: acme\n- project: web\n- pipelines: [{name: B}]\n",  # a dash before each key
        "- Workspace: acme\n  Project: web\n  pipelines: [{name: B}]\n",  # near misses one level down
        "workspace: acme\n---\nproject: web\n---\npipelines: [{name: B}]\n",  # split over documents
    ],
)
def test_a_config_split_over_list_items_or_documents_makes_the_file_doubtful(tmp_path: Path, text: str) -> None:
    file = write(tmp_path / "b.yml", text)
    result = load_paths([tmp_path])
    assert result.skipped == [str(file)] and result.doubtful == [str(file)]


@pytest.mark.parametrize(
    "text",
    [
        "services:\n  workspace: {image: laradock}\n  project: {image: x}\n",  # compose services
        "inputs:\n  workspace: {required: true}\n  project: {required: true}\n",  # a composite action
        "projects: [{name: a}]\nworkspaces: [{name: b}]\n",  # Terraform Cloud as code
        "inputs:\n  workspace: {required: true}\n  project: {}\n  pipeline: {description: name}\n",  # a Buddy action
        "properties:\n  workspace: {type: string}\n  project: {}\n  pipelines: {type: array}\n",  # a schema
        "nav:\n  - Workspace: ws.md\n  - Projects: p.md\n  - Pipelines: pl.md\n",  # mkdocs
        "kind: PipelineRun\nspec:\n  pipelineRef: {name: b}\n  workspaces: [{name: src}]\n",  # Tekton
    ],
)
def test_config_keys_without_a_list_of_pipelines_do_not_make_a_file_doubtful(tmp_path: Path, text: str) -> None:
    write(tmp_path / "other.yml", text)
    assert load_paths([tmp_path]).doubtful == []
