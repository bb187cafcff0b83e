"""Element-level diffs: what changed inside one field, path by path and element by element."""

from __future__ import annotations

from reconciler.plan.elements import PathChange, changes, field_lines, split_change


def test_a_change_deep_inside_an_object_keeps_its_path_and_nothing_else():
    before = {"users": [{"id": 1, "access_level": "READ_ONLY"}, {"id": 2, "access_level": "READ_ONLY"}]}
    after = {"users": [{"id": 1, "access_level": "READ_ONLY"}, {"id": 2, "access_level": "READ_WRITE"}]}
    assert changes("permissions", before, after) == [
        PathChange("permissions.users[1].access_level", "change", "READ_ONLY", "READ_WRITE")
    ]


def test_keys_and_elements_added_or_removed_are_named_by_path():
    found = changes("p", {"a": [1, 2], "gone": True}, {"a": [1, 2, 3], "new": "x"})
    assert [c.to_json() for c in found] == [
        {"path": "p.a[2]", "op": "add", "to": 3},
        {"path": "p.new", "op": "add", "to": "x"},
        {"path": "p.gone", "op": "remove", "from": True},
    ]


def test_equal_values_have_no_changes():
    assert changes("x", {"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == []


def test_a_changed_list_shows_removed_and_added_elements_on_their_own_lines():
    lines = field_lines("build_args", ["A=1", "B=2", "C=3", "D=4"], ["A=1", "B=2", "C=33", "D=4"])
    assert lines == [
        ("~", "build_args"),
        (" ", '"A=1"'),
        (" ", '"B=2"'),
        ("-", '"C=3"'),
        ("+", '"C=33"'),
        (" ", '"D=4"'),
    ]


def test_long_runs_of_unchanged_elements_are_elided_with_a_count():
    before = [f"V{i}" for i in range(30)]
    after = [*before[:15], "NEW", *before[15:]]
    lines = field_lines("build_args", before, after)
    assert ("+", '"NEW"') in lines
    assert ("…", "… 14 unchanged elements") in lines
    assert len(lines) < 10


def test_a_multi_line_string_is_shown_as_a_line_diff():
    lines = field_lines("script", "echo a\necho b\necho c", "echo a\necho B\necho c")
    assert lines == [("~", "script"), (" ", "echo a"), ("-", "echo b"), ("+", "echo B"), (" ", "echo c")]


def test_a_very_long_string_is_wrapped_so_that_no_line_is_unreadable():
    lines = field_lines("dockerfile_path", "a" * 500, "b" * 500)
    assert all(len(text) <= 100 for _mark, text in lines)
    assert sum(1 for mark, _ in lines if mark == "-") == 5


def test_a_plain_change_is_one_line_with_old_and_new():
    [(mark, text)] = field_lines("cache_mode", "MIN", "MAX")
    assert mark == "~" and split_change(text) == ("cache_mode", "MIN -> MAX")
