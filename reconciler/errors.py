"""The one error tree of the project.

Every expected failure is a ``ReconcilerError``; the CLI maps the tree to exit codes in one place,
and only a real bug (anything outside this tree) shows a traceback.

    ReconcilerError
    ├── UsageError                 bad command line or options
    │   ├── OutputExistsError      import would overwrite files (without --force); nothing was written
    │   ├── ProjectNotFoundError   import: the workspace or project does not exist
    │   └── PipelineNotFoundError  import: a --pipeline name no live pipeline has
    ├── ConfigError                the files are not usable
    │   ├── LoadError              one file could not be read or parsed (carries a Location)
    │   ├── NoConfigFiles          the paths given hold no config file at all
    │   ├── ValidationFailed       schema/semantic problems (carries every Problem at once)
    │   └── EnvError               an ${env:…} reference could not be resolved (carries a Location)
    ├── ApiError                   a request to Buddy failed (carries method, path, status)
    │   ├── AuthError              401: missing or bad token
    │   ├── ForbiddenError         403: missing scope, or API disabled
    │   ├── NotFoundError          404
    │   ├── BadRequestError        400: the server refused a field
    │   ├── RateLimitedError       429 after every retry
    │   ├── ServerError            5xx after every retry
    │   ├── TransportError         no answer: refused, dropped or timed out (after every retry)
    │   ├── BadAnswerError         an answer that breaks the contract: its shape, a redirect, an endless list
    │   └── ShiftedReadError       a list kept changing while it was read (someone editing the project)
    ├── PipelineError              one pipeline cannot be planned (ambiguous name, type clash, …)
    ├── PlanError                  a saved plan is unusable
    │   ├── StalePlanError         live state changed since the plan was made
    │   └── TargetMismatchError    the plan was made for another base URL or workspace
    ├── UnsafePlanError            the safety threshold refused the plan (``--force`` skips it)
    ├── ApplyCancelled             the person at the terminal did not answer ``yes``; nothing was changed
    ├── InterruptedBeforeChanges   Ctrl-C or SIGTERM before apply's first write; nothing was changed (exit 130)
    ├── UncertainCreate            a create's outcome stays unknown after every look (apply reports it ``uncertain``)
    ├── ReadsStopped               a stop cut the reads after apply's changes short (apply says the check was not done)
    ├── ExportWriteError           import could not write a file
    └── SandboxError               the local simulator could not start or load its state

Messages never contain the token or a secret value: errors are built from method, path and the
server's own message, never from headers or request bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.problems import Location, Problem


class ReconcilerError(Exception):
    """Root of every expected failure."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ReconcilerError):
    """The command line asks for something impossible."""


class OutputExistsError(UsageError):
    """Files that import would write already exist and ``force`` was not given; nothing was written."""

    def __init__(self, paths: Sequence[Path]) -> None:
        shown = ", ".join(str(p) for p in paths)
        noun = "file exists" if len(paths) == 1 else "files exist"
        super().__init__(f"{noun}: {shown}; nothing was written (use --force to overwrite)")
        self.paths = list(paths)


class ProjectNotFoundError(UsageError):
    """The workspace or the project does not exist (or the token cannot see it)."""


class PipelineNotFoundError(UsageError):
    """A ``--pipeline`` name that no live pipeline of the project has."""

    def __init__(self, workspace: str, project: str, names: Sequence[str], available: Sequence[str]) -> None:
        missing = ", ".join(f'"{n}"' for n in names)
        shown = [f'"{n}"' for n in available[:20]]  # a big project would drown the message
        if len(available) > 20:
            shown.append(f"and {len(available) - 20} more")
        known = ", ".join(shown) or "none"
        super().__init__(f"{workspace}/{project}: no live pipeline named {missing} (the project has: {known})")
        self.names = list(names)


class ConfigError(ReconcilerError):
    """The configuration files cannot be used."""


class LoadError(ConfigError):
    """A file could not be read or parsed."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.reason = message


class NoConfigFiles(ConfigError):
    """The paths given hold no config file: managing nothing must not pass for success."""

    def __init__(self, paths: list[str], skipped: int = 0, warnings: list[Problem] | None = None) -> None:
        where = ", ".join(paths) or "."
        hint = f" ({skipped} YAML file(s) skipped as not config files; -v names them)" if skipped else ""
        # The warnings (a skipped file whose key looks like a misspelt `workspace`, …) are most likely
        # the reason, so they travel with the error rather than being lost with the run.
        details = "".join(f"\n  {w}" for w in warnings or [])
        super().__init__(f"no config files found in {where}{hint}{details}")
        self.paths = paths
        self.warnings = list(warnings or [])


class ValidationFailed(ConfigError):
    """Schema or semantic checks failed; ``problems`` holds every one (errors and warnings)."""

    def __init__(self, problems: list[Problem], files: list[str] | None = None) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) in the configuration")
        self.problems = problems
        #: every config file read (with or without problems), when known: counted as validate counts them
        self.files = files


class EnvError(ConfigError):
    """An ``${env:NAME}`` reference names a variable that is not set."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location


class ApiError(ReconcilerError):
    """A request to the Buddy API failed. ``uncertain`` is true when a write may have taken
    effect although no success was seen (a dropped connection or a 5xx after the request was sent)."""

    uncertain: bool = False

    def __init__(self, method: str, path: str, status: int | None, detail: str) -> None:
        where = f"{method} {path}"
        status_text = f" answered {status}" if status is not None else ""
        super().__init__(f"{where}{status_text}: {detail}")
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail


class AuthError(ApiError):
    """401: the token is missing, wrong or expired."""


class ForbiddenError(ApiError):
    """403: the token lacks a scope, or the API is disabled in the workspace."""


class NotFoundError(ApiError):
    """404: the object does not exist."""


class BadRequestError(ApiError):
    """400: the server refused a field."""


class RateLimitedError(ApiError):
    """429 after every retry, or a rate-limit wait cut short by a stop (Ctrl-C)."""

    @classmethod
    def interrupted(cls, method: str, path: str, status: int | None, *, uncertain: bool) -> RateLimitedError:
        """A request given up while it waited for the rate limit because a stop was asked for
        (``uncertain``: an earlier attempt of this PATCH or DELETE may have landed)."""
        again = "not sent again" if status else "not sent"
        error = cls(method, path, status, f"interrupted while waiting for the API's rate limit: {again}")
        error.uncertain = uncertain
        return error


class ServerError(ApiError):
    """5xx after every retry."""


class TransportError(ApiError):
    """No HTTP answer: connection refused, dropped or timed out."""


class BadAnswerError(ApiError):
    """The server answered, but not as the contract says: "the answer to POST … has no action id"."""

    def __init__(self, method: str, path: str, status: int | None, detail: str) -> None:
        super().__init__(method, path, status, detail)
        status_text = f" ({status})" if status is not None else ""
        self.message = f"the answer to {method} {path}{status_text} {detail}"


class ShiftedReadError(ApiError):
    """A paged list moved under every read of it: an item seen twice, or two reads that differ. Nothing
    read from it is used; the pipeline (or project) it belongs to is not planned."""

    def __init__(self, method: str, path: str, key: str, moved: str, reads: int) -> None:
        super().__init__(method, path, None, moved)
        self.message = (
            f"the {key} list at {path} changed while it was being read, {reads} times in a row ({moved}): "
            "someone is editing the project; run again when they are done"
        )


class PipelineError(ReconcilerError):
    """One pipeline cannot be planned; the others go on."""

    def __init__(self, pipeline: str, message: str) -> None:
        super().__init__(f"pipeline {pipeline}: {message}")
        self.pipeline = pipeline
        self.reason = message


class PlanError(ReconcilerError):
    """A saved plan cannot be used."""


class StalePlanError(PlanError):
    """A pipeline the plan touches has changed in Buddy since the plan was made."""


class TargetMismatchError(PlanError):
    """The plan was made for another base URL or workspace."""


class UnsafePlanError(ReconcilerError):
    """The plan deletes or updates more than the safety threshold allows; ``counts`` holds what was
    counted in each refused pipeline (``plan.SafetyCount``)."""

    def __init__(self, counts: Sequence[Any]) -> None:
        lines = "\n".join(f"  {c.describe()}" for c in counts)
        super().__init__(
            "refusing to apply: the safety check counted\n"
            f"{lines}\n"
            "Nothing was changed. Review the plan; if it is what you want, run apply again with --force, or "
            "raise the limit with --max-delete-percent / --max-update-percent or the pipeline's `safety:` in "
            "its file."
        )
        self.counts = list(counts)


class ApplyCancelled(ReconcilerError):
    """Apply asked for approval on a terminal and did not get ``yes``: nothing was changed."""


class InterruptedBeforeChanges(ReconcilerError):
    """SIGINT or SIGTERM reached apply before its first write (while reading, at the question):
    nothing was changed, so it stops at once (exit 130, as shells report Ctrl-C)."""

    exit_code = 130


class UncertainCreate(ReconcilerError):
    """A create whose outcome stays unknown after every look (inside apply it becomes an
    ``uncertain`` outcome; it never reaches the CLI)."""


class ReadsStopped(ReconcilerError):
    """``live.read_touched`` was asked to stop (an interrupt): not every list was read (apply's check
    after the changes says so; it never reaches the CLI)."""

    def __init__(self, message: str = "the reads were stopped (interrupted)") -> None:
        super().__init__(message)


class ExportWriteError(ReconcilerError):
    """``reconcile import`` could not write a file."""


class SandboxError(ReconcilerError):
    """The local API simulator could not start or load its state."""
