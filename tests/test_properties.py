"""Whatever is done to a valid config file, validation answers with located problems, never a crash.

Hypothesis starts from the example files and breaks them: in their data (keys deleted, values of the
wrong type, unknown keys, values swapped), in their text (lines duplicated, so keys repeat; lines
dropped; indentation changed; tabs) and in their bytes (corrupted, truncated). ``load_config`` must then
either succeed or raise ``ValidationFailed``, and every problem must carry a real location and a
JSON path. The runs are derandomized, so a failure reproduces on every machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.build import load_config
from reconciler.errors import ValidationFailed

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*.yml")) if "workspace:" in p.read_text()]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["${env:X}", "${env:", "${env:1}", "$VAR", "linux/amd64,bad", "ON_FAILURE", "AMAZON_ECR"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def all_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``data`` (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out.extend(all_paths(child, (*prefix, key)))
    return out


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> str:
    data = yaml.safe_load(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = all_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = parent_of(data, path)
        operation = draw(st.sampled_from(["delete", "replace", "unknown_key", "swap"]))
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "replace":
            parent[path[-1]] = draw(values)
        elif operation == "unknown_key":
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(st.sampled_from(["cache_mod", "secret_id", "id", "after_action_id", "zzz"]))] = draw(values)
        else:
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != other:
                other_parent = parent_of(data, other)
                parent[path[-1]], other_parent[other[-1]] = other_parent[other[-1]], parent[path[-1]]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SOURCES)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        operation = draw(st.sampled_from(["duplicate", "drop", "indent", "dedent", "tab", "insert"]))
        if operation == "duplicate":
            lines.insert(i, lines[i])
        elif operation == "drop" and len(lines) > 1:
            del lines[i]
        elif operation == "indent":
            lines[i] = " " * draw(st.integers(min_value=1, max_value=3)) + lines[i]
        elif operation == "dedent":
            lines[i] = lines[i][draw(st.integers(min_value=1, max_value=3)) :]
        elif operation == "tab":
            lines[i] = "\t" + lines[i].lstrip(" ")
        elif operation == "insert":
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.text(alphabet="{}[]:,&*!|>'\"#-? %@`", max_size=3)) + lines[i][at:]
    return "\n".join(lines) + "\n"


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SOURCES)).encode("utf-8"))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[at] = draw(st.integers(min_value=0, max_value=255))
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    return bytes(raw)


def assert_answers_with_located_problems(content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "config.yml"
        if isinstance(content, str):
            file.write_text(content, encoding="utf-8")
        else:
            file.write_bytes(content)
        try:
            config = load_config([file])
        except ValidationFailed as failed:
            problems = failed.problems
            assert any(p.severity == "error" for p in problems)
        else:
            problems = config.warnings
        for problem in problems:
            assert problem.location.file == str(file)
            assert problem.location.line >= 1 and problem.location.col >= 1
            assert problem.path.startswith("$")
            assert problem.message


@SETTINGS
@given(mutated_data())
def test_a_config_with_mutated_data_is_answered_with_located_problems(text: str) -> None:
    assert_answers_with_located_problems(text)


@SETTINGS
@given(mutated_text())
def test_a_config_with_mutated_text_is_answered_with_located_problems(text: str) -> None:
    assert_answers_with_located_problems(text)


@SETTINGS
@given(mutated_bytes())
def test_a_config_with_corrupted_bytes_is_answered_with_located_problems(raw: bytes) -> None:
    assert_answers_with_located_problems(raw)


def test_the_examples_are_the_starting_point() -> None:
    assert len(SOURCES) >= 3
