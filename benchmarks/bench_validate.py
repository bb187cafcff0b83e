"""How long validating 10,000 actions takes, beside check-jsonschema on the same files.

Generates 100 config files of 100 actions each in a temporary directory, then times, in one run:

* ``load_config`` in this process (loading, schema check, rules, model);
* ``reconcile validate DIR`` as a subprocess, when the CLI is installed (includes interpreter start);
* ``check-jsonschema --schemafile schemas/config.schema.json FILES`` as a subprocess.

The goal: validating well under 5 s, and no slower than check-jsonschema.

``--defaults`` writes the same effective actions the way a real repository with defaults would: a
directory defaults file (type, platforms, tag, credentials), a file-level block (context, cache mode)
and a pipeline-level block (build args), leaving each action its own keys. ``--both`` times
``load_config`` on the two layouts one after the other (check-jsonschema is skipped: it cannot apply
defaults).

    python benchmarks/bench_validate.py [--files 100] [--actions 100] [--repeat 3] [--defaults | --both]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "config.schema.json"
REGISTRIES = [
    ("DOCKER_HUB", None, None),
    ("AMAZON_ECR", None, "eu-west-1"),
    ("GIT_HUB_CONTAINER_REGISTRY", "ghcr.io", None),
]


#: The keys a defaults file, a file block and a pipeline block give in the ``--defaults`` layout.
DIRECTORY_DEFAULTS = [
    "  type: DOCKER_BUILD_MULTI_ARCH",
    "  target_platform: linux/amd64,linux/arm64",
    "  docker_image_tag: $BUDDY_EXECUTION_REVISION",
    "  login: ${env:REGISTRY_USER}",
    "  password: ${env:REGISTRY_TOKEN}",
]
FILE_DEFAULTS = ["  context_path: /", "  cache_mode: MIN"]
PIPELINE_DEFAULTS = ["      build_args: [NODE_ENV=production]"]


def action_yaml(n: int, *, defaults: bool = False) -> str:
    registry, host, region = REGISTRIES[n % len(REGISTRIES)]
    lines = [
        f"      - name: Build image {n}",
        "        type: DOCKER_BUILD_MULTI_ARCH",
        f"        dockerfile_path: services/svc{n}/Dockerfile",
        "        context_path: /",
        "        target_platform: linux/amd64,linux/arm64",
        f"        docker_registry: {registry}",
        f"        repository: acme/svc{n}",
        "        docker_image_tag: $BUDDY_EXECUTION_REVISION",
        "        build_args:",
        "          - NODE_ENV=production",
        f"          - SERVICE=svc{n}",
        f"        cache_mode: {'MAX' if n % 2 else 'MIN'}",
        "        login: ${env:REGISTRY_USER}",
        "        password: ${env:REGISTRY_TOKEN}",
    ]
    if defaults:
        given = {line.strip() for line in DIRECTORY_DEFAULTS + FILE_DEFAULTS}
        lines = [line for line in lines if line.strip() not in given]
    if host:
        lines.append(f"        registry: {host}")
    if region:
        lines.append(f"        region: {region}")
    if n % 10 == 0:
        lines += [
            "        secrets:",
            "          - id: npmrc",
            "            value: ${env:NPMRC}",
            "            type: FILE",
        ]
    return "\n".join(lines) + "\n"


def generate(directory: Path, files: int, actions: int, *, defaults: bool = False) -> list[Path]:
    """Write ``files`` config files of ``actions`` actions each; returns their paths."""
    paths = []
    if defaults:
        (directory / "defaults.yml").write_text("defaults:\n" + "\n".join(DIRECTORY_DEFAULTS) + "\n", encoding="utf-8")
    for f in range(files):
        file_block = "defaults:\n" + "\n".join(FILE_DEFAULTS) + "\n" if defaults else ""
        pipeline_block = "    defaults:\n" + "\n".join(PIPELINE_DEFAULTS) + "\n" if defaults else ""
        text = (
            "# yaml-language-server: $schema=../schemas/config.schema.json\n"
            f"workspace: acme\nproject: project-{f:03d}\n{file_block}pipelines:\n"
            f"  - name: Release images\n{pipeline_block}    actions:\n"
        )
        text += "".join(action_yaml(n, defaults=defaults) for n in range(actions))
        path = directory / f"project-{f:03d}.yml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def run_process(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def compare_layouts(files: int, actions: int, repeat: int) -> int:
    """``load_config`` on the same effective actions written without and with defaults."""
    from reconciler.config.build import load_config

    models = []
    for defaults in (False, True):
        with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
            directory = Path(tmp)
            generate(directory, files, actions, defaults=defaults)
            took = best_of(repeat, lambda d=directory: load_config([d]))
            config = load_config([directory])
            models.append([[dict(a.fields) for a in p.actions] for p in config.pipelines])
            label = "with defaults:   " if defaults else "without defaults:"
            print(f"load_config {label} {took:7.3f} s ({files * actions:,} actions)")
    same = models[0] == models[1]
    print("effective actions identical:", "yes" if same else "NO")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--defaults", action="store_true", help="write the actions with defaults blocks")
    layout.add_argument("--both", action="store_true", help="time load_config with and without defaults")
    args = parser.parse_args()
    if args.both:
        return compare_layouts(args.files, args.actions, args.repeat)

    from reconciler.config.build import load_config

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        directory = Path(tmp)
        paths = generate(directory, args.files, args.actions, defaults=args.defaults)
        total = args.files * args.actions
        print(f"{args.files} files x {args.actions} actions = {total:,} actions in {directory}")

        def in_process() -> None:
            config = load_config([directory])
            assert sum(len(p.actions) for p in config.pipelines) == total

        ours = best_of(args.repeat, in_process)
        print(f"load_config (in process):        {ours:7.3f} s")

        bin_dir = Path(sys.executable).parent
        cli = shutil.which("reconcile", path=str(bin_dir)) or shutil.which("reconcile")
        cli_time = None
        if cli and (ROOT / "reconciler" / "cli.py").exists():
            cli_time = best_of(args.repeat, lambda: run_process([cli, "validate", str(directory)]))
            print(f"reconcile validate (subprocess): {cli_time:7.3f} s")
        else:
            print("reconcile validate (subprocess): skipped (CLI not installed)")

        checker = shutil.which("check-jsonschema", path=str(bin_dir)) or shutil.which("check-jsonschema")
        if not checker or not SCHEMA.exists():
            print("check-jsonschema:                skipped (not installed or no schema)")
            return 0
        # Timed once: on this input it takes minutes (pure-Python YAML and schema walking).
        theirs = best_of(1, lambda: run_process([checker, "--schemafile", str(SCHEMA), *map(str, paths)]))
        print(f"check-jsonschema (subprocess):   {theirs:7.3f} s")
        print(f"ratio load_config / check-jsonschema:        {ours / theirs:5.2f}")
        if cli_time is not None:
            print(f"ratio reconcile validate / check-jsonschema: {cli_time / theirs:5.2f}")
        slow = ours > 5 or (cli_time or 0) > 5 or ours > theirs
        print("goal (< 5 s and no slower than check-jsonschema):", "MISSED" if slow else "met")
        return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
