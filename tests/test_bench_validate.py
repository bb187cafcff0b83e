"""benchmarks/bench_validate.py: the repository it generates is valid in both layouts, with the same
effective actions (a benchmark that stops at its first ValidationFailed measures nothing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from reconciler.config.build import load_config

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_validate.py"


def bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_validate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("defaults", [False, True], ids=["spelt out", "with defaults"])
def test_the_generated_repository_is_valid(tmp_path: Path, defaults: bool) -> None:
    bench().generate(tmp_path, 2, 10, defaults=defaults)
    config = load_config([tmp_path])
    assert sum(len(p.actions) for p in config.pipelines) == 20


def test_both_layouts_give_the_same_effective_actions(tmp_path: Path) -> None:
    module = bench()
    models = []
    for defaults in (False, True):
        where = tmp_path / str(defaults)
        where.mkdir()
        module.generate(where, 2, 10, defaults=defaults)
        models.append([[dict(a.fields) for a in p.actions] for p in load_config([where]).pipelines])
    assert models[0] == models[1]
