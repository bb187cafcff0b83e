"""`reconcile show PLANFILE`: a saved plan (`plan --out`) rendered in any plan format, as Terraform's
`show` does. No network and no token: the file is read and checked exactly as `apply --plan` reads it,
so a file that `apply --plan` would refuse is refused here, with the same words."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from reconciler import annotate, render, render_markdown
from reconciler.cli import console
from reconciler.plan.plan import Plan
from reconciler.plan.planfile import read_plan_file


def write_plan(plan: Plan, fmt: str, out: TextIO, *, color: bool, quiet: bool = False) -> None:
    """``plan`` in ``fmt`` (text, markdown, json or github): what ``plan --format`` prints. ``quiet``
    leaves out a text plan without errors."""
    if fmt == "json":
        render.write_json(plan, out)
    elif fmt == "markdown":
        render_markdown.write_markdown(plan, out)
    elif not quiet or plan.errors:
        render.write_text(plan, out, color=color)
        if fmt == "github":
            annotate.write_plan_annotations(plan, out)


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    plan = read_plan_file(Path(args.planfile))
    color = console.is_terminal(out) and not os.environ.get("NO_COLOR")
    write_plan(plan, args.format, out, color=color)
    return 0  # shown; the plan's own errors are in what it shows (plan itself exited 1 for them)
