"""Post the plan of a merge request as one note, and keep it current (the reconcile-plan job).

Usage: python plan_note.py EXITCODE PLAN.md

The note is found again by a hidden marker in its body, so every push updates the same note instead of
adding one. EXITCODE 1 (the plan failed) adds a line pointing at the job log. Standard library only, so it
runs in the job's Python image; it reads GitLab's predefined CI variables and PLAN_NOTE_TOKEN (a project
access token with the `api` scope, Reporter role), which never appears in its output. Without that token
it posts nothing and says so (the plan stays in the job log and the artifacts).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from typing import Any

MARKER = "<!-- reconcile-plan -->"


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One GitLab API request under the merge request; the parsed JSON answer."""
    project = urllib.parse.quote(os.environ["CI_PROJECT_ID"], safe="")
    url = f"{os.environ['CI_API_V4_URL']}/projects/{project}/merge_requests/{os.environ['CI_MERGE_REQUEST_IID']}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("PRIVATE-TOKEN", os.environ["PLAN_NOTE_TOKEN"])
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def earlier_note() -> dict[str, Any] | None:
    """The note this job posted before (its body holds the marker), if any."""
    page = 1
    while True:
        notes = call("GET", f"/notes?per_page=100&page={page}&sort=asc")
        found = next((n for n in notes if MARKER in (n.get("body") or "")), None)
        if found or len(notes) < 100:
            return found
        page += 1


def sync(exitcode: str, plan: str) -> str:
    """Create or update the plan note for one plan's outcome; says what it did."""
    if not os.environ.get("PLAN_NOTE_TOKEN"):
        return "PLAN_NOTE_TOKEN is not set: the plan is not posted on the merge request"
    body = f"{MARKER}\n{plan.strip()}"
    if exitcode == "1":
        job = os.environ.get("CI_JOB_URL", "the job log")
        body = f"{body}\n\n**reconcile plan failed**: see {job}."
    note = earlier_note()
    if note:
        call("PUT", f"/notes/{note['id']}", {"body": body})
        return f"updated plan note {note['id']}"
    created = call("POST", "/notes", {"body": body})
    return f"posted plan note {created['id']}"


if __name__ == "__main__":
    code, plan_file = sys.argv[1], sys.argv[2]
    with open(plan_file, encoding="utf-8") as handle:
        print(sync(code, handle.read()))
