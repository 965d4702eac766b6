"""The benchmark's arithmetic: build logs read, medians, ratios, and the targets met or not."""

from __future__ import annotations

import math
import re
import statistics

from .config import BASELINES, FIGURES, PEERS, SAME_BYTECODE_PAIRS, Build, PeerTargets, Target, Targets


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


def slow_steps(build: Build, at_least: float) -> dict[str, float]:
    """The build's steps that took at_least seconds, with their seconds."""
    return {title: seconds for title, seconds in build.steps.items() if seconds >= at_least}


def median(values: list[float]) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def median_steps(runs: list[dict]) -> dict[str, float]:
    """Median seconds of each cold-build step seen in the runs (a step missing from a run counts as absent)."""
    titles = {title for run in runs for title in run.get("cold_steps", {})}
    medians = {
        title: median([run["cold_steps"][title] for run in runs if title in run["cold_steps"]]) for title in titles
    }
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


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


def median_figures(runs: list[dict]) -> dict[str, float | None]:
    """The median of each figure over runs that all measured the same figures (the options part's)."""
    return {key: median([run[key] for run in runs]) for key in runs[0]}


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """A burst's median and 95th percentile (nearest rank: the value 95% of the requests did not exceed)."""
    if not seconds:
        raise ValueError("a burst of no requests has no latency")
    ordered = sorted(seconds)
    return {"median": statistics.median(ordered), "p95": ordered[math.ceil(0.95 * len(ordered)) - 1]}


def burst_key(path: str, statistic: str) -> str:
    """The figure key of a burst's statistic on a path, as the options part records it."""
    return f"GET {path} {statistic}"


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


def best_peer(summaries: dict[str, dict], key: str) -> tuple[str, float] | None:
    """The peer with the lowest figure in this run, and that figure (None when no peer measured it)."""
    measured = [(summaries[peer][key], peer) for peer in PEERS if summaries.get(peer, {}).get(key) is not None]
    if not measured:
        return None
    value, peer = min(measured)
    return peer, value


def peer_limits(targets: PeerTargets) -> dict[str, float]:
    """Each figure of the issue's table and its target: a ratio to the best peer, or seconds for a code change."""
    return {
        "cold_empty": targets.cold_empty,
        "cold_warm": targets.cold_warm,
        "code_change": targets.code_change_seconds,
        "dependency_change": targets.dependency_change,
        "first_200": targets.first_200,
        "bytes_above_base": targets.bytes_above_base,
    }


def evaluate_peer_targets(summaries: dict[str, dict], targets: PeerTargets) -> dict[str, Target]:
    """Issue 22's targets for the generated image, each figure against the best peer of the run (none measured:
    no targets). The code change is in seconds, with the dependency layer CACHED."""
    if not any(peer in summaries for peer in PEERS):
        return {}
    ours = summaries["generated"]
    results = {}
    for key, limit in peer_limits(targets).items():
        if key == "code_change":
            met = ours[key] is not None and ours[key] <= limit and ours["deps_cached"] == "yes"
            results[key] = Target(f"<= {limit} s, dependency layer CACHED", met, f"{ours[key]:.2f} s")
            continue
        best = best_peer(summaries, key)
        value = None if best is None else ratio(ours[key], best[1])
        detail = "no peer measured it" if value is None else f"{value:.2f}x {best[0]}"
        results[key] = Target(f"<= {limit:.2f}x", value is not None and value <= limit, detail)
    return results
