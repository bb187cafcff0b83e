"""Two pipeline declarations that can claim one live pipeline: refused by validate, naming both
places, and left without any change at plan time (issue 23, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

from support import served

from reconciler import engine
from reconciler.config.loader import Document, load_text
from reconciler.config.rules import check_documents
from reconciler.plan.diff import Options

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "sandbox-state.json").read_text())


def doc_of(text: str, file: str) -> Document:
    loaded = load_text(text, file)
    assert loaded.documents, loaded.problems
    return loaded.documents[0]


def messages(*docs: Document) -> list[str]:
    return [f"{p.location}: {p.message}" for p in check_documents(list(docs)) if p.severity == "error"]


HEAD = "workspace: acme\nproject: web\npipelines:\n"


def test_a_previous_name_that_another_declaration_uses_as_its_name_names_both_places() -> None:
    first = doc_of(HEAD + "  - name: P\n", "a.yml")
    second = doc_of(HEAD + "  - name: Q\n    previous_names: [P]\n", "b.yml")
    [message] = messages(first, second)
    assert message.startswith("b.yml:5:22: ")
    assert "a.yml:4:5" in message and 'previous name "P"' in message and "acme/web" in message


def test_a_previous_name_given_by_two_declarations_is_refused() -> None:
    first = doc_of(HEAD + "  - {name: Q, previous_names: [P]}\n  - {name: R, previous_names: [P]}\n", "a.yml")
    [message] = messages(first)
    assert message.startswith("a.yml:5:32: ") and "a.yml:4:32" in message


def test_an_id_beside_a_name_that_is_another_declarations_previous_name_is_refused() -> None:
    first = doc_of(HEAD + "  - {id: 7, name: Release}\n", "a.yml")
    second = doc_of(HEAD + "  - {name: Shipping, previous_names: [Release]}\n", "b.yml")
    [message] = messages(first, second)
    assert message.startswith("b.yml:4:39: ") and "a.yml:4:5" in message


def test_previous_names_in_another_project_do_not_clash() -> None:
    first = doc_of(HEAD + "  - name: P\n", "a.yml")
    second = doc_of("workspace: acme\nproject: api\npipelines:\n  - {name: Q, previous_names: [P]}\n", "b.yml")
    assert messages(first, second) == []


def test_a_live_pipeline_claimed_by_id_and_by_name_gets_no_change_at_all(tmp_path: Path) -> None:
    # validate cannot see this one: #7 is "Release images" only on the server
    (tmp_path / "a.yml").write_text(
        HEAD + "  - {id: 7, name: Shipping, actions: []}\n  - {name: Release images, actions: []}\n"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], Options(sandbox=True))
    assert [c for c in made.changes if c.pipeline_id == 7 or c.pipeline in ("Shipping", "Release images")] == []
    assert len(made.errors) == 2
    assert all("#7" in e for e in made.errors)
