"""Keep one GitLab issue in step with a scheduled `reconcile plan --detailed-exitcode` (the reconcile-drift job).

Usage: python drift_issue.py EXITCODE PLAN.md

EXITCODE 2 (Buddy differs): open the drift issue with the plan, or update the one already open.
EXITCODE 0 (Buddy matches): close the open drift issue, if any, with a note. Anything else: do nothing.
The issue is found again by a hidden marker in its description. Standard library only, so it runs in the
job's Python image; it reads GitLab's predefined CI variables and DRIFT_ISSUE_TOKEN (a project access token
with the `api` scope), which never appears in its output.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from typing import Any

MARKER = "<!-- reconcile-drift -->"
TITLE = "Buddy has drifted from the repository"


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One GitLab API request under the project; the parsed JSON answer."""
    project = urllib.parse.quote(os.environ["CI_PROJECT_ID"], safe="")
    url = f"{os.environ['CI_API_V4_URL']}/projects/{project}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("PRIVATE-TOKEN", os.environ["DRIFT_ISSUE_TOKEN"])
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def open_issue() -> dict[str, Any] | None:
    """The open issue this job opened earlier (its description holds the marker), if any."""
    query = urllib.parse.urlencode({"state": "opened", "search": MARKER, "in": "description", "per_page": 100})
    return next((i for i in call("GET", f"/issues?{query}") if MARKER in (i.get("description") or "")), None)


def sync(exitcode: str, plan: str) -> str:
    """Open, update or close the drift issue for one plan's outcome; says what it did."""
    issue = open_issue()
    run = os.environ.get("CI_PIPELINE_URL", "the scheduled pipeline")
    if exitcode == "2":
        description = (
            f"{MARKER}\nBuddy differs from the repository (drift check: {run}). Apply the repository with "
            f"`reconcile apply`, or change the files to match Buddy.\n\n{plan.strip()}"
        )
        if issue:
            call("PUT", f"/issues/{issue['iid']}", {"description": description})
            return f"updated drift issue #{issue['iid']}"
        created = call("POST", "/issues", {"title": TITLE, "description": description})
        return f"opened drift issue #{created['iid']}"
    if exitcode == "0" and issue:
        call("POST", f"/issues/{issue['iid']}/notes", {"body": f"Buddy matches the repository again ({run})."})
        call("PUT", f"/issues/{issue['iid']}", {"state_event": "close"})
        return f"closed drift issue #{issue['iid']}"
    return "nothing to do"


if __name__ == "__main__":
    code, plan_file = sys.argv[1], sys.argv[2]
    with open(plan_file, encoding="utf-8") as handle:
        print(sync(code, handle.read()))
