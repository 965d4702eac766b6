"""The report: tables as text and Markdown, the issue's comparison with the peers, targets met or not, and the
recorded run that docs/benchmark.md's generated block is rendered from."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from .config import (
    DATABASE_CHOICES,
    DATABASE_FIGURES,
    FIGURE_BY_KEY,
    FIGURES,
    MB,
    NOT_VALIDATION_STEPS,
    PEER_FIGURES,
    PROFILES,
    TRACING_ENV,
    UNREACHABLE_DATABASE_URL,
    VALIDATION_TEXT_COLUMNS,
    VARIANT_BY_NAME,
    VARIANTS,
    BenchError,
    Profile,
    Target,
)
from .stats import best_peer, evaluate_peer_targets, evaluate_targets, ratio, ratios

DOCS_BLOCK = "benchmark"
# What the table calls each variant.
PEER_TABLE_NAMES = {
    "generated": "generated",
    "uv-multistage": "uv multistage (astral)",
    "s3rius": "s3rius",
    "recipe": "recipe",
}
PEER_TABLE_LABELS = {
    "cold_empty": "cold build, cache mounts empty",
    "cold_warm": "cold build, cache mounts warm (CI restored)",
    "code_change": "code-change rebuild",
    "dependency_change": "dependency-change rebuild",
    "first_200": "`docker run` → first 200",
    "bytes_above_base": "bytes above base",
}


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
    baselines = list(ratio_table)
    header = ["figure", *variants, *(f"generated/{baseline}" for baseline in baselines)]
    rows = []
    for figure in FIGURES:
        unit = "" if figure.unit == "bool" else f" ({figure.unit})"
        row = [figure.label + unit]
        row += [format_value(summaries[variant][figure.key], figure.unit) for variant in variants]
        row += [format_ratio(ratio_table[baseline].get(figure.key)) for baseline in baselines]
        rows.append(row)
    return header, rows


def peer_rows(summaries: dict[str, dict], targets: dict[str, Target]) -> tuple[list[str], list[list[str]]]:
    """The issue's table: each figure for ours, the peers and the recipe, the ratio to the best peer, the target."""
    columns = [name for name in PEER_TABLE_NAMES if name in summaries]
    header = ["figure", *(PEER_TABLE_NAMES[name] for name in columns), "generated / best peer", "target", "met"]
    rows = []
    for key in PEER_FIGURES:
        unit = FIGURE_BY_KEY[key].unit
        cells = [format_value(summaries[name][key], unit) + (" s" if unit == "s" else " MB") for name in columns]
        cells = [cell if not cell.startswith("-") else "-" for cell in cells]
        best = best_peer(summaries, key)
        rows.append(
            [
                PEER_TABLE_LABELS[key],
                *cells,
                format_ratio(None if best is None else ratio(summaries["generated"][key], best[1])),
                targets[key].name,
                "met" if targets[key].met else "NOT met",
            ]
        )
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


def run_title(profile: Profile, meta: dict, facts: dict) -> str:
    title = (
        f"Docker build benchmark, {profile.name} profile: {profile.description}; "
        f"{facts['locked_main_packages']} locked main packages, first 200 = GET {profile.first_200_path}. "
        f"Base {meta['base_image']} (Python {meta['python']}), Poetry {meta['poetry']}, "
        f"medians of {meta['runs']} runs, {meta['date']}"
    )
    if meta.get("load_average"):
        title += f", load average {meta['load_average']} at the start on {meta['cpus']} cores"
    if meta.get("load_average_at_end"):
        title += f" and {meta['load_average_at_end']} at the end"
    title += (
        ". 'Cache mounts empty' = docker build --no-cache after pruning the BuildKit cache mounts; 'warm' "
        "rebuilds right after, with the layer cache pruned instead (--no-cache would empty the mounts too)."
    )
    if meta.get("generated_dockerfile_override"):
        title += f" 'generated' is {meta['generated_dockerfile_override']}."
    return title


def bytecode_note(summaries: dict[str, dict]) -> str:
    compiled = [name for name in summaries if VARIANT_BY_NAME[name].bytecode]
    plain = [name for name in summaries if not VARIANT_BY_NAME[name].bytecode]
    note = f"Bytecode compiled at build time: {', '.join(compiled) or 'none'}"
    return note + (f"; not compiled: {', '.join(plain)}." if plain else ".")


def profile_section(profile: Profile, meta: dict, facts: dict, summaries: dict, runs: dict, steps: dict) -> dict:
    """One profile's tables, ratios and targets, as text, Markdown and data."""
    ratio_table = ratios(summaries)
    targets = evaluate_targets(summaries, profile.targets) if "recipe" in summaries else []
    peer_targets = evaluate_peer_targets(summaries, profile.peer_targets)
    header, rows = figures_rows(summaries, ratio_table)
    title = run_title(profile, meta, facts)
    text, markdown = [title, ""], [title, ""]
    if peer_targets:
        peer_header, peer_body = peer_rows(summaries, peer_targets)
        intro = "Against the uv-era peers (issue 22's targets; ratios to the best peer of this run):"
        text += [intro, "", text_table(peer_header, peer_body), ""]
        markdown += [intro, "", markdown_table(peer_header, peer_body), ""]
    text += ["All figures:", "", text_table(header, rows), "", bytecode_note(summaries), "", *targets_lines(targets)]
    markdown += [
        "All figures:",
        "",
        markdown_table(header, rows),
        "",
        bytecode_note(summaries),
        "",
        *(f"- {line}" for line in targets_lines(targets)),
    ]
    return {
        **facts,
        "summary": summaries,
        "ratios": ratio_table,
        "targets": [dataclasses.asdict(target) for target in targets],
        "peer_targets_met": {key: dataclasses.asdict(target) for key, target in peer_targets.items()},
        "cold_build_steps": steps,
        "runs": runs,
        "table_text": "\n".join(text).rstrip("\n"),
        "table_markdown": "\n".join(markdown).rstrip("\n"),
    }


# --- the options part -----------------------------------------------------------------------------------------


def signed(value: float | None, unit: str) -> str:
    """A difference, with its sign."""
    if value is None:
        return "-"
    return ("+" if value >= 0 else "-") + format_value(abs(value), unit)


def option_row(label: str, without: float | None, with_: float | None, unit: str) -> list[str]:
    """A figure without and with an option, what the option adds, and the ratio."""
    added = None if without is None or with_ is None else with_ - without
    return [
        label,
        format_value(without, unit),
        format_value(with_, unit),
        signed(added, unit),
        format_ratio(ratio(with_, without)),
    ]


def database_rows(summary: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """The generated Dockerfile's figures with database=none and database=postgresql."""
    none, postgresql = DATABASE_CHOICES
    header = ["figure", f"database={none}", f"database={postgresql}", "added", f"{postgresql}/{none}"]
    rows = []
    for key in DATABASE_FIGURES:
        figure = FIGURE_BY_KEY[key]
        rows.append(
            option_row(f"{figure.label} ({figure.unit})", summary[none][key], summary[postgresql][key], figure.unit)
        )
    return header, rows


def tracing_rows(summary: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """The first 200 and each burst's latencies with tracing off and on (the latencies in milliseconds)."""
    off, on = TRACING_ENV
    header = ["figure", f"tracing {off}", f"tracing {on}", "added", f"{on}/{off}"]
    rows = [option_row("docker run to first 200 (s)", summary[off]["first_200"], summary[on]["first_200"], "s")]
    for key in summary[off]:
        if key != "first_200":
            rows.append(option_row(f"{key} (ms)", summary[off][key] * 1000, summary[on][key] * 1000, "s"))
    return header, rows


def observability_rows(observability: dict) -> tuple[str, list[str], list[list[str]]]:
    """What observability's packages occupy in the tracing image, against its bytes above the base."""
    roots = observability["roots"]
    only = [name for name in observability["distributions"] if name not in roots]
    intro = (
        f"Observability in the tracing image (database={DATABASE_CHOICES[0]}): its packages, {', '.join(roots)}, "
        f"and the {len(only)} distributions only they require ({', '.join(only)}), measured inside the image by its "
        f"own Python from the installed metadata: the files each one's RECORD lists, and the bytecode the build "
        f"compiled from them (not in RECORD)."
    )
    above_base = observability["bytes_above_base"]
    header = ["figure", "MB", "share of the bytes above the base"]
    rows = [
        [f"observability's packages ({len(observability['distributions'])} distributions)", observability["bytes"]],
        ["of which bytecode compiled in the build", observability["compiled"]],
        ["image bytes above the base", above_base],
    ]
    return (
        intro,
        header,
        [[label, format_value(value, "MB"), f"{100 * value / above_base:.1f} %"] for label, value in rows],
    )


def options_title(options: dict) -> str:
    meta, burst = options["meta"], options["burst"]
    return (
        f"What the options add, on the default fastapi project built by its generated Dockerfile (Python "
        f"{meta['python']}, base {meta['base_image']}), medians of {meta['runs']} runs, {meta['date']}, load "
        f"average {meta['load_average']} at the start on {meta['cpus']} cores and {meta['load_average_at_end']} "
        f"at the end. database=postgresql: the first 200 is GET /health with DATABASE_URL at an address "
        f"nothing listens on ({UNREACHABLE_DATABASE_URL}: the app starts without connecting). Tracing: one "
        f"image, run beside a stand-in OTLP receiver, without or with OTEL_EXPORTER_OTLP_ENDPOINT pointing at "
        f"it; each burst is {burst['requests']} GETs, {burst['concurrency']} at a time, after one untimed "
        f"request, timed by the client on 127.0.0.1; /health is answered outside the traced app, "
        f"{burst['paths'][-1]} is traced."
    )


def options_section(options: dict) -> dict:
    """The options' tables, as text and Markdown, with their data (measured or recorded)."""
    title = options_title(options)
    tables = [database_rows(options["database"]["summary"]), tracing_rows(options["tracing"]["summary"])]
    text = [title, *(text_table(header, rows) for header, rows in tables)]
    markdown = [title, *(markdown_table(header, rows) for header, rows in tables)]
    # A run recorded before the benchmark measured observability's bytes has no such part.
    if options.get("observability"):
        intro, header, rows = observability_rows(options["observability"])
        text += [intro, text_table(header, rows)]
        markdown += [intro, markdown_table(header, rows)]
    return {**options, "table_text": "\n\n".join(text), "table_markdown": "\n\n".join(markdown)}


def build_report(meta: dict, sections: dict[str, dict], validation: dict | None, options: dict | None = None) -> dict:
    """The run's report: each profile's section, then the options' (when measured), then the validation levels."""
    parts = [*sections.values(), *([options] if options else [])]
    text = [part["table_text"] for part in parts]
    markdown = [part["table_markdown"] for part in parts]
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
        "options": options,
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


# --- the recorded run and the docs ----------------------------------------------------------------------------

RECORDED_FACTS = ("description", "locked_main_packages", "first_200_path", "uv_lock_checks", "summary")


def recorded_run(report: dict) -> dict:
    """What docs/benchmark.md shows of a saved run: its facts and medians (no per-run data, no Dockerfiles)."""
    validation = report.get("validation") or None
    if validation:
        validation = {level: {k: v for k, v in result.items() if k != "output"} for level, result in validation.items()}
    options = report.get("options")
    if options:
        options = {
            "meta": options["meta"],
            "burst": options["burst"],
            **{part: {"summary": options[part]["summary"]} for part in ("database", "tracing")},
            **({"observability": options["observability"]} if options.get("observability") else {}),
        }
    return {
        "meta": report["meta"],
        "profiles": {
            name: {key: section.get(key) for key in RECORDED_FACTS} for name, section in report["profiles"].items()
        },
        "options": options,
        "validation": validation,
    }


def with_options_of(recorded: dict, options_run: dict) -> dict:
    """The recorded run with the options part of another saved run (an options-only run: --profile none)."""
    if options_run["profiles"] or options_run.get("validation") or not options_run.get("options"):
        raise BenchError("the options run must have the options part only (--profile none --options --no-validation)")
    if recorded.get("options"):
        raise BenchError("the saved run measured the options already")
    return {**recorded, "options": options_run["options"]}


def recorded_markdown(recorded: dict) -> str:
    """The Markdown the benchmark prints for the recorded run, recomputed from its medians by today's code
    (targets included): the text of docs/benchmark.md's generated block."""
    meta = recorded["meta"]
    sections = {}
    for name, facts in recorded["profiles"].items():
        if name not in PROFILES:
            raise BenchError(f"the recorded run has a profile {name!r} the benchmark no longer has")
        sections[name] = profile_section(PROFILES[name], meta, facts, facts["summary"], {}, {})
    options = recorded.get("options")
    return (
        build_report(meta, sections, recorded.get("validation"), options and options_section(options))["table_markdown"]
        + "\n"
    )


def load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"no saved run at {path}: run `poe bench` first (it writes it)") from None


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def with_block(document: str, name: str, body: str) -> str:
    """The document with the generated block NAME's body replaced (the block must be there once)."""
    pattern = re.compile(rf"(<!-- BEGIN generated: {name} -->\n).*?(<!-- END generated: {name} -->)", re.DOTALL)
    new, count = pattern.subn(lambda match: match[1] + body + match[2], document)
    if count != 1:
        raise BenchError(f"expected one generated block '{name}', found {count}")
    return new


def write_docs(saved_run: Path, recorded_path: Path, document: Path, options_run: Path | None = None) -> None:
    """Record the saved run (docs/benchmark-run.json), with the options part of options_run when given, and
    rewrite docs/benchmark.md's block from the record."""
    recorded = recorded_run(load_json(saved_run))
    if options_run:
        recorded = with_options_of(recorded, recorded_run(load_json(options_run)))
    write_json(recorded_path, recorded)
    text = document.read_text(encoding="utf-8")
    document.write_text(with_block(text, DOCS_BLOCK, recorded_markdown(recorded)), encoding="utf-8")
