"""Supply chain of the CI files: actions pinned by commit SHA, Poetry installed by hash.

A tag can be moved to other code; a commit SHA cannot. The version stays in a comment after the SHA
(`uses: actions/checkout@<40 hex> # v7.0.1`), the form OpenSSF Scorecard accepts and Dependabot updates,
SHA and comment together. CI installs Poetry from poetry-requirements.txt with pip's --require-hashes.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from template_harness import (
    CI_OPTIONS,
    GITHUB_OPTIONS,
    GITHUB_WORKFLOW,
    GITLAB_CI,
    POETRY_VERSION,
    TEMPLATE_DIR,
    TEMPLATE_WORKFLOW,
    gitlab_poetry_version_lines,
    load_yaml,
    matrix_id,
    run_bash,
    run_checked,
)

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<reference>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+\.\d+\.\d+$")


def unpinned_actions(workflow: Path) -> list[str]:
    """The `uses:` lines of a workflow that are not `owner/repo@<40 hex> # vX.Y.Z`."""
    lines = workflow.read_text(encoding="utf-8").splitlines()
    uses = [match for match in map(USES.match, lines) if match]
    assert uses, f"{workflow} uses no action: the check would pass vacuously"
    return [
        match[0].strip()
        for match in uses
        if not (PINNED.match(match["reference"]) and VERSION_COMMENT.match(match["comment"]))
    ]


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_generated_workflows_pin_every_action_by_commit_sha(baked_project, options):
    workflows = sorted((baked_project(options) / GITHUB_WORKFLOW.parent).glob("*.yml"))

    assert len(workflows) >= 2
    assert {workflow.name: unpinned_actions(workflow) for workflow in workflows} == {
        workflow.name: [] for workflow in workflows
    }


def test_template_workflow_pins_every_action_by_commit_sha():
    assert unpinned_actions(TEMPLATE_WORKFLOW) == []


def test_a_tag_or_a_short_sha_is_caught(tmp_path):
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "jobs:\n  a:\n    steps:\n"
        "      - uses: actions/checkout@v7\n"
        "      - uses: actions/checkout@3d3c42e # v7.0.1\n"
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n"
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n",
        encoding="utf-8",
    )
    assert len(unpinned_actions(workflow)) == 3


def test_dependabot_updates_the_template_workflows_actions():
    """The template's own pins stay current the same way as a generated project's."""
    dependabot = TEMPLATE_DIR / ".github" / "dependabot.yml"
    assert dependabot.is_file(), "the template repository needs a Dependabot file for its own actions"
    assert "package-ecosystem: github-actions" in dependabot.read_text(encoding="utf-8")


REQUIREMENTS = Path("poetry-requirements.txt")
REQUIREMENT = re.compile(r"^(?P<name>[\w.-]+)==(?P<version>\S+)(?: ; [^\\]+)? \\$")


def requirements_with_hashes(text: str) -> dict[str, int]:
    """name==version -> how many --hash lines follow it, for every requirement in the file."""
    found: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if match := REQUIREMENT.match(line):
            current = f"{match['name']}=={match['version']}"
            found[current] = 0
        else:
            assert current, f"a hash before any requirement: {line}"
            assert re.match(r"^    --hash=sha256:[0-9a-f]{64}( \\)?$", line), line
            found[current] += 1
    return found


def test_generated_projects_install_the_pinned_poetry_by_hash(baked_project):
    """Every package pinned with ==, each with its hashes, and Poetry itself is the version the template pins."""
    project = baked_project({"app_type": "cli", "ci_provider": "github"})
    found = requirements_with_hashes((project / REQUIREMENTS).read_text(encoding="utf-8"))

    assert f"poetry=={POETRY_VERSION}" in found, "run `poetry run poe lock-poetry` after changing poetry_version"
    assert len(found) > 10
    assert all(count > 0 for count in found.values())


def test_this_repositorys_ci_installs_poetry_by_hash():
    """.ci/run and the template's workflow install Poetry from the hashed requirements generated CI uses, after
    checking the file is for cookiecutter.json's Poetry."""
    ci_run = (TEMPLATE_DIR / ".ci" / "run").read_text(encoding="utf-8")
    workflow = TEMPLATE_WORKFLOW.read_text(encoding="utf-8")
    shipped = f"{{{{cookiecutter.project_slug}}}}/{REQUIREMENTS}"

    assert f"poetry_requirements='{shipped}'" in ci_run
    assert 'grep -q "^poetry==$poetry_version " "$poetry_requirements"' in ci_run
    assert '/opt/poetry/bin/pip install --quiet --require-hashes -r "$poetry_requirements"' in ci_run
    assert f'requirements="{shipped}"' in workflow
    assert '"$RUNNER_TEMP/poetry/bin/pip" install --quiet --require-hashes -r "$requirements"' in workflow
    assert [line.strip() for line in (ci_run + workflow).splitlines() if re.search(r'pip"? install', line)] == [
        '/opt/poetry/bin/pip install --quiet --require-hashes -r "$poetry_requirements"',
        '"$RUNNER_TEMP/poetry/bin/pip" install --quiet --require-hashes -r "$requirements"',
    ]


@pytest.mark.parametrize("options", CI_OPTIONS, ids=matrix_id)
def test_ci_refuses_requirements_for_another_poetry(baked_project, options, tmp_path):
    """A Dockerfile bumped without `poe lock-poetry` fails CI before anything is installed."""
    project = baked_project(options)
    (tmp_path / "Dockerfile").write_text("FROM python:3.13-slim\nARG POETRY_VERSION=9.9.9\n", encoding="utf-8")
    (tmp_path / REQUIREMENTS).write_bytes((project / REQUIREMENTS).read_bytes())
    if options["ci_provider"] == "github":
        workflow = load_yaml(project / GITHUB_WORKFLOW)
        install = next(step for step in workflow["jobs"]["check"]["steps"] if step.get("name") == "Install Poetry")
        guard = install["run"].split("python -m venv")[0]
        completed = run_bash(guard, tmp_path, POETRY_VERSION="9.9.9")
    else:
        script = load_yaml(project / GITLAB_CI)["check"]["script"]
        completed = run_bash("\n".join(gitlab_poetry_version_lines(script)), tmp_path)

    assert completed.returncode != 0
    assert "poe lock-poetry" in completed.stdout + completed.stderr


@pytest.mark.slow
def test_the_hashed_requirements_install_poetry_and_a_wrong_hash_is_refused(baked_project, tmp_path):
    project = baked_project({"app_type": "cli", "ci_provider": "gitlab"})
    requirements = (project / REQUIREMENTS).read_text(encoding="utf-8")
    venv = tmp_path / "poetry"
    run_checked([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--require-hashes", "-r"]

    tampered = tmp_path / "tampered.txt"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, requirements), encoding="utf-8")
    refused = subprocess.run([*pip, str(tampered)], cwd=tmp_path, capture_output=True, text=True, check=False)
    run_checked([*pip, str(project / REQUIREMENTS)], cwd=tmp_path)
    version = run_checked([str(venv / "bin" / "poetry"), "--version"], cwd=tmp_path)

    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr
    assert version.stdout.strip() == f"Poetry (version {POETRY_VERSION})"
