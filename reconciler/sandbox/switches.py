"""Switches: behaviours the documentation leaves open, settable at run time (README.md lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class Switches:
    """Behaviours the documentation leaves open; the defaults are CONTRACT.md's **Decision** lines."""

    #: ``after_action_id: 0`` puts a new action first (undocumented; off: 0 is a 400 like any unknown id)
    insert_first: bool = False
    #: PATCH ``after_action_id`` moves the action (undocumented; off: validated, then ignored)
    move_on_patch: bool = False
    #: read-only fields (``url``, ``id``, ``last_execution_status``, …) in a body: 400 (off: ignored)
    reject_read_only: bool = False
    #: the largest page the server hands back (no Buddy source documents one; tests try several)
    per_page_max: int = 100
    #: ``per_page`` above ``per_page_max``: "clamp" to it, or "error" (400)
    per_page_over_max: str = "clamp"
    #: pipeline summaries (the list's, and a GET action's ``pipeline``) carry only ``url, html_url, id, name``
    lean_summaries: bool = False
    #: leave out of GET the multi-arch fields the 2026 RESPONSE BODY does not list
    #: (``target_path``, ``use_image_from_action``, ``docker_build_action_id``/``_name``, ``image_location``)
    hide_request_only_fields: bool = False
    #: store ``target_platform`` without spaces around commas (an example of a server normalisation)
    normalize_target_platform: bool = False
    #: ``run_only_on_first_failure`` is required with ``trigger_time: ON_FAILURE`` and refused without it
    on_failure_rule: bool = True
    #: status of a successful action POST (the 2026 page says 200, the contract 201)
    action_create_status: int = 201

    def update(self, values: Mapping[str, Any]) -> None:
        """Set switches by name; an unknown name or a wrong type is a ``ValueError``."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown switch {key!r} (one of {', '.join(sorted(known))})")
            current = getattr(self, key)
            if type(value) is not type(current):
                raise ValueError(f"switch {key} must be a {type(current).__name__}")
            if key == "per_page_over_max" and value not in ("clamp", "error"):
                raise ValueError("per_page_over_max must be 'clamp' or 'error'")
            if key == "per_page_max" and value < 1:
                raise ValueError("per_page_max must be at least 1")
            if key == "action_create_status" and value not in (200, 201):
                raise ValueError("action_create_status must be 200 or 201")
            setattr(self, key, value)
