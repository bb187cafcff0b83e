"""``--target`` / ``--exclude``: which declared pipelines a plan reads and plans.

A pipeline's address is ``workspace/project/pipeline``, the pipeline being its name, or ``#id`` for
one declared by id alone. Patterns are shell-style (``fnmatch.fnmatchcase``: ``*``, ``?``, ``[12]``),
matched case-sensitively against the whole address. A plan made with patterns is partial; a saved
plan records them, and ``apply --plan`` checks that every change it holds is inside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from reconciler.errors import PlanError, UsageError
from reconciler.model import DesiredPipeline


def address(workspace: str, project: str, pipeline: str) -> str:
    """The ``workspace/project/pipeline`` string that ``--target``/``--exclude`` patterns match."""
    return f"{workspace}/{project}/{pipeline}"


def addresses(pipeline: DesiredPipeline) -> list[str]:
    """The addresses a declared pipeline answers to: by name, and by ``#id`` when it has one."""
    found = [address(pipeline.workspace, pipeline.project, pipeline.name)] if pipeline.name is not None else []
    if pipeline.id is not None:
        found.append(address(pipeline.workspace, pipeline.project, f"#{pipeline.id}"))
    return found


@dataclass(frozen=True)
class Targeting:
    """The patterns of one plan, and (once selected) how many declared pipelines they kept."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    declared: int = 0
    selected: int = 0

    @property
    def active(self) -> bool:
        """Whether any pattern was given (an inactive targeting selects every declared pipeline)."""
        return bool(self.targets or self.excludes)

    def covers(self, names: Iterable[str]) -> bool:
        """True when any of ``names`` (one pipeline's addresses) is targeted and none is excluded."""
        names = list(names)
        targeted = not self.targets or any(fnmatchcase(n, p) for n in names for p in self.targets)
        excluded = any(fnmatchcase(n, p) for n in names for p in self.excludes)
        return targeted and not excluded

    def select(self, pipelines: Sequence[DesiredPipeline]) -> tuple[list[DesiredPipeline], Targeting]:
        """The declared pipelines these patterns keep, and this targeting with its counts. A pattern
        that matches no declared pipeline is a ``UsageError`` naming it (a typo plans nothing), and so are
        patterns that keep none."""
        if not self.active:
            return list(pipelines), self
        every = [a for p in pipelines for a in addresses(p)]
        unmatched = [p for p in (*self.targets, *self.excludes) if not any(fnmatchcase(a, p) for a in every)]
        if unmatched:
            listed = ", ".join(f'"{p}"' for p in unmatched)
            raise UsageError(
                f"--target/--exclude pattern {listed} matches no declared pipeline; patterns are "
                "workspace/project/pipeline (the pipeline by name, or #id), e.g. acme/web/Release*"
            )
        kept = [p for p in pipelines if self.covers(addresses(p))]
        if not kept:
            raise UsageError(
                f"--target/--exclude leave none of the {len(pipelines)} declared pipelines: there is nothing to "
                "plan (an empty plan would claim that Buddy matches the files)"
            )
        return kept, Targeting(self.targets, self.excludes, len(pipelines), len(kept))

    def note(self) -> str:
        """What the plan says of itself when it is partial (a warning in every format)."""
        patterns = [f"--target {p}" for p in self.targets] + [f"--exclude {p}" for p in self.excludes]
        noun = "pipeline" if self.declared == 1 else "pipelines"
        return (
            f"targeted: {self.selected} of {self.declared} declared {noun} ({' '.join(patterns)}); "
            "this plan is partial: the other pipelines were not read and may differ from the files"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets),
            "excludes": list(self.excludes),
            "declared": self.declared,
            "selected": self.selected,
        }

    @classmethod
    def from_json(cls, data: Any) -> Targeting:
        if not isinstance(data, Mapping):
            raise PlanError("the plan file's targeting is malformed")
        return cls(
            tuple(str(p) for p in data.get("targets", [])),
            tuple(str(p) for p in data.get("excludes", [])),
            int(data.get("declared", 0)),
            int(data.get("selected", 0)),
        )
