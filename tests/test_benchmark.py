"""The pure parts of benchmarks/docker_build.py: build-log parsing, medians, ratios, targets, tables."""

import importlib.util
import sys

import pytest
from conftest import TEMPLATE_DIR

spec = importlib.util.spec_from_file_location("docker_build", TEMPLATE_DIR / "benchmarks" / "docker_build.py")
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses look their module up there
spec.loader.exec_module(bench)

PLAIN_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#7 [poetry 2/2] RUN --mount=type=cache,target=/root/.cache/pip     python -m venv --without-pip /opt/poetry
#7 CACHED
#11 [dependencies 3/4] RUN --mount=type=cache,target=/root/.cache/pypoetry     poetry install --only main --no-root
#11 CACHED
#13 [runtime 5/5] COPY src/ src/
#13 DONE 0.1s
#14 exporting to image
#14 DONE 0.1s
"""


def figures(**overrides):
    """One variant's figures, the generated image's by default."""
    values = {
        "cold_empty": 8.0,
        "cold_warm": 6.0,
        "code_change": 0.12,
        "deps_cached": "yes",
        "dependency_change": 3.0,
        "bytes_above_base": 10_000_000,
        "installer_bytes": 0,
        "first_200": 0.7,
    }
    return {**values, **overrides}


def summaries(**generated):
    return {
        "generated": figures(**generated),
        "naive": figures(cold_empty=25.0, code_change=8.0, deps_cached="no", bytes_above_base=224_000_000),
        "recipe": figures(
            cold_empty=17.0,
            code_change=1.1,
            dependency_change=3.9,
            bytes_above_base=17_000_000,
            installer_bytes=6_200_000,
        ),
    }


def test_parse_build_log_reads_step_seconds_and_cached_steps():
    steps, cached = bench.parse_build_log(PLAIN_LOG)

    assert steps["[runtime 5/5] COPY src/ src/"] == 0.1
    # Runs of spaces in a step's command collapse to one, so titles can be matched by their text.
    assert (
        "[poetry 2/2] RUN --mount=type=cache,target=/root/.cache/pip python -m venv --without-pip /opt/poetry" in cached
    )
    assert len(cached) == 2
    assert "exporting to image" not in str(steps)


def test_step_was_cached_finds_the_dependency_step_by_its_text():
    build = bench.Build(0.3, PLAIN_LOG, *bench.parse_build_log(PLAIN_LOG))

    assert bench.step_was_cached(build, "poetry install --only main")
    assert not bench.step_was_cached(build, "COPY src/")
    assert not bench.step_was_cached(build, "a step that is not there")


def test_summarise_runs_takes_medians_and_counts_the_cached_runs():
    runs = [figures(cold_empty=9.0, deps_cached=True), figures(cold_empty=7.0, deps_cached=True), figures()]
    runs[2]["deps_cached"] = False

    summary = bench.summarise_runs(runs)

    assert summary["cold_empty"] == 8.0
    assert summary["deps_cached"] == "2/3"
    assert bench.summarise_runs([figures(deps_cached=True)] * 3)["deps_cached"] == "yes"
    assert bench.summarise_runs([figures(deps_cached=False)])["deps_cached"] == "no"
    assert bench.median([]) is None


def test_ratios_divide_ours_by_each_baseline_and_skip_zero():
    table = bench.ratios(summaries())

    assert table["recipe"]["cold_empty"] == pytest.approx(8.0 / 17.0)
    assert table["naive"]["code_change"] == pytest.approx(0.12 / 8.0)
    assert table["naive"]["installer_bytes"] is None  # the naive image's venv figure here is 0
    assert "deps_cached" not in table["recipe"]


def test_targets_all_met():
    targets = bench.evaluate_targets(summaries())

    assert [target.met for target in targets] == [True] * 5
    assert "8.0 s vs limit 10.2 s (0.47x" in targets[0].detail


@pytest.mark.parametrize(
    ("generated", "failing"),
    [
        ({"cold_empty": 11.0}, 0),  # above 0.6 x 17.0 = 10.2 s
        ({"code_change": 0.3}, 1),  # above 3 % of 8.0 s
        ({"deps_cached": "2/3"}, 1),
        ({"dependency_change": 4.0}, 2),  # slower than the recipe's 3.9 s
        ({"bytes_above_base": 10_800_001}, 3),  # above 17.0 MB - 6.2 MB
        ({"installer_bytes": 1}, 3),
        ({"first_200": 2.1}, 4),
    ],
)
def test_targets_not_met(generated, failing):
    targets = bench.evaluate_targets(summaries(**generated))

    assert [index for index, target in enumerate(targets) if not target.met] == [failing]


def test_bytes_target_names_the_difference():
    target = bench.evaluate_targets(summaries(bytes_above_base=10_804_311))[3]

    assert not target.met
    assert "difference +4,311 B" in target.detail


def test_text_and_markdown_tables():
    header, rows = bench.figures_rows(summaries(), bench.ratios(summaries()))
    text = bench.text_table(header, rows).splitlines()
    markdown = bench.markdown_table(header, rows).splitlines()

    assert header == ["figure", "generated", "naive", "recipe", "generated/naive", "generated/recipe"]
    assert len(text) == 2 + len(bench.FIGURES)
    assert len({len(line) for line in text[:2]}) == 1  # the header and the rule line up
    cold = next(line for line in text if line.startswith("cold build, cache mounts empty"))
    assert cold.split()[-5:] == ["8.00", "25.0", "17.0", "0.32x", "0.47x"]
    assert markdown[1] == "| --- | ---: | ---: | ---: | ---: | ---: |"
    assert "| image bytes above the base (MB) | 10.00 | 224.00 | 17.00 | 0.04x | 0.59x |" in markdown
    assert "| dependency layer CACHED on code change | yes | no | yes | - | - |" in markdown


def test_format_value():
    assert bench.format_value(None, "s") == "-"
    assert bench.format_value(0.123, "s") == "0.12"
    assert bench.format_value(17.66, "s") == "17.7"
    assert bench.format_value(6_214_548, "MB") == "6.21"
    assert bench.format_value("2/3", "bool") == "2/3"


def test_add_dependency_appends_to_the_project_dependencies():
    pyproject = '[project]\ndependencies = [\n    "fastapi>=0.115",\n    "uvicorn>=0.32",\n]\n\n[tool.x]\nlist = [\n]\n'

    changed = bench.add_dependency(pyproject, "tomli>=2.0")

    assert changed == pyproject.replace('"uvicorn>=0.32",\n', '"uvicorn>=0.32",\n    "tomli>=2.0",\n')
    with pytest.raises(bench.BenchError):
        bench.add_dependency("[project]\n", "tomli>=2.0")


def test_validation_rows():
    steps = [
        {"name": "poetry lock", "result": "ok", "seconds": 4.0},
        {"name": "poetry check --lock", "result": "ok", "seconds": 1.0},
        {"name": "docker build", "result": "ok", "seconds": 6.0},
        {"name": "poetry install", "result": "skipped", "seconds": 0.0},
        {"name": "git init", "result": "skipped", "seconds": 0.0},
    ]
    validation = {
        "none": {"seconds": 5.0, "steps": steps[:1]},
        "auto": {"seconds": 12.5, "steps": steps},
        "static": {"error": "error: poetry lock failed", "output": ""},
    }

    header, rows = bench.validation_rows(validation)

    assert rows[0] == ["none", "5.00", "-", "0", "0", "-"]
    assert rows[1] == ["auto", "12.5", "7.50", "2", "1", "docker build 6.0, poetry check --lock 1.0"]
    assert rows[2][:2] == ["static", "failed"]
    assert bench.bake_error("Traceback\nerror: poetry lock failed\n  more") == "error: poetry lock failed"
    markdown = bench.markdown_table(header, rows, bench.VALIDATION_TEXT_COLUMNS).splitlines()
    assert markdown[1] == "| --- | ---: | ---: | ---: | ---: | --- |"


def test_baselines_take_the_same_base_image_and_poetry():
    for variant in bench.VARIANTS:
        if variant.dockerfile:
            text = (bench.BASELINES_DIR / variant.dockerfile).read_text(encoding="utf-8")
            assert "ARG PYTHON_IMAGE\n" in text
            assert "FROM ${PYTHON_IMAGE}" in text
            assert "pip install poetry==${POETRY_VERSION}" in text
            assert '"-m", "__PACKAGE__"]' in text
            assert variant.dependency_step in text
