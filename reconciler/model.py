"""The desired model (from files) and the live model (from the API), as frozen values.

Both sides meet in ``diff``; the helpers here put a file's value and the server's value into one
canonical form so that equal things compare equal (see ``canonical``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.problems import Location

MULTI_ARCH = "DOCKER_BUILD_MULTI_ARCH"

#: Fields the server sets; refused in a file, never compared.
READ_ONLY_FIELDS = frozenset({"url", "html_url", "id", "last_execution_status", "pipeline", "current_revision"})
#: Fields the server never returns as sent: never compared, shown as "(sensitive)".
WRITE_ONLY_FIELDS = frozenset({"password"})
#: Our own keys on an action: not API fields, never sent.
ACTION_META_KEYS = frozenset({"after", "previous_names"})
#: Our own keys on a pipeline: everything else is a pipeline field sent on create.
PIPELINE_META_KEYS = frozenset({"name", "id", "prune", "actions", "previous_names", "safety", "defaults"})
#: What the server fills in on create when a field is unset.
SERVER_DEFAULTS: Mapping[str, Any] = {
    "trigger_time": "ON_EVERY_EXECUTION",
    "disabled": False,
    "target_platform": "linux/amd64",
}


@dataclass(frozen=True)
class DesiredAction:
    """One declared action. ``fields`` are API fields exactly as written (``${env:…}`` unresolved),
    including ``name`` and ``type``; an explicit ``None`` means "must be unset"."""

    name: str
    type: str
    fields: Mapping[str, Any]
    location: Location
    after: str | None = None
    previous_names: tuple[str, ...] = ()
    field_locations: Mapping[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredPipeline:
    """One declared pipeline of one project; ``fields`` are the pipeline fields used on create."""

    workspace: str
    project: str
    name: str | None
    id: int | None
    prune: bool | None
    fields: Mapping[str, Any]
    actions: tuple[DesiredAction, ...]
    location: Location
    file: str
    previous_names: tuple[str, ...] = ()
    #: ``{"max_delete_percent": N, "max_update_percent": N}`` as the file gives them (either may be absent).
    safety: Mapping[str, int] | None = None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"#{self.id}"

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity across files: workspace, project and name (or ``#id``)."""
        return (self.workspace, self.project, self.name if self.name is not None else f"#{self.id}")


@dataclass(frozen=True)
class ActionSummary:
    """An action as list endpoints return it: enough to know what stands where."""

    id: int
    name: str
    type: str


@dataclass(frozen=True)
class LivePipeline:
    """A live pipeline: its summary fields and its actions in execution order."""

    id: int
    name: str
    summary: Mapping[str, Any]
    actions: tuple[ActionSummary, ...] = ()

    @property
    def yaml_defined(self) -> bool:
        """True when Buddy YAML, not this API, defines the pipeline."""
        ref = self.summary.get("git_config_ref")
        return (ref not in (None, "NONE")) or self.summary.get("definition_source") == "REMOTE"

    @property
    def yaml_reason(self) -> str:
        ref = self.summary.get("git_config_ref")
        if ref not in (None, "NONE"):
            return f"defined in Buddy YAML (git_config_ref {ref})"
        return "defined in Buddy YAML (definition_source REMOTE)"
