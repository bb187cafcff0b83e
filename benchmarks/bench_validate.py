"""How long validating takes where a person waits, beside yardsticks measured in the same run.

Two ratios (the goals of issue 25), each printed beside its yardstick:

* start-up: ``reconcile validate examples`` (the pre-commit hook on this repository's examples) against
  ``python -c "import yaml, jsonschema"`` (the interpreter and the two libraries validate cannot do
  without); goal at most 1.5x;
* at scale: ``reconcile validate DIR`` on 100 generated files of 100 actions each against libyaml's
  ``CSafeLoader`` loading the same files (``yaml.load`` of each, timed inside a fresh interpreter, so
  neither side pays for the other's memory); goal at most 1.5x.

Each figure is the best of ``--repeat`` runs, the two sides of a ratio taken in turn (the machine may be
shared: the best of several runs is the least disturbed). ``load_config`` in this process is printed too.
``--check-jsonschema`` also times check-jsonschema on the same files (once: it takes minutes).

``--defaults`` writes the same effective actions the way a real repository with defaults would: a
directory defaults file (type, platforms, tag, credentials), a file-level block (context, cache mode)
and a pipeline-level block (build args), leaving each action its own keys. ``--both`` times
``load_config`` on the two layouts one after the other.

    python benchmarks/bench_validate.py [--files 100] [--actions 100] [--repeat 5] [--defaults | --both]
"""

from __future__ import annotations

import argparse
import os
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


def best_in_turn(repeat: int, *runs: Callable[[], float]) -> list[float]:
    """The best time of each of ``runs`` (each returns the seconds it took), taken in turn ``repeat`` times."""
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            best[i] = min(best[i], run())
    return best


#: The children may write bytecode (as an installed package has it): with PYTHONDONTWRITEBYTECODE set,
#: every start would compile each edited module again, which no user's hook pays.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_process(argv: list[str], *, cwd: Path | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=_ENV)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def timed_process(argv: list[str], *, cwd: Path | None = None) -> Callable[[], float]:
    """A run of ``argv`` as a subprocess that returns its wall time."""

    def run() -> float:
        started = time.perf_counter()
        run_process(argv, cwd=cwd)
        return time.perf_counter() - started

    return run


#: Loads every file given with libyaml's CSafeLoader and prints the seconds it took.
_CSAFE = """
import sys, time, yaml
started = time.perf_counter()
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        yaml.load(f.read(), Loader=yaml.CSafeLoader)
print(time.perf_counter() - started)
"""


def csafe_load(paths: list[Path]) -> Callable[[], float]:
    def run() -> float:
        done = subprocess.run(
            [sys.executable, "-c", _CSAFE, *map(str, paths)], capture_output=True, text=True, check=True, env=_ENV
        )
        return float(done.stdout)

    return run


def ratio_line(label: str, ours: float, yardstick_label: str, theirs: float, goal: float) -> tuple[str, bool]:
    ratio = ours / theirs
    met = ratio <= goal
    line = (
        f"{label}: {ours:.3f} s beside {yardstick_label}: {theirs:.3f} s = {ratio:.2f}x "
        f"(goal <= {goal}x: {'met' if met else 'MISSED'})"
    )
    return line, met


def cli() -> str | None:
    bin_dir = Path(sys.executable).parent
    return shutil.which("reconcile", path=str(bin_dir)) or shutil.which("reconcile")


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


def startup(repeat: int) -> bool:
    """``reconcile validate examples`` beside starting Python with yaml and jsonschema."""
    command = cli()
    if command is None:
        print("start-up: skipped (the reconcile command is not installed)")
        return True
    ours, theirs = best_in_turn(
        repeat,
        timed_process([command, "validate", "examples"], cwd=ROOT),
        timed_process([sys.executable, "-c", "import yaml, jsonschema"]),
    )
    line, met = ratio_line(
        "start-up: reconcile validate examples", ours, 'python -c "import yaml, jsonschema"', theirs, 1.5
    )
    print(line)
    return met


def at_scale(args: argparse.Namespace, directory: Path, paths: list[Path]) -> bool:
    """``reconcile validate DIR`` beside CSafeLoader loading the same files; ``load_config`` in process."""
    from reconciler.config.build import load_config

    total = args.files * args.actions

    def in_process() -> None:
        config = load_config([directory])
        assert sum(len(p.actions) for p in config.pipelines) == total

    print(f"load_config (in process): {best_of(args.repeat, in_process):.3f} s")
    command = cli()
    if command is None:
        print("at scale: skipped (the reconcile command is not installed)")
        return True
    ours, theirs = best_in_turn(args.repeat, timed_process([command, "validate", str(directory)]), csafe_load(paths))
    line, met = ratio_line(
        f"at scale: reconcile validate ({total:,} actions)", ours, "CSafeLoader loading the files", theirs, 1.5
    )
    print(line)
    if args.check_jsonschema:
        check_jsonschema(paths, ours)
    return met


def check_jsonschema(paths: list[Path], ours: float) -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which(
        "check-jsonschema"
    )
    if not checker or not SCHEMA.exists():
        print("check-jsonschema: skipped (not installed or no schema)")
        return
    # Timed once: on this input it takes minutes (pure-Python YAML and schema walking).
    theirs = best_of(1, lambda: run_process([checker, "--schemafile", str(SCHEMA), *map(str, paths)]))
    print(f"check-jsonschema: {theirs:.3f} s; reconcile validate / check-jsonschema: {ours / theirs:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--check-jsonschema", action="store_true", help="also time check-jsonschema (minutes)")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--defaults", action="store_true", help="write the actions with defaults blocks")
    layout.add_argument("--both", action="store_true", help="time load_config with and without defaults")
    args = parser.parse_args()
    if args.both:
        return compare_layouts(args.files, args.actions, args.repeat)

    met = startup(args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        directory = Path(tmp)
        paths = generate(directory, args.files, args.actions, defaults=args.defaults)
        print(f"{args.files} files x {args.actions} actions = {args.files * args.actions:,} actions in {directory}")
        met = at_scale(args, directory, paths) and met
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
