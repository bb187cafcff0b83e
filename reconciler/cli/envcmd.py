"""`reconcile env PATH…`: the variables the files reference, where, and whether each is set now (never
its value), as text, JSON, or a GitHub Actions `env:` block. No network, no token."""

from __future__ import annotations

import argparse
import json
import os
from typing import TextIO

from reconciler import engine
from reconciler.cli import args as cliargs
from reconciler.config import envlist

#: the variable every command that talks to Buddy needs, whatever the files reference
TOKEN = "BUDDY_TOKEN"


def cmd_env(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = engine.load(cliargs.paths(args))
    found = envlist.variables(config.pipelines, os.environ)
    if args.format == "json":
        json.dump({"files": config.files, "variables": [v.to_json() for v in found]}, out, indent=2)
        out.write("\n")
    elif args.format == "github":
        write_github(found, out)
    else:
        write_text(found, out, files=len(config.files))
    return 0


def _need(variable: envlist.Variable) -> str:
    if variable.needed_by_plan:
        return "needed by plan and apply"
    if variable.needed_by_apply:
        return "needed by apply only (write-only: plan never compares it)"
    return "optional (every use has a default)"


def write_text(found: list[envlist.Variable], out: TextIO, *, files: int) -> None:
    """One paragraph per variable: name, set or not, who needs it, then one line per use."""
    for variable in found:
        state = "set" if variable.is_set else "NOT SET"
        out.write(f"{variable.name}  {state}  {_need(variable)}\n")
        for use in variable.uses:
            where = f'action "{use.action}"' if use.action is not None else "pipeline field"
            default = "  (has a default)" if use.default else ""
            out.write(f"  {use.location}  {use.pipeline}  {where}  {use.field}{default}\n")
    unset = sum(1 for v in found if not v.is_set)
    noun = "variable" if len(found) == 1 else "variables"
    out.write(f"{len(found)} {noun} referenced in {files} file(s): {len(found) - unset} set, {unset} not set.\n")


def write_github(found: list[envlist.Variable], out: TextIO) -> None:
    """An `env:` block for a workflow job, each variable from the repository secret of the same name.
    The write-only ones are marked (only the apply job needs them), and those every use has a default for."""
    out.write("env:\n")
    out.write(f"  {TOKEN}: ${{{{ secrets.{TOKEN} }}}}\n")
    for variable in found:
        if variable.name == TOKEN:
            continue
        note = ""
        if not variable.needed_by_apply:
            note = "  # optional: every use has a default"
        elif not variable.needed_by_plan:
            note = "  # write-only: the apply job only"
        out.write(f"  {variable.name}: ${{{{ secrets.{variable.name} }}}}{note}\n")
