"""Files written with the 2024 spellings are rewritten into the 2026 ones, with a warning each."""

from __future__ import annotations

import pytest

from reconciler.config.loader import Document, load_text
from reconciler.config.translate import translate_2024
from reconciler.problems import Location, Problem


def translated(text: str, file: str = "c.yml") -> tuple[Document, list[Problem]]:
    result = load_text(text, file)
    assert not result.problems and len(result.documents) == 1
    doc = result.documents[0]
    return doc, translate_2024(doc)


OLD = """\
domain: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        secret_id: npmrc
        secret_src: .npmrc
        integration_hash: 5ef0a3b2
        target_platform: [linux/amd64, linux/arm64]
        cache_mode: MAX
"""


def test_2024_spellings_are_translated_to_2026_before_the_schema_sees_them() -> None:
    doc, _ = translated(OLD)
    assert doc.data["workspace"] == "acme" and "domain" not in doc.data
    assert doc.data["pipelines"][0]["actions"][0] == {
        "name": "Build app image",
        "type": "DOCKER_BUILD_MULTI_ARCH",
        "secrets": [{"id": "npmrc", "value": ".npmrc", "type": "FILE"}],
        "integration": {"identifier": "5ef0a3b2"},
        "target_platform": "linux/amd64,linux/arm64",
        "cache_mode": "MAX",
    }


def test_each_2024_spelling_is_a_warning_that_shows_the_2026_spelling() -> None:
    _, problems = translated(OLD, "old.yml")
    assert [str(p) for p in problems] == [
        "old.yml:1:1: $.domain: warning: `domain` is the 2024 spelling; write `workspace: acme`",
        "old.yml:8:9: $.pipelines[0].actions[0].secret_id: warning: `secret_id`/`secret_src` are the 2024 "
        "spelling; write `secrets: [{id: npmrc, value: <secret_src>, type: FILE}]`",
        "old.yml:10:9: $.pipelines[0].actions[0].integration_hash: warning: `integration_hash` is the 2024 "
        "spelling; write `integration: {identifier: 5ef0a3b2}`",
        "old.yml:11:9: $.pipelines[0].actions[0].target_platform: warning: a list of platforms is the 2024 "
        'spelling; write `target_platform: "linux/amd64,linux/arm64"`',
    ]


def test_the_secret_source_is_never_shown_in_the_warning() -> None:
    _, problems = translated(OLD.replace(".npmrc", "s3cr3t-path"), "old.yml")
    assert not any("s3cr3t-path" in str(p) for p in problems)


def test_translated_values_keep_the_locations_of_what_was_written() -> None:
    doc, _ = translated(OLD)
    action = ("pipelines", 0, "actions", 0)
    assert doc.locations[("workspace",)] == Location("c.yml", 1, 9)
    assert doc.key_locations[("workspace",)] == Location("c.yml", 1, 1)
    assert doc.locations[(*action, "secrets", 0, "id")] == Location("c.yml", 8, 20)
    assert doc.locations[(*action, "secrets", 0, "value")] == Location("c.yml", 9, 21)
    assert doc.locate((*action, "secrets", 0, "type")) == Location("c.yml", 8, 9)
    assert doc.locations[(*action, "integration", "identifier")] == Location("c.yml", 10, 27)
    assert doc.locations[(*action, "target_platform")] == Location("c.yml", 11, 26)
    assert not any(("secret_id" in p or "domain" in p) for p in doc.locations)


def test_both_spellings_at_once_are_an_error_and_the_2024_one_is_dropped() -> None:
    text = "domain: acme\nworkspace: acme\nproject: web\n"
    doc, problems = translated(text)
    assert [str(p) for p in problems] == [
        "c.yml:1:1: $.domain: both `domain` (the 2024 spelling) and `workspace` are given; keep only `workspace`"
    ]
    assert doc.data == {"workspace": "acme", "project": "web"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("integration_hash: abc", "integration: {identifier: abc}"),
        ("secret_id: a", "secrets: [{id: a, value: b, type: FILE}]"),
    ],
)
def test_both_action_spellings_at_once_are_an_error(old: str, new: str) -> None:
    text = f"workspace: acme\npipelines:\n  - name: P\n    actions:\n      - {old}\n        {new}\n"
    _, problems = translated(text)
    assert [p.severity for p in problems] == ["error"]
    assert "keep only" in problems[0].message
