"""Validate's output: problems as lines or GitHub annotations, capped per file, with a summary."""

from __future__ import annotations

import io

from reconciler.cli import validateout
from reconciler.problems import MAX_PROBLEMS_PER_FILE, Location, Problem


def many_problems(file: str, count: int) -> list[Problem]:
    return [Problem(Location(file, i + 1, 1), f"$.k{i}", f"unknown field `k{i}`") for i in range(count)]


def test_a_file_with_more_problems_than_the_cap_shows_the_first_ones_then_how_many_more():
    problems = many_problems("big.yml", MAX_PROBLEMS_PER_FILE + 1234) + many_problems("small.yml", 2)
    out = io.StringIO()
    validateout.write_problems(problems, out, files=2)
    lines = out.getvalue().splitlines()
    assert len(lines) == MAX_PROBLEMS_PER_FILE + 1 + 2 + 1
    assert lines[MAX_PROBLEMS_PER_FILE - 1].startswith(f"big.yml:{MAX_PROBLEMS_PER_FILE}:1: ")
    assert lines[MAX_PROBLEMS_PER_FILE] == "… and 1,234 more problems in big.yml (fix these first)"
    assert lines[-3].startswith("small.yml:1:1: ") and lines[-2].startswith("small.yml:2:1: ")
    assert lines[-1] == f"2 file(s) invalid: {MAX_PROBLEMS_PER_FILE + 1236} error(s), 0 warning(s)."


def test_a_file_with_exactly_the_cap_of_problems_shows_them_all():
    out = io.StringIO()
    validateout.write_problems(many_problems("web.yml", MAX_PROBLEMS_PER_FILE), out, files=1)
    assert "more problems" not in out.getvalue()
    assert len(out.getvalue().splitlines()) == MAX_PROBLEMS_PER_FILE + 1


def test_github_annotations_are_capped_per_file_the_same_way():
    out = io.StringIO()
    validateout.write_problems(many_problems("big.yml", MAX_PROBLEMS_PER_FILE + 5), out, files=1, fmt="github")
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("::error ") for line in lines) == MAX_PROBLEMS_PER_FILE
    assert "::notice file=big.yml::… and 5 more problems in big.yml (fix these first)" in lines
    assert lines[-1].endswith(f"{MAX_PROBLEMS_PER_FILE + 5} error(s), 0 warning(s).")
