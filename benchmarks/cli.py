"""`python -m benchmarks` (poe bench): the options, and the run as a story: measure, report, save."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import template_harness

from . import __doc__ as PACKAGE_DOC
from . import commands, measure, report
from .config import (
    ALL_PROFILES,
    BENCHMARK_DOC,
    DEFAULT_JSON,
    DEFAULT_PYTHON,
    DEFAULT_RUNS,
    NO_PROFILE,
    PROFILES,
    RECORDED_RUN,
    VARIANTS,
    BenchError,
    Profile,
)


def chosen_profiles(name: str) -> list[Profile]:
    if name == NO_PROFILE:
        return []
    return list(PROFILES.values()) if name == ALL_PROFILES else [PROFILES[name]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=PACKAGE_DOC.split("\n\n")[0],
        epilog="Details: docs/benchmark.md.",
    )
    parser.add_argument(
        "--profile",
        choices=[*PROFILES, ALL_PROFILES, NO_PROFILE],
        default="demo",
        help="the project to measure: demo (the default project), realistic (grown into a service), all, "
        "or none (with --options)",
    )
    parser.add_argument(
        "--options",
        action="store_true",
        help="also measure what the options add to the default fastapi project: database=postgresql (builds, "
        "bytes, first 200) and tracing on (first 200, latency of a burst of GETs), and the bytes of "
        "observability's packages in its image",
    )
    parser.add_argument(
        "--python", default=DEFAULT_PYTHON, help=f"Python version of the app (default {DEFAULT_PYTHON})"
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"runs per figure (default {DEFAULT_RUNS})")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results (and --docs reads)")
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
        "the targets need recipe and recipe-bytecode, the issue's table uv-multistage and s3rius)",
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help=f"measure nothing: record the saved run (--json) in {RECORDED_RUN.relative_to(RECORDED_RUN.parents[1])} "
        "and rewrite the generated block of docs/benchmark.md from it",
    )
    parser.add_argument(
        "--options-json",
        type=Path,
        help="with --docs: record the options part of this saved run too (one run of --profile none --options "
        "--no-validation)",
    )
    args = parser.parse_args(argv)
    if "generated" not in args.variants or not set(args.variants) <= set(names):
        parser.error(f"--variants takes generated and any of {', '.join(names[1:])}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.profile == NO_PROFILE and not args.options:
        parser.error("--profile none measures nothing without --options")
    if args.options_json and not args.docs:
        parser.error("--options-json goes with --docs")
    return args


def run_meta(args: argparse.Namespace, base_image: str, base_size: int) -> dict:
    """The facts of the run that a reader needs to weigh its figures (the machine's load among them)."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "app_type": "fastapi",
        "python": args.python,
        "base_image": base_image,
        "base_image_bytes": base_size,
        "poetry": template_harness.POETRY_VERSION,
        "uv": commands.UV_VERSION,
        "package_index_url": template_harness.PACKAGE_INDEX_URL,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load_average": commands.load_average(),
        "generated_dockerfile_override": str(args.generated_dockerfile or ""),
        "template_revision": commands.template_revision(),
    }


def benchmark(args: argparse.Namespace) -> dict:
    """Measure each chosen profile (then the options and the validation levels), always removing the images and
    folders made."""
    run_id = uuid.uuid4().hex[:8]
    base_image = template_harness.official_or_standin_image("docker", args.python)
    base_size = commands.image_size(base_image)
    meta = run_meta(args, base_image, base_size)
    workdir = Path(tempfile.mkdtemp(prefix="bench-docker-build-"))
    tags: list[str] = []
    try:
        sections = {}
        for profile in chosen_profiles(args.profile):
            measured = measure.measure_profile(profile, args, workdir / profile.name, base_image, base_size, tags)
            sections[profile.name] = report.profile_section(profile, meta, *measured)
        options = None
        if args.options:
            measured_options = measure.measure_options(args, workdir / "options", base_image, base_size, tags)
            options = report.options_section(measured_options)
        validation = None
        if not args.no_validation:
            meta["validation_python"] = args.validation_python
            meta["validation_base_image"] = template_harness.official_or_standin_image("docker", args.validation_python)
            meta["validation_runs"] = args.runs
            validation = measure.time_validation_levels(
                args.validation_python, meta["validation_base_image"], args.runs, run_id
            )
        meta["load_average_at_end"] = commands.load_average()
        return report.build_report(meta, sections, validation, options)
    finally:
        if args.keep:
            commands.log(f"kept {workdir} and {len(tags)} images tagged bench-*: {', '.join(tags)}")
        else:
            commands.remove_images(tags)
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.docs:
        report.write_docs(args.json, RECORDED_RUN, BENCHMARK_DOC, args.options_json)
        recorded = f"{args.json}" + (f" (and the options of {args.options_json})" if args.options_json else "")
        print(f"recorded {recorded} in {RECORDED_RUN} and rewrote the benchmark block of {BENCHMARK_DOC}")
        return 0
    if template_harness.docker_cli() is None:
        print("error: no Docker engine answers `docker info`", file=sys.stderr)
        return 2
    results = benchmark(args)
    print(results["table_text"])
    report.print_breakdown(results["profiles"])
    print("\nMarkdown (python -m benchmarks --docs puts it into docs/benchmark.md):\n")
    print(results["table_markdown"])
    report.write_json(args.json, results)
    print(f"\nwrote {args.json}")
    if args.fail_on_targets and not report.all_targets_met(results):
        return 1
    return 0


def entry_point() -> int:
    try:
        return main()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
