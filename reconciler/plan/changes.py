"""The changes of a plan: one frozen class per kind of request apply will make.

Each class owns what differs between kinds: its ``kind`` (the plan file's spelling), its symbol, the
fields a plan file must give it, its weight in the safety check and its words. Apply, the renderers
and the plan file ask the class, never compare the ``kind`` string. A new kind (a pipeline's delete)
is one more class here and one line in ``BY_KIND``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from reconciler.model import PipelineKey

ChangeKind = Literal["create_pipeline", "update_pipeline", "delete_pipeline", "create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    """One request that apply will make. ``fields`` is exactly what will be sent (references kept).
    Not made itself: one of its subclasses is."""

    workspace: str
    project: str
    pipeline: str
    pipeline_id: int | None
    action_name: str | None = None
    action_id: int | None = None
    after_action_id: int | None = None
    after_action_name: str | None = None
    #: the anchor's live name when the same apply renames it to ``after_action_name``
    after_renamed_from: str | None = None
    fields: Mapping[str, Any] | None = None
    diff: Mapping[str, Mapping[str, Any]] | None = None
    reason: str | None = None
    #: declared fields whose value came from a defaults block, with where: ``{"cache_mode": "defaults.yml:3"}``
    sources: Mapping[str, str] | None = None
    #: write-only fields whose ``${env:…}`` variable is not set at plan time (shown, not serialised)
    unset_sensitive: tuple[str, ...] = field(default=(), compare=False)

    kind: ClassVar[ChangeKind]
    #: the mark a rendered plan puts before it
    symbol: ClassVar[str]
    #: the fields a plan file must give (beyond workspace, project and pipeline)
    needs: ClassVar[tuple[str, ...]] = ()
    #: about the pipeline itself (not one of its actions)
    on_pipeline: ClassVar[bool] = False
    #: a POST: apply looks before trying again, and a failed one blocks what comes after
    creates: ClassVar[bool] = False
    #: a PATCH or DELETE: one no attempt saw answered may still have landed
    writes_in_place: ClassVar[bool] = False
    #: the action this change leaves in the pipeline (none for a delete), checked for duplicates
    leaves_action: ClassVar[bool] = True
    #: how the progress bar and the apply summary name it: ``creating``, ``created``
    doing: ClassVar[str]
    done: ClassVar[str]

    @property
    def key(self) -> PipelineKey:
        return PipelineKey.of(self.workspace, self.project, self.pipeline_id, self.pipeline)

    @property
    def pipeline_key(self) -> str:
        """The plan file's spelling of ``key``."""
        return str(self.key)

    @property
    def safety_deletes(self) -> int:
        """This change's weight among the safety check's deletes."""
        return 0

    @property
    def safety_updates(self) -> int:
        """This change's weight among the safety check's updates."""
        return 0

    @property
    def only_resends(self) -> bool:
        """An update that only sends write-only fields again (``--update-secrets``), changing nothing
        the plan could compare: the safety check does not count it."""
        return False

    @property
    def label(self) -> str:
        """The kind as the apply summary names it: ``create pipeline``, ``update``."""
        return self.kind.replace("_pipeline", " pipeline")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("unset_sensitive")
        if not data["sources"]:
            del data["sources"]  # only a change with a field from a defaults block has it
        if data["after_renamed_from"] is None:
            del data["after_renamed_from"]  # only a create whose anchor the same apply renames has it
        return {"kind": self.kind, **data}


@dataclass(frozen=True)
class CreatePipeline(Change):
    kind: ClassVar[ChangeKind] = "create_pipeline"
    symbol: ClassVar[str] = "+"
    needs: ClassVar[tuple[str, ...]] = ("fields",)
    on_pipeline: ClassVar[bool] = True
    creates: ClassVar[bool] = True
    leaves_action: ClassVar[bool] = False
    doing: ClassVar[str] = "creating pipeline"
    done: ClassVar[str] = "created pipeline"


@dataclass(frozen=True)
class UpdatePipeline(Change):
    kind: ClassVar[ChangeKind] = "update_pipeline"
    symbol: ClassVar[str] = "~"
    needs: ClassVar[tuple[str, ...]] = ("pipeline_id", "fields")
    on_pipeline: ClassVar[bool] = True
    writes_in_place: ClassVar[bool] = True
    leaves_action: ClassVar[bool] = False
    doing: ClassVar[str] = "updating pipeline"
    done: ClassVar[str] = "updated pipeline"


@dataclass(frozen=True)
class CreateAction(Change):
    kind: ClassVar[ChangeKind] = "create"
    symbol: ClassVar[str] = "+"
    needs: ClassVar[tuple[str, ...]] = ("action_name",)
    creates: ClassVar[bool] = True
    doing: ClassVar[str] = "creating"
    done: ClassVar[str] = "created"


@dataclass(frozen=True)
class UpdateAction(Change):
    kind: ClassVar[ChangeKind] = "update"
    symbol: ClassVar[str] = "~"
    needs: ClassVar[tuple[str, ...]] = ("action_name", "action_id")
    writes_in_place: ClassVar[bool] = True
    doing: ClassVar[str] = "updating"
    done: ClassVar[str] = "updated"

    @property
    def only_resends(self) -> bool:
        diff = self.diff or {}
        return bool(diff) and all(e.get("resend") for e in diff.values())

    @property
    def safety_updates(self) -> int:
        return 0 if self.only_resends else 1


@dataclass(frozen=True)
class DeleteAction(Change):
    kind: ClassVar[ChangeKind] = "delete"
    symbol: ClassVar[str] = "-"
    needs: ClassVar[tuple[str, ...]] = ("action_name", "action_id")
    writes_in_place: ClassVar[bool] = True
    leaves_action: ClassVar[bool] = False
    doing: ClassVar[str] = "deleting"
    done: ClassVar[str] = "deleted"

    @property
    def safety_deletes(self) -> int:
        return 1


@dataclass(frozen=True)
class DeletePipeline(Change):
    """A live pipeline of a declared project that no file declares, deleted because its file says
    ``prune_pipelines: true`` (only one defined through the API). The safety check counts it per project
    (``Plan.project_safety``), not among a pipeline's actions."""

    kind: ClassVar[ChangeKind] = "delete_pipeline"
    symbol: ClassVar[str] = "-"
    needs: ClassVar[tuple[str, ...]] = ("pipeline_id",)
    on_pipeline: ClassVar[bool] = True
    writes_in_place: ClassVar[bool] = True
    leaves_action: ClassVar[bool] = False
    doing: ClassVar[str] = "deleting pipeline"
    done: ClassVar[str] = "deleted pipeline"


#: every kind by its plan-file spelling
BY_KIND: dict[str, type[Change]] = {
    cls.kind: cls for cls in (CreatePipeline, UpdatePipeline, DeletePipeline, CreateAction, UpdateAction, DeleteAction)
}
KINDS: tuple[str, ...] = tuple(BY_KIND)
#: the order the plan's summary counts them in
SUMMARY_ORDER: tuple[type[Change], ...] = (
    CreateAction,
    UpdateAction,
    DeleteAction,
    CreatePipeline,
    UpdatePipeline,
    DeletePipeline,
)


def change_of(kind: str, **values: Any) -> Change:
    """The change of plan-file kind ``kind`` (one of ``KINDS``) with ``values``."""
    return BY_KIND[kind](**values)
