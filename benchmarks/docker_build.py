"""Benchmark the generated Dockerfile against two baselines, side by side in one run (`poe bench`).

Profiles (--profile demo, realistic or all), each one baked project:
  demo       the default fastapi project as baked (fastapi and uvicorn)
  realistic  the same project grown as a service grows: REALISTIC_DEPENDENCIES (an ORM, a PostgreSQL
             driver, migrations, settings, an HTTP client, JSON, logging, ...; about 50 locked main
             packages) and benchmarks/realistic/notes.py, whose GET /notes uses all of them
Variants, all built from the profile's project (same app, same poetry.lock, same base image, same Poetry):
  generated              the project's own Dockerfile, --build-arg COMPILE_BYTECODE=1
  generated-no-bytecode  the same with COMPILE_BYTECODE=0 (only when the Dockerfile declares that ARG)
  naive                  benchmarks/baselines/naive.Dockerfile: single stage, COPY . ., poetry install
  recipe                 benchmarks/baselines/recipe.Dockerfile: the article's final recipe (pip install
                         poetry==X, --no-root dependency layer on a cache mount, runtime copying .venv)
  recipe-bytecode        the recipe with the dependencies compiled as the generated Dockerfile does
                         (compileall -j 0), for a like-for-like size comparison

Figures per variant (medians of --runs runs): cold build with the BuildKit cache mounts emptied first, cold
build again with them warm (the cold image removed and the layer cache pruned, as on a CI runner whose
cache mounts were restored), code-change rebuild (and whether the dependency layer stayed CACHED),
dependency-change rebuild (one package added and relocked), image bytes above the base, installer bytes
(pip, setuptools, wheel, uv) in the runtime venv, and seconds from `docker run` to the first 200 on the
profile's route. The two bytecode variants measure only the cold build, the bytes and the first 200.
Then ratios against each baseline, the issue's targets for the profile (met / NOT met), and the
post-generation validation levels timed on the default project (--no-validation skips them).

Needs a Docker engine with BuildKit (DOCKER_BUILDKIT=1 is set here), Poetry 2 on PATH and the package index.
Emptying the cache mounts runs `docker builder prune --filter type=exec.cachemount`, and emptying the layer
cache `--filter type=regular`: each empties every unused cache mount or layer on the engine, not only this
benchmark's.
Each build's image is tagged bench-<variant>:<token>-<phase> and all are removed at the end (--keep keeps
them); containers are always removed. --generated-dockerfile measures a candidate Dockerfile instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import template_harness  # bake(), official_or_standin_image(), the index and Poetry version

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
BASELINES_DIR = Path(__file__).resolve().parent / "baselines"

DEFAULT_PYTHON = "3.11"
# Every validate_build level, cheapest first; auto and full differ only where this machine lacks something.
VALIDATION_LEVELS = ("none", "static", "auto", "full")
DEFAULT_RUNS = 3
DEFAULT_JSON = TEMPLATE_DIR / "build" / "benchmark.json"
# One small pure-Python package with a wheel, added to the app's dependencies for the dependency-change rebuild.
ADDED_DEPENDENCY = "tomli>=2.0"
# What a FastAPI service grows into, pinned; each has wheels for CPython 3.11 to 3.13 on x86-64 Linux, so
# no compiler is needed. benchmarks/realistic/notes.py imports and uses every one of them.
REALISTIC_DEPENDENCIES = (
    "sqlmodel==0.0.50",
    "sqlalchemy==2.1.9",
    "alembic==1.20.1",
    "psycopg[binary]==3.3.9",
    "pydantic-settings==2.16.3",
    "httpx==0.28.1",
    "orjson==3.13.0",
    "structlog==26.1.0",
    "tenacity==9.2.1",
    "email-validator==2.4.0",
    "python-multipart==0.0.34",
    "pyjwt==2.15.1",
    "cryptography==50.0.2",
    "bcrypt==5.0.0",
    "redis==8.1.0",
    "sentry-sdk==2.75.0",
    "prometheus-client==0.26.0",
    "jinja2==3.1.6",
    "python-dateutil==4.0.0",
    "pyyaml==6.0.4",
    "rich==15.0.0",
)
REALISTIC_MODULE = Path(__file__).resolve().parent / "realistic" / "notes.py"
BUILD_TIMEOUT = 900
COMMAND_TIMEOUT = 120
HEALTH_TIMEOUT = 30
CONTAINER_PORT = 8000
MB = 1_000_000


# Installers that nothing at runtime uses, by distribution or file name in site-packages and bin.
INSTALLER_SNIPPET = """
import glob, os, sys
names = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth", "wheel", "uv")
def is_installer(name):
    return any(name == n or name.startswith((n + "-", n + "3", n + ".")) for n in names)
def size(path):
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(path) for f in files)
total = 0
venvs = glob.glob(sys.argv[1])
if not venvs:
    sys.exit(f"no virtual environment at {sys.argv[1]}")
for venv in venvs:
    for folder in glob.glob(os.path.join(venv, "lib", "python*", "site-packages")) + [os.path.join(venv, "bin")]:
        if os.path.isdir(folder):
            total += sum(size(os.path.join(folder, n)) for n in os.listdir(folder) if is_installer(n))
print(total)
"""


@dataclass(frozen=True)
class Targets:
    """The issue's targets for one profile, against the recipe measured in the same run."""

    cold_max_ratio: float
    dependency_max_ratio: float
    first_200_max_seconds: float
    code_max_seconds: float = 0.2
    code_max_share: float = 0.03


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dependencies: tuple[str, ...]  # requirements added to the baked project, which is then relocked
    first_200_path: str  # the route the first-200 figure asks for
    targets: Targets


PROFILES = {
    "demo": Profile(
        "demo", "the default fastapi project as baked (fastapi, uvicorn)", (), "/health", Targets(0.30, 0.50, 1.0)
    ),
    "realistic": Profile(
        "realistic",
        "the default fastapi project grown into a service: REALISTIC_DEPENDENCIES and GET /notes, which uses them",
        REALISTIC_DEPENDENCIES,
        "/notes",
        Targets(0.40, 0.40, 1.5),
    ),
}
ALL_PROFILES = "all"


@dataclass(frozen=True)
class Variant:
    name: str
    dockerfile: str | None  # a file in benchmarks/baselines, or None for the generated project's Dockerfile
    target: str | None
    dependency_step: str  # text of the build step that installs the dependencies, to find it in the log
    venv: str  # where the runtime virtual environment lives in the image (a glob)
    build_args: tuple[str, ...] = ()
    bytecode: bool = False  # the dependencies' bytecode is compiled at build time
    every_figure: bool = True  # False: only the cold build, the bytes and the first 200


GENERATED_DEPENDENCY_STEP = "poetry export --only main"
RECIPE_DEPENDENCY_STEP = "poetry install --without dev --no-root"
# How the generated Dockerfile compiles the dependencies, given to the recipe (WORKDIR /app) for the
# like-for-like sizes.
COMPILE_COMMAND = "python -m compileall -q -j 0 .venv/lib"
BYTECODE_ARG = "COMPILE_BYTECODE"
VARIANTS = (
    Variant(
        "generated", None, "runtime", GENERATED_DEPENDENCY_STEP, "/app/.venv", (f"{BYTECODE_ARG}=1",), bytecode=True
    ),
    Variant(
        "generated-no-bytecode",
        None,
        "runtime",
        GENERATED_DEPENDENCY_STEP,
        "/app/.venv",
        (f"{BYTECODE_ARG}=0",),
        every_figure=False,
    ),
    # The generated poetry.toml, which `COPY . .` brings along, puts Poetry's venv in the project.
    Variant("naive", "naive.Dockerfile", None, "poetry install", "/app/.venv"),
    Variant("recipe", "recipe.Dockerfile", "runtime", RECIPE_DEPENDENCY_STEP, "/app/.venv"),
    Variant(
        "recipe-bytecode",
        "recipe.Dockerfile",
        "runtime",
        RECIPE_DEPENDENCY_STEP,
        "/app/.venv",
        bytecode=True,
        every_figure=False,
    ),
)
VARIANT_BY_NAME = {variant.name: variant for variant in VARIANTS}
BASELINES = ("naive", "recipe")
# Ours and the recipe with the same bytecode choice, for the bytes target.
SAME_BYTECODE_PAIRS = (("generated", "recipe-bytecode"), ("generated-no-bytecode", "recipe"))
# Rows of the post-generation hook's summary that are not validation checks.
NOT_VALIDATION_STEPS = ("cruft link", "poetry lock", "git init", "validation")
VALIDATION_TEXT_COLUMNS = (0, 5)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "s", "MB", or "bool"


FIGURES = (
    Figure("cold_empty", "cold build, cache mounts empty", "s"),
    Figure("cold_warm", "cold build, cache mounts warm (as restored in CI)", "s"),
    Figure("code_change", "code-change rebuild", "s"),
    Figure("deps_cached", "dependency layer CACHED on code change", "bool"),
    Figure("dependency_change", "dependency-change rebuild", "s"),
    Figure("bytes_above_base", "image bytes above the base", "MB"),
    Figure("installer_bytes", "pip/setuptools/wheel/uv in runtime venv", "MB"),
    Figure("first_200", "docker run to first 200", "s"),
    # What bounds the first 200: starting a container at all, and importing the app once it runs.
    Figure("container_start", "docker run of python -c pass", "s"),
    Figure("app_import", "import of the app alone, in the image", "s"),
)


@dataclass
class Target:
    name: str
    met: bool
    detail: str


@dataclass
class Project:
    path: Path
    package: str
    dockerfiles: dict[str, Path]
    pyproject: str
    lock: str
    changed_pyproject: str = ""
    changed_lock: str = ""


@dataclass
class Build:
    seconds: float
    log: str
    steps: dict[str, float] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)


class BenchError(Exception):
    """A command the benchmark needs failed; the message has its output's tail."""


# --- pure parts: parsing, statistics, targets, tables ---------------------------------------------------------


def parse_build_log(log: str) -> tuple[dict[str, float], set[str]]:
    """Seconds per step and the steps that were CACHED, from `docker build --progress=plain` output."""
    titles: dict[str, str] = {}
    seconds: dict[str, float] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        if match := re.match(r"#(\d+) (\[[^\]]+\] .*)$", line):
            titles.setdefault(match[1], " ".join(match[2].split()))
        elif match := re.match(r"#(\d+) DONE ([\d.]+)s$", line):
            seconds[match[1]] = float(match[2])
        elif match := re.match(r"#(\d+) CACHED$", line):
            cached.add(match[1])
    steps = {titles[number]: value for number, value in seconds.items() if number in titles}
    return steps, {titles[number] for number in cached if number in titles}


def step_was_cached(build: Build, step_text: str) -> bool:
    """Whether every step whose title contains step_text was CACHED (False when there is none)."""
    matching = [title for title in (*build.steps, *build.cached) if step_text in title]
    return bool(matching) and all(title in build.cached for title in matching)


def median(values: list[float]) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def summarise_runs(runs: list[dict]) -> dict:
    """Medians of the numeric figures over runs; 'yes', 'no' or 'k/n' for the yes/no figure."""
    summary = {}
    for figure in FIGURES:
        values = [run[figure.key] for run in runs if run.get(figure.key) is not None]
        if figure.unit == "bool":
            yes = sum(bool(value) for value in values)
            summary[figure.key] = (
                None if not values else "yes" if yes == len(values) else "no" if yes == 0 else f"{yes}/{len(values)}"
            )
        else:
            summary[figure.key] = median(values)
    return summary


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def ratios(summaries: dict[str, dict]) -> dict[str, dict[str, float | None]]:
    """generated/baseline for each numeric figure and each baseline."""
    ours = summaries["generated"]
    return {
        baseline: {
            figure.key: ratio(ours[figure.key], summaries[baseline][figure.key])
            for figure in FIGURES
            if figure.unit != "bool"
        }
        for baseline in BASELINES
        if baseline in summaries
    }


def evaluate_targets(summaries: dict[str, dict], targets: Targets) -> list[Target]:
    """The profile's targets for the generated Dockerfile, against the recipe measured in the same run."""
    ours, recipe = summaries["generated"], summaries["recipe"]
    results = []

    cold_limit = targets.cold_max_ratio * recipe["cold_empty"]
    results.append(
        Target(
            f"cold build, cache mounts empty, <= {targets.cold_max_ratio:.2f}x the recipe's",
            ours["cold_empty"] <= cold_limit,
            f"{ours['cold_empty']:.1f} s vs limit {cold_limit:.1f} s "
            f"({ours['cold_empty'] / recipe['cold_empty']:.2f}x the recipe's {recipe['cold_empty']:.1f} s)",
        )
    )
    dependency_limit = targets.dependency_max_ratio * recipe["dependency_change"]
    results.append(
        Target(
            f"dependency-change rebuild <= {targets.dependency_max_ratio:.2f}x the recipe's",
            ours["dependency_change"] <= dependency_limit,
            f"{ours['dependency_change']:.1f} s vs limit {dependency_limit:.1f} s "
            f"({ours['dependency_change'] / recipe['dependency_change']:.2f}x the recipe's "
            f"{recipe['dependency_change']:.1f} s)",
        )
    )
    code_limit = min(targets.code_max_seconds, targets.code_max_share * ours["cold_empty"])
    results.append(
        Target(
            f"code-change rebuild <= {targets.code_max_seconds} s and <= {targets.code_max_share:.0%} of our cold",
            ours["code_change"] <= code_limit and ours["deps_cached"] == "yes",
            f"{ours['code_change']:.2f} s vs limit {code_limit:.2f} s "
            f"({ours['code_change'] / ours['cold_empty']:.1%} of our cold); "
            f"dependency layer CACHED: {ours['deps_cached']}",
        )
    )
    results.append(
        Target(
            f"first 200 within {targets.first_200_max_seconds} s of docker run",
            ours["first_200"] <= targets.first_200_max_seconds,
            f"{ours['first_200']:.2f} s",
        )
    )
    results += [
        bytes_target(summaries, name, recipe_name) for name, recipe_name in SAME_BYTECODE_PAIRS if name in summaries
    ]
    return results


def bytes_target(summaries: dict[str, dict], name: str, recipe_name: str) -> Target:
    """Our bytes above the base against the recipe's with the same bytecode choice, minus its installers."""
    title = f"{name}: bytes above the base <= {recipe_name}'s minus its installers, and no installer in our venv"
    ours, recipe = summaries[name], summaries.get(recipe_name)
    if recipe is None:
        return Target(title, False, f"{recipe_name} was not measured (--variants)")
    limit = recipe["bytes_above_base"] - recipe["installer_bytes"]
    return Target(
        title,
        ours["bytes_above_base"] <= limit and ours["installer_bytes"] == 0,
        f"{ours['bytes_above_base']:,.0f} B vs limit {limit:,.0f} B "
        f"({recipe_name} {recipe['bytes_above_base']:,.0f} B - installers {recipe['installer_bytes']:,.0f} B; "
        f"difference {ours['bytes_above_base'] - limit:+,.0f} B); installers in ours: {ours['installer_bytes']:,.0f} B",
    )


def format_value(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bool":
        return str(value)
    if unit == "MB":
        return f"{value / MB:.2f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def figures_rows(summaries: dict[str, dict], ratio_table: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the main table: one row per figure, one column per variant, then the ratios."""
    variants = [variant.name for variant in VARIANTS if variant.name in summaries]
    baselines = [baseline for baseline in BASELINES if baseline in ratio_table]
    header = ["figure", *variants, *(f"generated/{baseline}" for baseline in baselines)]
    rows = []
    for figure in FIGURES:
        unit = "" if figure.unit == "bool" else f" ({figure.unit})"
        row = [figure.label + unit]
        row += [format_value(summaries[variant][figure.key], figure.unit) for variant in variants]
        row += [format_ratio(ratio_table[baseline].get(figure.key)) for baseline in baselines]
        rows.append(row)
    return header, rows


def text_table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> str:
    """Plain aligned columns: text_columns left-aligned, the others (numbers) right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            str(cell).ljust(width) if i in text_columns else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def markdown_table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> str:
    align = ["---" if i in text_columns else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |" for line in lines)


def targets_lines(targets: list[Target]) -> list[str]:
    return [f"{'met' if target.met else 'NOT met'}: {target.name}: {target.detail}" for target in targets]


def validation_rows(validation: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """One row per level; the check counts and the slowest checks leave out locking and git init."""
    header = ["validate_build", "bake (s)", "over 'none' (s)", "checks ok", "checks skipped", "slowest checks (s)"]
    reference = validation.get("none", {}).get("seconds")
    rows = []
    for level, result in validation.items():
        if result.get("error"):
            rows.append([level, "failed", "-", "-", "-", result["error"]])
            continue
        seconds = result["seconds"]
        checks = [step for step in result["steps"] if step["name"] not in NOT_VALIDATION_STEPS]
        slowest = sorted((step for step in checks if step["result"] == "ok"), key=lambda step: -step["seconds"])[:3]
        rows.append(
            [
                level,
                format_value(seconds, "s"),
                "-" if reference is None or level == "none" else format_value(seconds - reference, "s"),
                str(sum(step["result"] == "ok" for step in checks)),
                str(sum(step["result"] == "skipped" for step in checks)),
                ", ".join(f"{step['name']} {step['seconds']:.1f}" for step in slowest) or "-",
            ]
        )
    return header, rows


def bake_error(output: str) -> str:
    """The hook's own error line, else the last line of the bake's output."""
    lines = output.strip().splitlines() or ["(no output)"]
    return next((line for line in lines if line.startswith("error:")), lines[-1])


# --- commands ------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tool_env(**extra: str) -> dict:
    return template_harness.tool_environment(DOCKER_BUILDKIT="1", **extra)


def run(command: list[str], *, timeout: float = COMMAND_TIMEOUT, cwd: Path | None = None, env=None, check=True):
    """Run a command with a time limit; raise BenchError with the end of its output when it fails."""
    try:
        completed = subprocess.run(
            command, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(command[:4])} took longer than {timeout} s") from None
    if check and completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()[-30:]
        raise BenchError(f"{' '.join(command[:4])} exited {completed.returncode}:\n" + "\n".join(output))
    return completed


def docker_build(project: Project, variant: Variant, tag: str, base_image: str, *, no_cache: bool) -> Build:
    command = ["docker", "build", "--progress=plain", "--tag", tag, "--file", str(project.dockerfiles[variant.name])]
    build_args = (
        f"PYTHON_IMAGE={base_image}",
        f"POETRY_VERSION={template_harness.POETRY_VERSION}",
        *variant.build_args,
    )
    command += [part for build_arg in build_args for part in ("--build-arg", build_arg)]
    if variant.target:
        command += ["--target", variant.target]
    if no_cache:
        command.append("--no-cache")
    started = time.perf_counter()
    completed = run([*command, str(project.path)], timeout=BUILD_TIMEOUT)
    seconds = time.perf_counter() - started
    steps, cached = parse_build_log(completed.stderr)
    return Build(seconds, completed.stderr, steps, cached)


def empty_cache_mounts() -> None:
    run(["docker", "builder", "prune", "--force", "--filter", "type=exec.cachemount"])


def empty_layer_cache() -> None:
    """Remove the build cache's layers that no image holds, and keep its cache mounts."""
    run(["docker", "builder", "prune", "--force", "--filter", "type=regular"])


def image_size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout.strip())


def installer_bytes(image: str, venv: str) -> int:
    command = ["docker", "run", "--rm", "--user", "0", "--entrypoint", "python", image, "-c", INSTALLER_SNIPPET, venv]
    return int(run(command).stdout.strip())


def python_seconds(image: str, venv: str, code: str) -> tuple[float, str]:
    """Seconds from `docker run` to the exit of the venv's python running code, and what it printed."""
    command = ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", f'exec {venv}/bin/python -c "$0"', code]
    started = time.perf_counter()
    completed = run(command)
    return time.perf_counter() - started, completed.stdout


def app_import_seconds(image: str, venv: str, package: str) -> float:
    """Seconds the venv's python takes to import the app module, measured inside the container."""
    code = f"import time; started = time.perf_counter(); import {package}.app; print(time.perf_counter() - started)"
    return float(python_seconds(image, venv, code)[1])


def first_200(image: str, name: str, path: str) -> tuple[float, bytes]:
    """Seconds from `docker run` to the first 200 on path, published on 127.0.0.1 only, and its body."""
    env = ["--env", "HOST=0.0.0.0", "--env", f"PORT={CONTAINER_PORT}"]
    started = time.perf_counter()
    try:
        run(["docker", "run", "--detach", "--name", name, *env, "--publish", f"127.0.0.1::{CONTAINER_PORT}", image])
        address = run(["docker", "port", name, f"{CONTAINER_PORT}/tcp"]).stdout.split()[0]
        url = f"http://{address}{path}"
        while time.perf_counter() - started < HEALTH_TIMEOUT:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started, response.read()
            except OSError:
                time.sleep(0.02)
        logs = run(["docker", "logs", name], check=False)
        raise BenchError(f"{image}: no 200 on {url} within {HEALTH_TIMEOUT} s\n{logs.stdout}{logs.stderr}")
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)


# --- the project and its edits -------------------------------------------------------------------------------


def bake_project(output_dir: Path, python_version: str, base_image: str, candidate: Path | None) -> Project:
    log(f"baking the default project (Python {python_version}, locked against {template_harness.PACKAGE_INDEX_URL})")
    baked = template_harness.bake(
        output_dir,
        python_version=python_version,
        docker_base_image=base_image,
        package_index_url=template_harness.PACKAGE_INDEX_URL,
        lock_dependencies="yes",
    )
    if baked.returncode != 0:
        raise BenchError(f"bake failed:\n{baked.output[-3000:]}")
    path = baked.project
    package = next(path.glob("src/*/__init__.py")).parent.name
    dockerfiles = {"generated": path / "Dockerfile", "generated-no-bytecode": path / "Dockerfile"}
    if candidate:
        dockerfiles["generated"] = dockerfiles["generated-no-bytecode"] = path / "bench-candidate.Dockerfile"
        dockerfiles["generated"].write_text(candidate.read_text(encoding="utf-8"), encoding="utf-8")
    for variant in VARIANTS:
        if variant.dockerfile:
            text = (BASELINES_DIR / variant.dockerfile).read_text(encoding="utf-8").replace("__PACKAGE__", package)
            if variant.bytecode:
                text = with_compiled_bytecode(text)
            # In the build context, where only the naive `COPY . .` copies them; no run changes them.
            dockerfiles[variant.name] = path / f"bench-{variant.name}.Dockerfile"
            dockerfiles[variant.name].write_text(text, encoding="utf-8")
    pyproject = (path / "pyproject.toml").read_text(encoding="utf-8")
    lock = (path / "poetry.lock").read_text(encoding="utf-8")
    return Project(path, package, dockerfiles, pyproject, lock)


def with_compiled_bytecode(recipe: str) -> str:
    """The recipe whose dependency step also compiles the venv's bytecode, as the generated Dockerfile does."""
    step = f"RUN --mount=type=cache,target=$POETRY_CACHE_DIR {RECIPE_DEPENDENCY_STEP}\n"
    if recipe.count(step) != 1:
        raise BenchError(f"cannot find the recipe's dependency step: {step.strip()}")
    return recipe.replace(step, f"{step[:-1]} \\\n    && {COMPILE_COMMAND}\n")


def declares_bytecode_arg(dockerfile: str) -> bool:
    """Whether the Dockerfile takes the COMPILE_BYTECODE build argument (ARG COMPILE_BYTECODE or ...=default)."""
    return re.search(rf"(?m)^ARG {BYTECODE_ARG}(=|\s*$)", dockerfile) is not None


def grow_project(project: Project, profile: Profile) -> None:
    """Add the profile's dependencies and, for the realistic one, its routes; relock with the host's Poetry."""
    if not profile.dependencies:
        return
    log(f"growing the project: {len(profile.dependencies)} pinned dependencies and GET {profile.first_200_path}")
    package_dir = project.path / "src" / project.package
    shutil.copyfile(REALISTIC_MODULE, package_dir / REALISTIC_MODULE.name)
    app = package_dir / "app.py"
    app.write_text(include_notes_router(app.read_text(encoding="utf-8")), encoding="utf-8")
    pyproject_path = project.path / "pyproject.toml"
    pyproject_path.write_text(add_dependencies(project.pyproject, profile.dependencies), encoding="utf-8")
    run(["poetry", "lock"], cwd=project.path, env=tool_env(POETRY_VIRTUALENVS_CREATE="false"), timeout=600)
    project.pyproject = pyproject_path.read_text(encoding="utf-8")
    project.lock = (project.path / "poetry.lock").read_text(encoding="utf-8")


def include_notes_router(app: str) -> str:
    """app.py with the realistic profile's router included in the app it creates."""
    if not re.search(r"(?m)^app = create_app\(", app):
        raise BenchError("cannot find `app = create_app(...)` in app.py")
    module = REALISTIC_MODULE.stem
    return (
        f"{app}\n# The benchmark's realistic profile (benchmarks/realistic/{module}.py).\n"
        f"from .{module} import router  # noqa: E402\n\napp.include_router(router)\n"
    )


def locked_packages(lock: str, group: str = "main") -> list[str]:
    """The names of the packages poetry.lock installs for a group."""
    return [package["name"] for package in tomllib.loads(lock).get("package", []) if group in package.get("groups", [])]


def add_dependencies(pyproject: str, requirements: tuple[str, ...]) -> str:
    """pyproject.toml text with the requirements appended to [project] dependencies."""
    lines = "".join(f'    "{requirement}",\n' for requirement in requirements)
    new, count = re.subn(r"(?m)^(dependencies = \[\n(?:    .*\n)*?)(\])", lambda m: m[1] + lines + m[2], pyproject)
    if count != 1:
        raise BenchError("cannot find the [project] dependencies list in pyproject.toml")
    return new


def prepare_dependency_change(project: Project) -> None:
    """Relock once with one more dependency (host Poetry), keep both files' texts, restore the originals."""
    log(f"relocking with {ADDED_DEPENDENCY} added (host Poetry, no virtualenv)")
    pyproject_path, lock_path = project.path / "pyproject.toml", project.path / "poetry.lock"
    try:
        pyproject_path.write_text(add_dependencies(project.pyproject, (ADDED_DEPENDENCY,)), encoding="utf-8")
        run(["poetry", "lock"], cwd=project.path, env=tool_env(POETRY_VIRTUALENVS_CREATE="false"), timeout=300)
        project.changed_pyproject = pyproject_path.read_text(encoding="utf-8")
        project.changed_lock = lock_path.read_text(encoding="utf-8")
    finally:
        restore_project(project)


def restore_project(project: Project) -> None:
    (project.path / "pyproject.toml").write_text(project.pyproject, encoding="utf-8")
    (project.path / "poetry.lock").write_text(project.lock, encoding="utf-8")


def edit_code(project: Project, token: str) -> tuple[Path, str]:
    """Change one line of app.py (its docstring) to something no earlier run built; return the original."""
    app = project.path / "src" / project.package / "app.py"
    original = app.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    lines[0] = f'"""The HTTP application (benchmark edit {token})."""\n'
    app.write_text("".join(lines), encoding="utf-8")
    return app, original


def change_dependencies(project: Project, token: str) -> None:
    """The relocked files; a TOML comment makes the bytes new each run, so no earlier layer matches."""
    (project.path / "pyproject.toml").write_text(
        project.changed_pyproject + f"\n# benchmark dependency change {token}\n", encoding="utf-8"
    )
    (project.path / "poetry.lock").write_text(project.changed_lock, encoding="utf-8")


# --- measuring -----------------------------------------------------------------------------------------------


def measure_variant(
    project: Project, profile: Profile, variant: Variant, base_image: str, base_size: int, tags: list[str]
) -> dict:
    """One run of the variant's figures; leaves the project as it found it.

    Each build gets a tag of its own, added to tags before it runs, so that the caller can remove every image.
    """
    token = uuid.uuid4().hex[:12]
    figures: dict = {}

    def build(phase: str, *, no_cache: bool) -> tuple[Build, str]:
        tag = f"bench-{variant.name}:{token}-{phase}"
        tags.append(tag)
        return docker_build(project, variant, tag, base_image, no_cache=no_cache), tag

    empty_cache_mounts()
    cold, tag = build("cold", no_cache=True)
    figures["cold_empty"] = cold.seconds
    figures["cold_steps"] = slow_steps(cold, 0.3)
    if variant.every_figure:
        # Not --no-cache: with it, this engine's BuildKit gives every RUN empty cache mounts. No image may
        # hold a layer this build could reuse, so every earlier one goes first.
        remove_images(tags)
        tags.clear()
        empty_layer_cache()
        warm, tag = build("warm", no_cache=False)
        figures["cold_warm"] = warm.seconds

    figures["bytes_above_base"] = image_size(tag) - base_size
    figures["installer_bytes"] = installer_bytes(tag, variant.venv)
    figures["first_200"] = first_200(tag, f"bench-{variant.name}-{token}", profile.first_200_path)[0]
    figures["container_start"] = python_seconds(tag, variant.venv, "pass")[0]
    figures["app_import"] = app_import_seconds(tag, variant.venv, project.package)
    if not variant.every_figure:
        log(
            f"{variant.name}: cold {figures['cold_empty']:.1f} s, {figures['bytes_above_base'] / MB:.2f} MB, "
            f"first 200 {figures['first_200']:.2f} s"
        )
        return figures

    app, original = edit_code(project, token)
    try:
        code, _ = build("code", no_cache=False)
    finally:
        app.write_text(original, encoding="utf-8")
    figures["code_change"] = code.seconds
    figures["code_steps"] = slow_steps(code, 0.1)  # in the JSON: where a slow code-change rebuild went
    figures["deps_cached"] = step_was_cached(code, variant.dependency_step)

    change_dependencies(project, token)
    try:
        dependency_change, _ = build("deps", no_cache=False)
    finally:
        restore_project(project)
    figures["dependency_change"] = dependency_change.seconds
    figures["dependency_steps"] = slow_steps(dependency_change, 0.3)
    log(
        f"{variant.name}: cold {figures['cold_empty']:.1f} s (warm mounts {figures['cold_warm']:.1f} s), "
        f"code {figures['code_change']:.2f} s, deps {figures['dependency_change']:.1f} s, "
        f"{figures['bytes_above_base'] / MB:.2f} MB, first 200 {figures['first_200']:.2f} s"
    )
    return figures


def slow_steps(build: Build, at_least: float) -> dict[str, float]:
    """The build's steps that took at_least seconds, with their seconds."""
    return {title: seconds for title, seconds in build.steps.items() if seconds >= at_least}


def median_steps(runs: list[dict]) -> dict[str, float]:
    """Median seconds of each cold-build step seen in the runs (a step missing from a run counts as absent)."""
    titles = {title for run in runs for title in run.get("cold_steps", {})}
    medians = {
        title: median([run["cold_steps"][title] for run in runs if title in run["cold_steps"]]) for title in titles
    }
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def time_validation_levels(python_version: str, base_image: str, runs: int, run_id: str) -> dict[str, dict]:
    """Seconds of a bake at each validate_build level on the default project (fastapi), timed end to end."""
    results: dict[str, dict] = {}
    for level in VALIDATION_LEVELS:
        seconds, steps = [], []
        for index in range(runs):
            # A project name of its own each time: auto's image is then bench-validate-...:dev, never another
            # project's my-service:dev, and its docker build really builds (the Poetry stage may be cached).
            slug = f"bench-validate-{run_id}-{level}-{index}"
            answers = {
                "project_name": slug,
                "python_version": python_version,
                "docker_base_image": base_image,
                "package_index_url": template_harness.PACKAGE_INDEX_URL,
                "lock_dependencies": "yes",
                "validate_build": level,
            }
            with tempfile.TemporaryDirectory(prefix="bench-validate-") as output:
                started = time.perf_counter()
                try:
                    baked = template_harness.bake(Path(output), **answers)
                    elapsed = time.perf_counter() - started
                finally:
                    run(["docker", "image", "rm", "--force", f"{slug}:dev"], check=False)
            if baked.returncode != 0:
                results[level] = {"error": bake_error(baked.output), "output": baked.output[-3000:]}
                break
            seconds.append(elapsed)
            steps = template_harness.hook_summary(baked.stdout)
            log(f"validate_build={level}: {elapsed:.1f} s")
        else:
            results[level] = {"seconds": median(seconds), "runs": seconds, "steps": steps}
    return results


def template_revision() -> str:
    """The template's commit, with -dirty when the working tree has changes (the Dockerfile may be one)."""
    described = run(["git", "-C", str(TEMPLATE_DIR), "describe", "--always", "--dirty"], check=False)
    return described.stdout.strip() or "unknown"


def remove_images(tags: list[str]) -> None:
    if tags:
        run(["docker", "image", "rm", "--force", *tags], check=False)


def measure_profile(
    profile: Profile, args: argparse.Namespace, workdir: Path, base_image: str, base_size: int, tags: list[str]
) -> tuple[dict, dict, dict, dict]:
    """Bake and grow the profile's project, then measure each chosen variant --runs times.

    Returns the profile's facts, the summaries and runs per variant, and the cold builds' median steps.
    """
    workdir.mkdir(parents=True)
    project = bake_project(workdir, args.python, base_image, args.generated_dockerfile)
    grow_project(project, profile)
    prepare_dependency_change(project)
    texts = {name: path.read_text(encoding="utf-8") for name, path in project.dockerfiles.items()}
    chosen = [variant for variant in VARIANTS if variant.name in args.variants]
    if not declares_bytecode_arg(texts["generated"]):
        log(f"the generated Dockerfile declares no ARG {BYTECODE_ARG}: generated-no-bytecode is not measured")
        chosen = [variant for variant in chosen if variant.name != "generated-no-bytecode"]
    runs: dict[str, list[dict]] = {variant.name: [] for variant in chosen}
    for index in range(args.runs):
        # A different order each run, so a neighbour's build slows every variant alike on average.
        order = chosen[index % len(chosen) :] + chosen[: index % len(chosen)]
        for variant in order:
            log(f"{profile.name} profile, run {index + 1}/{args.runs}: {variant.name}")
            runs[variant.name].append(measure_variant(project, profile, variant, base_image, base_size, tags))
    facts = {
        "description": profile.description,
        "dependencies": list(profile.dependencies),
        "locked_main_packages": len(locked_packages(project.lock)),
        "first_200_path": profile.first_200_path,
        "added_dependency": ADDED_DEPENDENCY,
        "targets": dataclasses.asdict(profile.targets),
        "generated_declares_compile_bytecode": declares_bytecode_arg(texts["generated"]),
        "dockerfiles": {name: texts[name] for name in runs},
        "dockerfile_sha256": {name: hashlib.sha256(texts[name].encode()).hexdigest()[:16] for name in runs},
    }
    summaries = {name: summarise_runs(variant_runs) for name, variant_runs in runs.items()}
    steps = {name: median_steps(variant_runs) for name, variant_runs in runs.items()}
    return facts, summaries, runs, steps


# --- report --------------------------------------------------------------------------------------------------


def profile_section(profile: Profile, meta: dict, facts: dict, summaries: dict, runs: dict, steps: dict) -> dict:
    """One profile's table, ratios and targets, as text, Markdown and data."""
    ratio_table = ratios(summaries)
    targets = evaluate_targets(summaries, profile.targets) if "recipe" in summaries else []
    header, rows = figures_rows(summaries, ratio_table)
    title = (
        f"Docker build benchmark, {profile.name} profile: {profile.description}; "
        f"{facts['locked_main_packages']} locked main packages, first 200 = GET {profile.first_200_path}. "
        f"Base {meta['base_image']} (Python {meta['python']}), Poetry {meta['poetry']}, "
        f"medians of {meta['runs']} runs, {meta['date']}. "
        "'Cache mounts empty' = docker build --no-cache after pruning the BuildKit cache mounts; 'warm' "
        "rebuilds right after, with the layer cache pruned instead (--no-cache would empty the mounts too)."
    )
    if meta.get("generated_dockerfile_override"):
        title += f" 'generated' is {meta['generated_dockerfile_override']}."
    return {
        **facts,
        "summary": summaries,
        "ratios": ratio_table,
        "targets": [dataclasses.asdict(target) for target in targets],
        "cold_build_steps": steps,
        "runs": runs,
        "table_text": "\n".join([title, "", text_table(header, rows), "", *targets_lines(targets)]),
        "table_markdown": "\n".join(
            [title, "", markdown_table(header, rows), "", *(f"- {line}" for line in targets_lines(targets))]
        ),
    }


def build_report(meta: dict, sections: dict[str, dict], validation: dict | None) -> dict:
    text = [section["table_text"] for section in sections.values()]
    markdown = [section["table_markdown"] for section in sections.values()]
    if validation:
        validation_title = (
            f"Post-generation validation, timed bakes of the default project (Python {meta['validation_python']}, "
            f"locked, base {meta['validation_base_image']}), medians of {meta['validation_runs']} runs:"
        )
        v_header, v_rows = validation_rows(validation)
        text.append(f"{validation_title}\n\n{text_table(v_header, v_rows, VALIDATION_TEXT_COLUMNS)}")
        markdown.append(f"{validation_title}\n\n{markdown_table(v_header, v_rows, VALIDATION_TEXT_COLUMNS)}")
    return {
        "meta": meta,
        "profiles": sections,
        "validation": validation,
        "table_text": "\n\n".join(text),
        "table_markdown": "\n\n".join(markdown),
    }


def all_targets_met(report: dict) -> bool:
    return all(target["met"] for section in report["profiles"].values() for target in section["targets"])


def print_breakdown(sections: dict[str, dict]) -> None:
    print("\nWhere the cold builds (cache mounts empty) spend their time, median seconds per step >= 0.3 s:")
    for profile, section in sections.items():
        for variant, variant_steps in section["cold_build_steps"].items():
            print(f"  {profile} profile, {variant}:")
            for title, seconds in variant_steps.items():
                print(f"    {seconds:6.1f}  {title[:110]}")


def chosen_profiles(name: str) -> list[Profile]:
    return list(PROFILES.values()) if name == ALL_PROFILES else [PROFILES[name]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        choices=[*PROFILES, ALL_PROFILES],
        default="demo",
        help="the project to measure: demo (the default project), realistic (grown into a service), or all",
    )
    parser.add_argument(
        "--python", default=DEFAULT_PYTHON, help=f"Python version of the app (default {DEFAULT_PYTHON})"
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"runs per figure (default {DEFAULT_RUNS})")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--no-validation", action="store_true", help="skip timing the validate_build levels")
    parser.add_argument(
        "--validation-python",
        default=template_harness.PYTHON_VERSIONS[0],
        help="Python of the project the validation levels are timed on "
        f"(default {template_harness.PYTHON_VERSIONS[0]})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the baked projects and the bench-* images")
    parser.add_argument(
        "--fail-on-targets", action="store_true", help="exit 1 when a target of a profile measured is not met"
    )
    parser.add_argument(
        "--generated-dockerfile",
        type=Path,
        help="measure this Dockerfile, written for the baked default project, in place of the generated one",
    )
    names = [variant.name for variant in VARIANTS]
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=names,
        help=f"comma-separated subset to measure, with generated (default: {','.join(names)}; "
        "the targets need recipe and recipe-bytecode)",
    )
    args = parser.parse_args(argv)
    if "generated" not in args.variants or not set(args.variants) <= set(names):
        parser.error(f"--variants takes generated and any of {', '.join(names[1:])}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if template_harness.docker_cli() is None:
        print("error: no Docker engine answers `docker info`", file=sys.stderr)
        return 2
    run_id = uuid.uuid4().hex[:8]
    base_image = template_harness.official_or_standin_image("docker", args.python)
    base_size = image_size(base_image)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "app_type": "fastapi",
        "python": args.python,
        "base_image": base_image,
        "base_image_bytes": base_size,
        "poetry": template_harness.POETRY_VERSION,
        "package_index_url": template_harness.PACKAGE_INDEX_URL,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "generated_dockerfile_override": str(args.generated_dockerfile or ""),
        "template_revision": template_revision(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-docker-build-"))
    tags: list[str] = []
    try:
        sections = {}
        for profile in chosen_profiles(args.profile):
            measured = measure_profile(profile, args, workdir / profile.name, base_image, base_size, tags)
            sections[profile.name] = profile_section(profile, meta, *measured)
        validation = None
        if not args.no_validation:
            meta["validation_python"] = args.validation_python
            meta["validation_base_image"] = template_harness.official_or_standin_image("docker", args.validation_python)
            meta["validation_runs"] = args.runs
            validation = time_validation_levels(
                args.validation_python, meta["validation_base_image"], args.runs, run_id
            )
        report = build_report(meta, sections, validation)
    finally:
        if args.keep:
            log(f"kept {workdir} and {len(tags)} images tagged bench-*: {', '.join(tags)}")
        else:
            remove_images(tags)
            shutil.rmtree(workdir, ignore_errors=True)
    print(report["table_text"])
    print_breakdown(sections)
    print("\nMarkdown, for the README:\n")
    print(report["table_markdown"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    if args.fail_on_targets and not all_targets_met(report):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
