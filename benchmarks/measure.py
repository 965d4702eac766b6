"""Measuring: each variant's figures on the profile's project, the profiles in turn, and the validation levels."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import template_harness

from . import commands
from .commands import load_average, log, run
from .config import (
    ADDED_DEPENDENCY,
    BURST_CONCURRENCY,
    BURST_PATHS,
    BURST_REQUESTS,
    BYTECODE_ARG,
    DATABASE_CHOICES,
    MB,
    OBSERVABILITY_PACKAGES,
    PROFILES,
    TRACING_ENV,
    UNREACHABLE_DATABASE_URL,
    VALIDATION_LEVELS,
    VARIANT_BY_NAME,
    VARIANTS,
    BenchError,
    Build,
    Profile,
    Variant,
)
from .project import (
    Project,
    bake_project,
    change_dependencies,
    declares_bytecode_arg,
    edit_code,
    grow_project,
    install_uv,
    lock_with_uv,
    locked_packages,
    prepare_dependency_change,
    restore_project,
)
from .stats import (
    burst_key,
    latency_summary,
    median,
    median_figures,
    median_steps,
    slow_steps,
    step_was_cached,
    summarise_runs,
)

T = TypeVar("T")


def build_variant(project: Project, variant: Variant, tag: str, base_image: str, *, no_cache: bool) -> Build:
    """Build the variant's Dockerfile on the project, with its target and build arguments."""
    return commands.docker_build(
        project.path,
        project.dockerfiles[variant.name],
        tag,
        base_image,
        build_args=variant.build_args,
        target=variant.target,
        no_cache=no_cache,
    )


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
        return build_variant(project, variant, tag, base_image, no_cache=no_cache), tag

    commands.empty_cache_mounts()
    cold, tag = build("cold", no_cache=True)
    figures["cold_empty"] = cold.seconds
    figures["cold_steps"] = slow_steps(cold, 0.3)
    if variant.every_figure:
        # Not --no-cache: with it, this engine's BuildKit gives every RUN empty cache mounts. No image may
        # hold a layer this build could reuse, so every earlier one goes first.
        commands.remove_images(tags)
        tags.clear()
        commands.empty_layer_cache()
        warm, tag = build("warm", no_cache=False)
        figures["cold_warm"] = warm.seconds

    figures["bytes_above_base"] = commands.image_size(tag) - base_size
    figures["installer_bytes"] = commands.installer_bytes(tag, variant.venv)
    name = f"bench-{variant.name}-{token}"
    figures["first_200"] = commands.first_200(tag, name, profile.first_200_path, project.run_env)[0]
    figures["container_start"] = commands.python_seconds(tag, variant.venv, "pass")[0]
    figures["app_import"] = commands.app_import_seconds(tag, variant.venv, project.package)
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


def bake_error(output: str) -> str:
    """The hook's own error line, else the last line of the bake's output."""
    lines = output.strip().splitlines() or ["(no output)"]
    return next((line for line in lines if line.startswith("error:")), lines[-1])


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


def rotated(items: Sequence[T], index: int) -> list[T]:
    """The items in a different order for each run index, so a neighbour's load slows each alike on average."""
    start = index % len(items)
    return [*items[start:], *items[:start]]


def measure_profile(
    profile: Profile, args, workdir: Path, base_image: str, base_size: int, tags: list[str]
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
    if any(variant.uv_lock for variant in chosen):
        project.uv = install_uv(workdir / "uv")
        lock_with_uv(project)
    runs: dict[str, list[dict]] = {variant.name: [] for variant in chosen}
    for index in range(args.runs):
        for variant in rotated(chosen, index):
            log(f"{profile.name} profile, run {index + 1}/{args.runs}: {variant.name}")
            runs[variant.name].append(measure_variant(project, profile, variant, base_image, base_size, tags))
    facts = {
        "description": profile.description,
        "dependencies": list(profile.dependencies),
        "locked_main_packages": len(locked_packages(project.lock)),
        "first_200_path": profile.first_200_path,
        "added_dependency": ADDED_DEPENDENCY,
        "targets": dataclasses.asdict(profile.targets),
        "peer_targets": dataclasses.asdict(profile.peer_targets),
        "uv_lock_checks": project.uv_lock_checks,
        "generated_declares_compile_bytecode": declares_bytecode_arg(texts["generated"]),
        "dockerfiles": {name: texts[name] for name in runs},
        "dockerfile_sha256": {name: hashlib.sha256(texts[name].encode()).hexdigest()[:16] for name in runs},
    }
    summaries = {name: summarise_runs(variant_runs) for name, variant_runs in runs.items()}
    steps = {name: median_steps(variant_runs) for name, variant_runs in runs.items()}
    return facts, summaries, runs, steps


def measure_database_option(
    args, workdir: Path, base_image: str, base_size: int, tags: list[str]
) -> tuple[dict[str, Project], dict]:
    """The generated Dockerfile's figures on the default fastapi project baked with each database answer; returns
    the projects (by answer) and the figures."""
    projects = {}
    for answer in DATABASE_CHOICES:
        project = bake_project(workdir / answer, args.python, base_image, None, database=answer)
        if answer == "postgresql":
            project.run_env = (f"DATABASE_URL={UNREACHABLE_DATABASE_URL}",)
        prepare_dependency_change(project)
        projects[answer] = project
    runs: dict[str, list[dict]] = {answer: [] for answer in DATABASE_CHOICES}
    for index in range(args.runs):
        for answer in rotated(DATABASE_CHOICES, index):
            log(f"options, run {index + 1}/{args.runs}: database={answer}")
            figures = measure_variant(
                projects[answer], PROFILES["demo"], VARIANT_BY_NAME["generated"], base_image, base_size, tags
            )
            runs[answer].append(figures)
    summary = {answer: summarise_runs(answer_runs) for answer, answer_runs in runs.items()}
    return projects, {"summary": summary, "runs": runs}


def measure_tracing_run(image: str, mode: str) -> dict[str, float]:
    """One container of the image with tracing off or on: its first 200, then a burst on each BURST_PATHS.

    Both modes run beside the same stand-in OTLP receiver; the app is then stopped (its shutdown exports the
    spans still pending) and the receiver's exports counted: none with tracing off, some with it on.
    """
    name = f"bench-tracing-{mode}-{uuid.uuid4().hex[:8]}"
    with commands.otlp_receiver(image, f"{name}-otlp") as receiver:
        with commands.serving(image, name, "/health", env=TRACING_ENV[mode], network_of=receiver) as served:
            figures = {"first_200": served.seconds}
            for path in BURST_PATHS:
                commands.burst(served.url + path, 1, 1)  # the route's first request, untimed
                latencies = commands.burst(served.url + path, BURST_REQUESTS, BURST_CONCURRENCY)
                summary = latency_summary(latencies)
                figures |= {burst_key(path, statistic): value for statistic, value in summary.items()}
            commands.stop_container(name)
        exports = commands.otlp_exports(receiver)
    if (exports > 0) != (mode == "on"):
        raise BenchError(f"tracing {mode}: the OTLP receiver got {exports} exports")
    log(f"tracing {mode}: first 200 {figures['first_200']:.2f} s, {exports} exports")
    return figures


def measure_observability(image: str, project: Project, base_size: int) -> dict:
    """The bytes observability's packages (OBSERVABILITY_PACKAGES and what only they need) occupy in the image,
    and the image's bytes above the base."""
    measured = commands.exclusive_bytes(image, project.distribution, OBSERVABILITY_PACKAGES)
    measured |= {"roots": list(OBSERVABILITY_PACKAGES), "bytes_above_base": commands.image_size(image) - base_size}
    log(
        f"observability: {measured['bytes'] / MB:.2f} MB in {len(measured['distributions'])} distributions, "
        f"of {measured['bytes_above_base'] / MB:.2f} MB above the base"
    )
    return measured


def measure_tracing_option(
    project: Project, args, base_image: str, base_size: int, tags: list[str]
) -> tuple[dict, dict]:
    """Tracing off and on in the same image (the generated Dockerfile on the default fastapi project), and the
    bytes observability occupies in it."""
    tag = f"bench-options:{uuid.uuid4().hex[:12]}-tracing"
    tags.append(tag)
    build_variant(project, VARIANT_BY_NAME["generated"], tag, base_image, no_cache=False)
    observability = measure_observability(tag, project, base_size)
    runs: dict[str, list[dict]] = {mode: [] for mode in TRACING_ENV}
    for index in range(args.runs):
        for mode in rotated(tuple(TRACING_ENV), index):
            runs[mode].append(measure_tracing_run(tag, mode))
    tracing = {"summary": {mode: median_figures(mode_runs) for mode, mode_runs in runs.items()}, "runs": runs}
    return tracing, observability


def measure_options(args, workdir: Path, base_image: str, base_size: int, tags: list[str]) -> dict:
    """What the options add to the default fastapi project: database=postgresql, tracing turned on, and the
    bytes of observability's packages."""
    workdir.mkdir(parents=True)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "python": args.python,
        "base_image": base_image,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load_average": load_average(),
    }
    projects, database = measure_database_option(args, workdir, base_image, base_size, tags)
    tracing, observability = measure_tracing_option(projects[DATABASE_CHOICES[0]], args, base_image, base_size, tags)
    meta["load_average_at_end"] = load_average()
    burst = {"requests": BURST_REQUESTS, "concurrency": BURST_CONCURRENCY, "paths": list(BURST_PATHS)}
    return {"meta": meta, "burst": burst, "database": database, "tracing": tracing, "observability": observability}
