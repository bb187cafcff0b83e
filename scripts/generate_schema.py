#!/usr/bin/env python3
"""Derive schemas/action.schema.json and schemas/config.schema.json from Buddy's reference pages.

The action's fields, types, enums and descriptions are parsed from the text of the 2026 page
("Add action: Build multi-arch image"), never typed in by hand, so that a new page means a new schema
by running this script again. What the page does not define (the shapes of its nested objects, the
pipeline fields, the keys of our own file format) comes from the small tables below, each citing
where it comes from.

    python scripts/generate_schema.py              # write the schemas
    python scripts/generate_schema.py --check      # exit 1 when the committed schemas are stale
    python scripts/generate_schema.py --docs DIR   # read the pages from DIR (default ../shared/api-docs)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the schemagen package beside this script

from schemagen.action import build_action_schema
from schemagen.config import MODEL, build_config_schema
from schemagen.pages import PageError, parse_page

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = REPO.parent / "shared" / "api-docs"
PAGE_2026 = "add-docker-build-multi-arch.2026.txt"
PAGE_2024 = "add-docker-build-multi-arch.2024.txt"


def render(schema: dict[str, Any]) -> str:
    """Stable text: the dict's own order (page order for fields), two-space indent, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate(docs: Path) -> dict[str, str]:
    """File name -> text of every schema, derived from the pages in ``docs``."""
    post, response = parse_page((docs / PAGE_2026).read_text(encoding="utf-8"))
    post_2024, _ = parse_page((docs / PAGE_2024).read_text(encoding="utf-8"))
    action = build_action_schema(post, response, post_2024)
    return {
        "action.schema.json": render(action),
        "config.schema.json": render(build_config_schema(action, json.loads(MODEL.read_text(encoding="utf-8")))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs_dir", nargs="?", type=Path, help="directory of the reference pages")
    parser.add_argument("--docs", type=Path, help=f"directory of the reference pages (default {DEFAULT_DOCS})")
    parser.add_argument("--out", type=Path, default=REPO / "schemas", help="where to write (default schemas/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the written schemas are not up to date")
    args = parser.parse_args(argv)
    docs: Path = args.docs or args.docs_dir or DEFAULT_DOCS
    try:
        files = generate(docs)
    except (OSError, PageError) as exc:
        print(f"generate_schema: {exc}", file=sys.stderr)
        return 2
    stale = []
    for name, text in files.items():
        target = args.out / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if args.check:
        for name in stale:
            print(f"{args.out / name} is out of date: run scripts/generate_schema.py", file=sys.stderr)
        return 1 if stale else 0
    for name in files:
        print(f"{args.out / name}: {'written' if name in stale else 'unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
