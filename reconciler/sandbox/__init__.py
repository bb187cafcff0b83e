"""The local Buddy API simulator ("sandbox"): the endpoints of CONTRACT.md, in memory, on loopback.

* ``SandboxApp``: a WSGI callable (run it in process through ``httpx.WSGITransport``);
* ``SandboxServer``: serves an app over real HTTP/1.1 with keep-alive on 127.0.0.1;
* ``SandboxState``: the data, seeded from a JSON file and persisted atomically (README.md beside
  this file describes the seed format);
* ``Faults`` / ``FaultRule``: injected latency, 5xx, 429 storms, drops, commit-then-fail, late
  commits, deviant answers (``DEVIANT_MODES``, see ``deviant.py``) and lists that move between two
  page reads (``shift.py``);
* ``action_field_errors`` / ``pipeline_field_errors``: the sandbox's own field checks of an action
  body and of a pipeline PATCH body, without HTTP;
* ``run_forever`` / ``run_with`` / ``start_in_process``: what ``reconcile sandbox`` and ``--sandbox`` call.

Modules: ``app`` (the WSGI entry), ``handlers`` (routing and the Buddy API), ``control`` (the
``/__sandbox`` API), ``faults``, ``deviant`` and ``shift``, ``ratelimit``, ``stats``, ``switches``, ``wsgi``
(requests and answers), ``state`` and ``fields`` (the data and its checks), ``server``, ``run``.
"""

from reconciler.sandbox.app import (
    ALL_SCOPES,
    DEFAULT_PER_PAGE,
    DEFAULT_TOKEN,
    MAX_PER_PAGE,
    SandboxApp,
    Switches,
)
from reconciler.sandbox.deviant import MODES as DEVIANT_MODES
from reconciler.sandbox.faults import ConnectionDropped, FaultConfigError, FaultRule, Faults, parse_fault_spec
from reconciler.sandbox.fields import FieldError, action_field_errors, encrypt, is_encrypted, pipeline_field_errors
from reconciler.sandbox.run import (
    DEFAULT_PORT,
    SandboxOptions,
    build_app,
    build_app_for_state,
    check_port,
    load_state,
    run_forever,
    run_with,
    start_in_process,
)
from reconciler.sandbox.server import SandboxServer
from reconciler.sandbox.state import SandboxState

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_PER_PAGE",
    "DEFAULT_PORT",
    "DEFAULT_TOKEN",
    "DEVIANT_MODES",
    "MAX_PER_PAGE",
    "ConnectionDropped",
    "FaultConfigError",
    "FaultRule",
    "Faults",
    "FieldError",
    "SandboxApp",
    "SandboxOptions",
    "SandboxServer",
    "SandboxState",
    "Switches",
    "action_field_errors",
    "build_app",
    "build_app_for_state",
    "check_port",
    "encrypt",
    "is_encrypted",
    "load_state",
    "parse_fault_spec",
    "pipeline_field_errors",
    "run_forever",
    "run_with",
    "start_in_process",
]
