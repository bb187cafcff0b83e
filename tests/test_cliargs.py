"""The command line's arguments: every command's help and its example, options and their checks,
and the hint for an option written before the command."""

from __future__ import annotations

import argparse
import io
import re
from typing import Any

import pytest

from reconciler.cli import args as args_module
from reconciler.cli.args import build_parser
from reconciler.cli.main import main
from reconciler.errors import UsageError

COMMANDS = ["validate", "plan", "apply", "import", "schema", "sandbox"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_ends_with_an_example_that_parses(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert re.search(r"^examples?: reconcile ", text, re.M)
    examples = re.findall(r"^(?:examples?:)?\s+(reconcile .+)$", text, re.M)
    assert examples
    for example in examples:
        argv = example.split()[1:]
        argv = argv[: argv.index(">")] if ">" in argv else argv
        build_parser().parse_args(argv)


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", text, re.M), command


def test_the_fault_examples_in_sandbox_help_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.sandbox.faults import parse_fault_spec

    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    examples = re.search(r"e\.g\. (.+?) \(kinds", help_text)
    assert examples
    for spec in examples.group(1).split(" or "):
        parse_fault_spec(spec)


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "import"])
def test_quiet_with_verbose_is_a_usage_error(command: str) -> None:
    code, out, err = run(command, "-q", "-v")
    assert code == 1
    assert "not allowed with argument" in err and out == ""


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_every_command_reading_files_documents_path_and_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "PATH" in text and "(default: the current directory)" in text


@pytest.mark.parametrize("bad", ["101", "-1", "ten"])
def test_the_safety_limits_are_whole_percentages(bad: str) -> None:
    code, _out, err = run("plan", "--max-delete-percent", bad)
    assert code == 1 and "--max-delete-percent" in err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["-q", "plan", "examples"], "options go after the command: reconcile plan -q …"),
        (["--sandbox", "plan"], "options go after the command: reconcile plan --sandbox …"),
        (["--base-url", "http://127.0.0.1:1", "apply"], "reconcile apply --base-url http://127.0.0.1:1 …"),
    ],
)
def test_an_option_before_the_command_gets_a_hint_to_put_it_after(argv: list[str], hint: str) -> None:
    code, _, err = run(*argv)
    assert code == 1 and hint in err


def test_validate_help_says_what_verbose_does_there(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["validate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "skipped as not a config file" in text and "log each request" not in text


@pytest.mark.parametrize("value", ["0", "-3", "65", "100000000000000000000"])
@pytest.mark.parametrize("command", ["plan", "apply", "import"])
def test_parallelism_outside_1_to_64_is_a_usage_error_naming_the_range(command: str, value: str) -> None:
    code, out, err = run(command, "--parallelism", value)
    assert code == 1 and out == ""
    assert err.startswith("error: reconcile") and "--parallelism" in err and "between 1 and 64" in err


@pytest.mark.parametrize("value", ["1", "64"])
def test_parallelism_at_either_end_of_its_range_parses(value: str) -> None:
    args = build_parser().parse_args(["plan", "--parallelism", value])
    assert args.parallelism == int(value)


# -- the lazy parser (the CLI's start-up) -------------------------------------------------------------


def _commands_action(parser: argparse.ArgumentParser) -> Any:
    return next(a for a in parser._actions if a.dest == "command")


@pytest.mark.parametrize("command", list(args_module.COMMANDS))
def test_the_lazy_parser_shows_each_command_the_help_the_full_parser_shows(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser(lazy=True).parse_args([command, "--help"])
    lazy = capsys.readouterr().out
    assert lazy == _commands_action(build_parser()).choices[command].format_help()


def test_the_lazy_parser_shows_the_top_level_help_of_the_full_parser() -> None:
    assert build_parser(lazy=True).format_help() == build_parser().format_help()


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["validate", "--nope"],
        ["validate", "--format", "xml"],
        ["validate", "-v", "-q"],
        ["plan", "--parallelism", "0"],
        ["apply", "--max-delete-percent", "101"],
        ["import", "--workspace", "acme"],
        ["schema", "pipeline"],
    ],
)
def test_the_lazy_parser_refuses_what_the_full_parser_refuses_in_the_same_words(argv: list[str]) -> None:
    messages = []
    for lazy in (True, False):
        with pytest.raises(UsageError) as refused:
            build_parser(lazy=lazy).parse_args(argv)
        messages.append(refused.value.message)
    assert messages[0] == messages[1]


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "examples", "--format", "github", "-q"],
        ["plan", "examples", "--sandbox", "--target", "acme/*", "--max-update-percent", "10"],
        ["apply", "--plan", "plan.json", "--auto-approve"],
        ["sandbox", "--port", "9000", "--fault", "error:rate=0.1"],
    ],
)
def test_the_lazy_parser_reads_the_same_arguments_as_the_full_parser(argv: list[str]) -> None:
    assert build_parser(lazy=True).parse_args(argv) == build_parser().parse_args(argv)


def test_the_lazy_parser_adds_the_arguments_of_the_parsed_command_only() -> None:
    parser = build_parser(lazy=True)
    parser.parse_args(["validate", "examples"])
    choices = _commands_action(parser).choices
    assert "--format" in choices["validate"]._option_string_actions
    assert [a.dest for a in choices["plan"]._actions] == ["help"]
