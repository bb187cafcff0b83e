"""Names for the environment variables that stand for write-only values in imported files.

``reconcile import`` cannot write a password or a secret value (Buddy returns them encrypted); it
writes an ``${env:NAME}`` reference instead, and ``EnvNames`` chooses a readable, unique ``NAME``
for each and remembers what it is for. See ``EnvNames`` for the rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler import fields

#: Short, familiar prefixes for the registry a password belongs to.
REGISTRY_PREFIXES: Mapping[str, str] = {
    "DOCKER_HUB": "DOCKERHUB",
    "GIT_HUB_CONTAINER_REGISTRY": "GHCR",
    "AMAZON_ECR": "ECR",
    "GOOGLE_GCR": "GCR",
    "GOOGLE_ARTIFACT_REGISTRY": "GAR",
    "DIGITAL_OCEAN_CONTAINER_REGISTRY": "DOCR",
    "PACKAGE_REGISTRY": "BUDDY_PACKAGES",
}
REGISTRY_LABELS: Mapping[str, str] = {
    "DOCKER_HUB": "Docker Hub",
    "GIT_HUB_CONTAINER_REGISTRY": "GitHub Container Registry",
    "AMAZON_ECR": "Amazon ECR",
    "GOOGLE_GCR": "Google Container Registry",
    "GOOGLE_ARTIFACT_REGISTRY": "Google Artifact Registry",
    "DIGITAL_OCEAN_CONTAINER_REGISTRY": "DigitalOcean Container Registry",
    "PACKAGE_REGISTRY": "Buddy's package registry",
}


def env_part(text: str, *, limit: int = 40) -> str:
    """``text`` as part of an env var name: ASCII upper case, other characters folded into ``_``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    part = re.sub(r"[^A-Z0-9]+", "_", ascii_text.upper()).strip("_")
    return part[:limit].rstrip("_")


def _env_name(*parts: str) -> str:
    name = "_".join(p for p in parts if p)
    if not name or name[0].isdigit():
        name = "_" + name  # a name may not start with a digit
    return name


#: What makes two write-only values one: a login at a registry (or through an integration) for a
#: ``password``; the secret's id in a build that logs in so for ``secrets[].value``.
Key = tuple[Any, ...]


def _integration_id(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get("identifier") or value.get("hash_id")
    return None


def credential_key(action: Mapping[str, Any]) -> Key:
    """Which credential an action's ``password`` is: the registry, its host and the login, or without a
    login the integration it logs in with. Two actions with one key log in alike: one variable serves both."""
    login = action.get("login")
    integration = None if login else _integration_id(action.get("integration"))
    return ("password", action.get("docker_registry"), _host(action.get("registry")), login, integration)


def secret_key(action: Mapping[str, Any], secret_id: str) -> Key:
    """Which value a build secret is: its id, in a build that logs in as ``credential_key`` says."""
    return ("secret", secret_id, *credential_key(action)[1:])


@dataclass(frozen=True)
class Known:
    """A variable the repository's files already use for a write-only value, and where."""

    name: str
    where: str


@dataclass
class _Use:
    name: str
    what: str
    where: list[str] = field(default_factory=list)


class EnvNames:
    """Hands out readable, unique env var names for write-only values, and remembers what each is for.

    * ``password``: ``<REGISTRY>_PASSWORD``, the registry as people call it (``DOCKERHUB``, ``GHCR``,
      ``ECR``, ``GCR``, ``GAR``, ``DOCR``, ``BUDDY_PACKAGES``; else the ``registry`` host, e.g.
      ``QUAY_IO`` for ``quay.io``; else the action's name). Actions that log in to the same registry with the same
      login share the name: it is one credential. Another login on a taken name gets
      ``<REGISTRY>_<LOGIN>_PASSWORD``, then ``<ACTION>_PASSWORD``.
    * ``secrets[].value``: ``<ACTION>_SECRET_<ID>`` (e.g. ``BUILD_APP_IMAGE_SECRET_NPMRC``); when
      taken, ``<PIPELINE>_<ACTION>_SECRET_<ID>``.
    * As a last resort a number is appended (``_2``, ``_3`` …). Every name matches
      ``[A-Z_][A-Z0-9_]*``.

    ``taken``: names other files already reference (an earlier import into the same directory); they
    stand for other values, so none of them is handed out, except through ``known``: the variable the
    repository's files already use for the same credential (``credential_key``) or build secret
    (``secret_key``), which is reused instead of inventing a second name for one value.
    """

    def __init__(self, taken: Collection[str] = (), known: Mapping[Key, Known] | None = None) -> None:
        self._taken = frozenset(taken)
        self._known = dict(known or {})
        self._uses: dict[str, _Use] = {}
        self._by_key: dict[tuple[Any, ...], str] = {}

    def _reuse(self, key: Key, what: str, where: str) -> str | None:
        """The repository's variable for ``key``, recorded as used by ``where``; ``None`` when none."""
        known = self._known.get(key)
        if known is None:
            return None
        use = self._uses.setdefault(known.name, _Use(known.name, f"{what} (as {known.where} already names it)"))
        use.where.append(where)
        return known.name

    def password(self, pipeline: str, action: Mapping[str, Any], where: str) -> str:
        """The variable for an action's ``password``; ``where`` names the action for a reader."""
        kind = action.get("docker_registry")
        host = _host(action.get("registry"))
        login = action.get("login")
        key = credential_key(action)
        if key in self._by_key:
            name = self._by_key[key]
            self._uses[name].where.append(where)
            return name
        action_part = env_part(str(action.get("name") or ""))
        prefix = REGISTRY_PREFIXES.get(str(kind)) or _host_part(host) or action_part
        label = REGISTRY_LABELS.get(str(kind)) or (host or "the Docker registry")
        who = f"login {login!r}" if isinstance(login, str) and login else "the login"
        reused = self._reuse(key, f"password or token of {who} at {label}", where)
        if reused is not None:
            self._by_key[key] = reused
            return reused
        candidates = [_env_name(prefix, "PASSWORD")]
        if isinstance(login, str) and "$" not in login and env_part(login):
            candidates.append(_env_name(prefix, env_part(login), "PASSWORD"))
        candidates.append(_env_name(action_part, "PASSWORD"))
        candidates.append(_env_name(env_part(pipeline), action_part, "PASSWORD"))
        name = self._claim(candidates, f"password or token of {who} at {label}", where)
        self._by_key[key] = name
        return name

    def secret(self, pipeline: str, action_name: str, secret_id: str, where: str) -> str:
        """The variable for one ``secrets[].value`` of an action."""
        ident = env_part(secret_id) or "VALUE"
        candidates = [
            _env_name(env_part(action_name), "SECRET", ident),
            _env_name(env_part(pipeline), env_part(action_name), "SECRET", ident),
        ]
        return self._claim(candidates, f"value of the build secret {secret_id!r}", where)

    def other(self, pipeline: str, action_name: str, path: str, where: str) -> str:
        """The variable for any other write-only value: ``<ACTION>_<PATH>``."""
        field_part = env_part(path)
        candidates = [
            _env_name(env_part(action_name), field_part),
            _env_name(env_part(pipeline), env_part(action_name), field_part),
        ]
        return self._claim(candidates, f"value of the write-only field {path}", where)

    def for_write_only(
        self, pipeline: str, action: Mapping[str, Any], name: str, value: Any, parts: fields.Parts, where: str
    ) -> str:
        """The variable for the write-only value at ``parts`` inside field ``name`` (whose value is
        ``value``) of ``action``: a password, a build secret, or another write-only field."""
        action_name = str(action.get("name"))
        if name == "password" and not parts:
            return self.password(pipeline, action, where)
        if name == "secrets" and len(parts) == 2 and isinstance(parts[0], int) and parts[1] == "value":
            secret_id = str(value[parts[0]].get("id") or "")
            what = f"value of the build secret {secret_id!r}"
            reused = self._reuse(secret_key(action, secret_id), what, where)
            return reused if reused is not None else self.secret(pipeline, action_name, secret_id, where)
        return self.other(pipeline, action_name, fields.label(name, parts), where)

    def _claim(self, candidates: Sequence[str], what: str, where: str) -> str:
        for candidate in candidates:
            if not self._is_taken(candidate):
                return self._take(candidate, what, where)
        base = candidates[0]
        number = 2
        while self._is_taken(f"{base}_{number}"):
            number += 1
        return self._take(f"{base}_{number}", what, where)

    def _is_taken(self, name: str) -> bool:
        return name in self._uses or name in self._taken

    def _take(self, name: str, what: str, where: str) -> str:
        self._uses[name] = _Use(name, what, [where])
        return name

    def described(self) -> dict[str, str]:
        """Name → what it is for (and which actions use it), in the order the names were made."""
        return {name: f"{use.what}, used by {'; '.join(use.where)}" for name, use in self._uses.items()}


def _host_part(host: str) -> str:
    """A registry host as a name part: ``registry.acme.io`` → ``REGISTRY_ACME_IO``; an address that
    starts with a digit is prefixed ``REGISTRY_`` so the name stays readable and valid."""
    part = env_part(host)
    return f"REGISTRY_{part}" if part[:1].isdigit() else part


def _host(registry: Any) -> str:
    if not isinstance(registry, str) or not registry.strip():
        return ""
    text = registry.strip()
    text = re.sub(r"^[a-z]+://", "", text)
    return text.split("/", 1)[0].split(":", 1)[0]
