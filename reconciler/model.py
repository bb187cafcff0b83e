"""The desired model (from files) and the live model (from the API), as frozen values.

Both sides meet in ``diff``; ``normal`` puts a file's value and the server's value into one canonical
form so that equal things compare equal, and matches declared actions to live ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.problems import Location

MULTI_ARCH = "DOCKER_BUILD_MULTI_ARCH"
_BY_NAME = "name:"


@dataclass(frozen=True, order=True)
class PipelineKey:
    """A pipeline's identity in a plan: its workspace, project and id, or its name while it does not
    exist yet. ``str(key)`` is the plan file's spelling (``acme/web/7``, ``acme/web/name:New``), and
    ``PipelineKey.parse`` reads it back; nothing else reads or writes that spelling."""

    workspace: str
    project: str
    id: int | None = None
    name: str | None = None

    @classmethod
    def of(cls, workspace: str, project: str, pipeline_id: int | None, name: str) -> PipelineKey:
        """The key of a live pipeline (by id), or of one not yet made (by name)."""
        if pipeline_id is None:
            return cls(workspace, project, None, name)
        return cls(workspace, project, pipeline_id)

    @classmethod
    def parse(cls, text: str) -> PipelineKey:
        """``acme/web/7`` or ``acme/web/name:New`` back into a key; ``ValueError`` when it is neither."""
        workspace, project, rest = text.split("/", 2)
        if rest.startswith(_BY_NAME):
            return cls(workspace, project, None, rest[len(_BY_NAME) :])
        return cls(workspace, project, int(rest))

    @property
    def project_key(self) -> tuple[str, str]:
        return (self.workspace, self.project)

    def __str__(self) -> str:
        if self.id is None:
            return f"{self.workspace}/{self.project}/{_BY_NAME}{self.name}"
        return f"{self.workspace}/{self.project}/{self.id}"


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
    #: the fields whose value came from a defaults block (a defaults file, a file's or a pipeline's
    #: ``defaults:``), each with where the block gives it: ``defaults.yml:3``
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredPipeline:
    """One declared pipeline of one project; ``fields`` are its declared pipeline fields (sent on
    create, compared and updated on a live pipeline); ``previous_names`` are its earlier names."""

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
    #: its file's ``prune_pipelines``: the project's undeclared live pipelines are deleted
    prune_pipelines: bool = False

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


#: What makes a pipeline defined in Buddy YAML, so not ours to write (and always in its fingerprint).
YAML_FIELDS = ("git_config_ref", "definition_source")
#: the ``definition_source`` values that say where a pipeline is defined (``None``: unset, its default
#: ``LOCAL``); any other value says nothing, so the pipeline is not known to be defined through the API
DEFINITION_SOURCES = (None, "LOCAL", "REMOTE")


def source_told(seen: Mapping[str, Any]) -> bool:
    """True when ``seen`` (a summary or a full answer) carries both ``YAML_FIELDS`` and a
    ``definition_source`` of ``DEFINITION_SOURCES``."""
    return all(name in seen for name in YAML_FIELDS) and seen["definition_source"] in DEFINITION_SOURCES


@dataclass(frozen=True)
class LivePipeline:
    """A live pipeline: its summary fields, its actions in execution order, and the full pipeline
    (``detail``) when a declared field is not in the summary."""

    id: int
    name: str
    summary: Mapping[str, Any]
    actions: tuple[ActionSummary, ...] = ()
    detail: Mapping[str, Any] | None = None

    def value(self, name: str) -> Any:
        """The live value of pipeline field ``name``: from the full pipeline when read, else the summary."""
        return (self.detail if self.detail is not None else self.summary).get(name)

    @property
    def yaml_defined(self) -> bool:
        """True when Buddy YAML, not this API, defines the pipeline (from the full pipeline when read)."""
        ref = self.value("git_config_ref")
        return (ref not in (None, "NONE")) or self.value("definition_source") == "REMOTE"

    @property
    def yaml_known(self) -> bool:
        """True when what was read says whether the pipeline is defined in YAML: a summary (or answer)
        without ``git_config_ref`` or ``definition_source`` does not say it is not (a missing field is
        unknown, never its default), nor does a ``definition_source`` Buddy does not document."""
        return self.yaml_defined or source_told(self.detail if self.detail is not None else self.summary)

    @property
    def yaml_reason(self) -> str:
        ref = self.value("git_config_ref")
        if ref not in (None, "NONE"):
            return f"defined in Buddy YAML (git_config_ref {ref})"
        return "defined in Buddy YAML (definition_source REMOTE)"


@dataclass(frozen=True)
class ImportedAction:
    """One live action in execution order; ``detail`` is the full GET (multi-arch actions only)."""

    id: int
    name: str
    type: str
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ImportedPipeline:
    """One live pipeline: its full representation and its actions in execution order."""

    id: int
    name: str
    fields: Mapping[str, Any]
    actions: tuple[ImportedAction, ...] = ()
    #: another live pipeline of the project has this name (imported or not: one defined in YAML
    #: counts too), so a file must declare this one by ``id``
    shares_name: bool = False
