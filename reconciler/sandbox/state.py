"""The simulator's data: workspaces → projects → pipelines → actions, seeding and persistence.

The seed format and the state file format are one and the same (a state file is a valid seed); see
``reconciler/sandbox/README.md``. Write-only values (``password``, ``secrets[].value``) are kept only
encrypted: a seed may give them as plaintext (hashed on load) or already encrypted (kept).

Everything here is guarded by ``SandboxState.lock``; the app holds it for the whole of a request so
that an id is never handed out twice and no write is lost.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config.files import read_config_bytes
from reconciler.errors import LoadError, SandboxError
from reconciler.sandbox import fields as F

STATE_FORMAT = 1
#: the largest seed or state file read (the 10,000-action benchmark's state is a few MiB)
MAX_STATE_BYTES = 64 * 1024 * 1024
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Keys a seeded action may carry besides its fields.
_ACTION_SEED_EXTRAS = frozenset({"id", "revision", "last_execution_status"})
_ACTION_SEED_IGNORED = frozenset({"url", "html_url", "pipeline", "after_action_id"})
_PIPELINE_SEED_EXTRAS = frozenset({"id", "actions", "create_date", "last_execution_status", "last_execution_revision"})
_PIPELINE_SEED_IGNORED = frozenset({"url", "html_url", "project", "creator"})


@dataclass
class Action:
    """One action; ``fields`` holds every stored field (``name`` and ``type`` included)."""

    id: int
    fields: dict[str, Any]
    revision: int = 1

    @property
    def name(self) -> str:
        return str(self.fields.get("name"))

    @property
    def type(self) -> str:
        return str(self.fields.get("type"))


@dataclass
class Pipeline:
    """One pipeline; ``fields`` holds the pipeline fields and the server-set ones."""

    id: int
    fields: dict[str, Any]
    actions: list[Action] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.fields.get("name"))

    def action(self, action_id: int) -> Action | None:
        for action in self.actions:
            if action.id == action_id:
                return action
        return None

    def index_of(self, action_id: int) -> int:
        for i, action in enumerate(self.actions):
            if action.id == action_id:
                return i
        raise KeyError(action_id)

    @property
    def yaml_defined(self) -> bool:
        ref = self.fields.get("git_config_ref")
        return ref not in (None, "NONE") or self.fields.get("definition_source") == "REMOTE"


@dataclass
class Project:
    name: str
    pipelines: list[Pipeline] = field(default_factory=list)


@dataclass
class Workspace:
    name: str
    projects: dict[str, Project] = field(default_factory=dict)
    #: the workspace's owner turned the API off: every request into it is a 403
    api_disabled: bool = False


class SandboxState:
    """All the simulator's objects, the id counter and (optionally) the file they persist to.

    ``state_file``: when given, every change is written to it atomically (temp file + rename).
    """

    def __init__(self, *, state_file: str | os.PathLike[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        self.next_id = 1
        self.state_file = Path(state_file) if state_file is not None else None
        self._pipelines_by_id: dict[int, tuple[str, str, Pipeline]] = {}

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_data(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "seed",
        state_file: str | os.PathLike[str] | None = None,
    ) -> SandboxState:
        """Build a state from seed (or state file) data; every mistake is a ``SandboxError``
        naming ``source`` and the JSON path."""
        state = cls(state_file=state_file)
        try:
            state._load(data)
        except F.FieldError as exc:
            raise SandboxError(f"{source}: {exc.path}: {exc.message}") from None
        return state

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, state_file: str | os.PathLike[str] | None = None
    ) -> SandboxState:
        """Load a seed or state file (read only: it is never written to unless it is ``state_file``)."""
        try:  # bounded, and never blocked on a FIFO
            raw = read_config_bytes(Path(path), limit=MAX_STATE_BYTES, what="a sandbox state file")
        except LoadError as exc:
            raise SandboxError(f"cannot read sandbox state {path}: {exc.reason}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise SandboxError(f"{path}: not valid JSON: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise SandboxError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise SandboxError(f"{path}: not a sandbox state: nested too deeply") from None
        return cls.from_data(data, source=str(path), state_file=state_file)

    def _load(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise F.FieldError("$", "the top level must be an object")
        unknown = set(data) - {"format", "next_id", "workspaces"}
        if unknown:
            raise F.FieldError(f"$.{sorted(unknown)[0]}", "unknown key (expected workspaces, next_id)")
        workspaces = _obj(data.get("workspaces", {}), "$.workspaces")
        max_id = 0
        seen: set[int] = set()
        pending: list[Pipeline | Action] = []  # objects seeded without an id
        for ws_name, ws_data in workspaces.items():
            ws_path = f"$.workspaces.{ws_name}"
            ws_obj = _obj(ws_data, ws_path)
            _only(ws_obj, {"projects", "api_disabled"}, ws_path)
            workspace = self.workspaces.setdefault(ws_name, Workspace(ws_name))
            workspace.api_disabled = F.check(ws_obj.get("api_disabled"), "bool", f"{ws_path}.api_disabled") or False
            for pr_name, pr_data in _obj(ws_obj.get("projects", {}), f"{ws_path}.projects").items():
                pr_path = f"{ws_path}.projects.{pr_name}"
                pr_obj = _obj(pr_data, pr_path)
                _only(pr_obj, {"pipelines"}, pr_path)
                project = workspace.projects.setdefault(pr_name, Project(pr_name))
                pipes = pr_obj.get("pipelines", [])
                if not isinstance(pipes, list):
                    raise F.FieldError(f"{pr_path}.pipelines", "must be a list")
                for i, p_data in enumerate(pipes):
                    pipeline = _seed_pipeline(p_data, f"{pr_path}.pipelines[{i}]", pending)
                    objects: list[Pipeline | Action] = [pipeline, *pipeline.actions]
                    for obj in objects:
                        if obj.id:
                            if obj.id in seen:
                                raise F.FieldError(f"{pr_path}.pipelines[{i}]", f"id {obj.id} is used twice")
                            seen.add(obj.id)
                            max_id = max(max_id, obj.id)
                    project.pipelines.append(pipeline)
        next_id = data.get("next_id", 1)
        if not isinstance(next_id, int) or isinstance(next_id, bool) or next_id < 1:
            raise F.FieldError("$.next_id", "must be a positive integer")
        self.next_id = max(next_id, max_id + 1)
        # objects seeded without an id get fresh ones, after every explicit id is known
        for obj in pending:
            obj.id = self.new_id()
        self._pipelines_by_id = {
            p.id: (ws, pr, p)
            for ws, w in self.workspaces.items()
            for pr, proj in w.projects.items()
            for p in proj.pipelines
        }

    # -- ids, lookups, helpers ---------------------------------------------------------------------

    def new_id(self) -> int:
        """A fresh id, never handed out before (the counter is part of the persisted state)."""
        with self.lock:
            value = self.next_id
            self.next_id += 1
            return value

    def project(self, workspace: str, project: str) -> Project | None:
        ws = self.workspaces.get(workspace)
        return ws.projects.get(project) if ws else None

    def has_workspace(self, workspace: str) -> bool:
        return workspace in self.workspaces

    def api_disabled(self, workspace: str) -> bool:
        ws = self.workspaces.get(workspace)
        return ws is not None and ws.api_disabled

    def set_api_disabled(self, workspace: str, disabled: bool = True) -> None:
        """Turn the API of a known workspace off (every request into it: 403) or back on."""
        with self.lock:
            if workspace not in self.workspaces:
                raise ValueError(f"unknown workspace {workspace!r}")
            self.workspaces[workspace].api_disabled = disabled
            self.save()

    def pipeline(self, workspace: str, project: str, pipeline_id: int) -> Pipeline | None:
        found = self._pipelines_by_id.get(pipeline_id)
        if found is None or found[0] != workspace or found[1] != project:
            return None
        return found[2]

    def add_pipeline(self, workspace: str, project: str, pipeline: Pipeline) -> None:
        with self.lock:
            proj = self.ensure_project(workspace, project, save=False)
            proj.pipelines.append(pipeline)
            self._pipelines_by_id[pipeline.id] = (workspace, project, pipeline)

    def remove_pipeline(self, workspace: str, project: str, pipeline_id: int) -> None:
        with self.lock:
            proj = self.project(workspace, project)
            if proj is not None:
                proj.pipelines = [p for p in proj.pipelines if p.id != pipeline_id]
            self._pipelines_by_id.pop(pipeline_id, None)

    def iter_pipelines(self) -> Iterator[tuple[str, str, Pipeline]]:
        for ws_name, ws in self.workspaces.items():
            for pr_name, proj in ws.projects.items():
                for pipeline in proj.pipelines:
                    yield ws_name, pr_name, pipeline

    def ensure_project(self, workspace: str, project: str, *, save: bool = True) -> Project:
        """The project, created (with its workspace) when missing."""
        with self.lock:
            ws = self.workspaces.setdefault(workspace, Workspace(workspace))
            created = project not in ws.projects
            proj = ws.projects.setdefault(project, Project(project))
            if created and save:
                self.save()
            return proj

    def ensure_pipeline(self, workspace: str, project: str, name: str, **fields: Any) -> Pipeline:
        """The first pipeline of that name in the project, created empty (with ``fields``) when
        missing: how ``--sandbox`` gives every pipeline the files name a live counterpart."""
        with self.lock:
            proj = self.ensure_project(workspace, project, save=False)
            for pipeline in proj.pipelines:
                if pipeline.name == name:
                    return pipeline
            try:
                stored = new_pipeline_fields({"name": name, **fields}, proj, now=time.time())
            except F.FieldError as exc:
                raise SandboxError(f"pipeline {name!r}: {exc}") from None
            pipeline = Pipeline(self.new_id(), stored)
            self.add_pipeline(workspace, project, pipeline)
            self.save()
            return pipeline

    # -- persistence -------------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """The whole state in the seed format, plus ``format`` and ``next_id``. Write-only values
        appear only encrypted; ``None`` fields are left out (loading fills them back)."""
        with self.lock:
            workspaces: dict[str, Any] = {}
            for ws_name, ws in self.workspaces.items():
                projects: dict[str, Any] = {}
                for pr_name, proj in ws.projects.items():
                    projects[pr_name] = {
                        "pipelines": [
                            {
                                "id": p.id,
                                **_compact(p.fields),
                                "actions": [
                                    {"id": a.id, **_compact(a.fields), "revision": a.revision} for a in p.actions
                                ],
                            }
                            for p in proj.pipelines
                        ]
                    }
                workspaces[ws_name] = {"projects": projects, **({"api_disabled": True} if ws.api_disabled else {})}
            return {"format": STATE_FORMAT, "next_id": self.next_id, "workspaces": workspaces}

    def save(self) -> None:
        """Write the state file, if there is one, atomically: a reader never sees half a file."""
        if self.state_file is None:
            return
        with self.lock:
            text = json.dumps(self.to_data(), indent=1, sort_keys=False)
            target = self.state_file
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.write("\n")
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


# -- building stored objects -----------------------------------------------------------------------


def format_date(epoch: float) -> str:
    return time.strftime(DATE_FORMAT, time.gmtime(epoch))


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug if slug[:1].isalpha() else f"pipeline-{slug}".rstrip("-")  # an identifier starts with a letter


def new_pipeline_fields(body: Mapping[str, Any], project: Project, *, now: float) -> dict[str, Any]:
    """Check a create body and return the stored fields, defaults and server fields filled in."""
    stored = {key: F.check(body.get(key), spec, key) for key, spec in F.PIPELINE_FIELDS.items()}
    if not isinstance(stored["name"], str) or not stored["name"].strip():
        raise F.FieldError("name", "is required")
    fill_defaults(stored, F.PIPELINE_DEFAULTS)
    taken = {p.fields.get("identifier") for p in project.pipelines}
    if stored["identifier"] is None:
        base = slugify(stored["name"])
        candidate, n = base, 1
        while candidate in taken:  # derived identifiers stay unique within the project
            n += 1
            candidate = f"{base}-{n}"
        stored["identifier"] = candidate
    elif stored["identifier"] in taken:
        raise F.FieldError("identifier", f"{stored['identifier']!r} is already used in this project")
    stored["create_date"] = format_date(now)
    stored["last_execution_status"] = "INITIAL"
    stored["last_execution_revision"] = None
    return stored


def stored_action_fields(body: Mapping[str, Any], *, encrypt_secrets: bool = True) -> dict[str, Any]:
    """Check every field of an action body against its type's table and return the stored form:
    every known field present (``None`` when unset), write-only values encrypted. Fields outside
    the table are kept as given for types the simulator does not know (seeded BUILD, SLACK, …)."""
    action_type = body.get("type")
    table = F.action_fields_for(action_type if isinstance(action_type, str) else "")
    stored: dict[str, Any] = {}
    for key, spec in table.items():
        stored[key] = F.check(body.get(key), spec, key, encrypt_secrets=encrypt_secrets)
    for key, value in body.items():
        if key not in table:
            stored[key] = F.unmodelled_field(key, value, encrypt_secrets=encrypt_secrets)
    for key in F.SECRET_ACTION_FIELDS:
        if isinstance(stored.get(key), str):
            stored[key] = F.seal(stored[key], encrypt_secrets=encrypt_secrets)
    return stored


def action_defaults(action_type: str) -> dict[str, Any]:
    """The fields the server fills on create when they are unset (CONTRACT.md: server defaults)."""
    return F.MULTI_ARCH_DEFAULTS if action_type == F.MULTI_ARCH else F.ACTION_DEFAULTS


def fill_defaults(stored: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Unset (``None`` or missing) defaulted fields get their default; returns ``stored``."""
    for key, value in defaults.items():
        if stored.get(key) is None:
            stored[key] = value
    return stored


def null_to_default(updates: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A PATCH that sets a defaulted field to ``null`` stores the default (the field cannot be unset)."""
    for key, value in defaults.items():
        if key in updates and updates[key] is None:
            updates[key] = value
    return updates


def new_action_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check a create body and return the stored action: defaults and ``last_execution_status`` set."""
    stored = fill_defaults(stored_action_fields(body), action_defaults(str(body.get("type"))))
    stored["last_execution_status"] = "INITIAL"
    return stored


def _seed_pipeline(data: Any, path: str, pending: list[Pipeline | Action]) -> Pipeline:
    p = _obj(data, path)
    allowed = set(F.PIPELINE_FIELDS) | _PIPELINE_SEED_EXTRAS | _PIPELINE_SEED_IGNORED
    unknown = sorted(set(p) - allowed)
    if unknown:
        raise F.FieldError(f"{path}.{unknown[0]}", "unknown pipeline field")
    stored = {key: F.check(p.get(key), spec, f"{path}.{key}") for key, spec in F.SEED_PIPELINE_FIELDS.items()}
    if not isinstance(stored["name"], str) or not stored["name"]:
        raise F.FieldError(f"{path}.name", "is required")
    fill_defaults(stored, F.PIPELINE_DEFAULTS)
    if stored["identifier"] is None:
        stored["identifier"] = slugify(stored["name"])
    stored["create_date"] = p.get("create_date") or format_date(0)
    stored["last_execution_status"] = F.check(
        p.get("last_execution_status") or "INITIAL", F.EXECUTION_STATUS, f"{path}.last_execution_status"
    )
    stored["last_execution_revision"] = p.get("last_execution_revision")
    pipeline = Pipeline(_seed_id(p.get("id"), f"{path}.id"), stored)
    if not pipeline.id:
        pending.append(pipeline)
    actions = p.get("actions", [])
    if not isinstance(actions, list):
        raise F.FieldError(f"{path}.actions", "must be a list")
    for i, a_data in enumerate(actions):
        action = _seed_action(a_data, f"{path}.actions[{i}]")
        if not action.id:
            pending.append(action)
        pipeline.actions.append(action)
    return pipeline


def _seed_action(data: Any, path: str) -> Action:
    a = _obj(data, path)
    for key in ("name", "type"):
        if not isinstance(a.get(key), str) or not a.get(key):
            raise F.FieldError(f"{path}.{key}", "is required (a string)")
    body = {k: v for k, v in a.items() if k not in _ACTION_SEED_EXTRAS | _ACTION_SEED_IGNORED}
    table = F.action_fields_for(a["type"])
    if a["type"] == F.MULTI_ARCH:
        unknown = sorted(set(body) - set(table))
        if unknown:
            raise F.FieldError(f"{path}.{unknown[0]}", f"unknown field of {F.MULTI_ARCH}")
    try:
        stored = stored_action_fields(body, encrypt_secrets=False)
    except F.FieldError as exc:
        raise F.FieldError(f"{path}.{exc.path}", exc.message) from None
    fill_defaults(stored, action_defaults(a["type"]))
    stored["last_execution_status"] = F.check(
        a.get("last_execution_status") or "INITIAL", F.EXECUTION_STATUS, f"{path}.last_execution_status"
    )
    revision = a.get("revision", 1)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise F.FieldError(f"{path}.revision", "must be a positive integer")
    return Action(_seed_id(a.get("id"), f"{path}.id"), stored, revision)


def _seed_id(value: Any, path: str) -> int:
    if value is None:
        return 0  # assigned after loading
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise F.FieldError(path, "must be a positive integer")
    return value


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise F.FieldError(path, "must be an object")
    return value


def _only(value: Mapping[str, Any], keys: set[str], path: str) -> None:
    unknown = sorted(set(value) - keys)
    if unknown:
        raise F.FieldError(f"{path}.{unknown[0]}", f"unknown key (expected {', '.join(sorted(keys))})")


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
