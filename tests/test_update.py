"""A team's project takes the template's later changes: `poe update-template`, real cruft, git and Poetry.

The template changes are committed to a clone of the template (its whole history, plus the working tree
being tested); the project is a git repository as a team keeps it.
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from template_harness import (
    FAST_ANSWERS,
    HOST_PYTHON,
    PACKAGE_INDEX_URL,
    TEMPLATE_DIR,
    bake,
    commit_all,
    cruft,
    git,
    run_checked,
    tool_environment,
)

pytestmark = pytest.mark.slow

PROJECT_TEMPLATE = "{{cookiecutter.project_slug}}"
LOCKED_ANSWERS = {
    "python_version": HOST_PYTHON,
    "package_index_url": PACKAGE_INDEX_URL,
    "lock_dependencies": "yes",
    "init_git": "yes",
}
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)
USER_MODULE = (
    '"""Greetings, the team\'s own module."""\n\n\ndef greeting(name: str) -> str:\n    return f"Hello, {name}!"\n'
)
USER_PARAGRAPH = "\nOur runbook lives in the team wiki.\n"
# Each release: "## 0.1.0 (date)", then "Tag `v0.1.0`, commit `<40 hex digits>`."
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) \(.*?\)\n\nTag `(v[\d.]+)`, commit `([0-9a-f]{40})`", re.MULTILINE)


def cruft_state(project: Path) -> dict:
    return json.loads((project / ".cruft.json").read_text(encoding="utf-8"))


def edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer holds {old!r}: update this test's edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def leftovers(project: Path) -> list[str]:
    """Files an update left half-merged: .rej files and files with conflict markers."""
    found = []
    for path in project.rglob("*"):
        relative = path.relative_to(project)
        if not path.is_file() or relative.parts[0] in (".git", ".venv") or "cache" in relative.parts[0]:
            continue
        if path.suffix == ".rej" or CONFLICT_MARKER.search(path.read_text(encoding="utf-8", errors="replace")):
            found.append(str(relative))
    return found


def without_docker(tmp_path: Path) -> dict:
    """This environment with every command on PATH but docker: an update that tried to build would fail."""
    tools = tmp_path / "every-tool-but-docker"
    tools.mkdir()
    for folder in reversed(tool_environment()["PATH"].split(":")):
        for command in Path(folder).glob("*") if Path(folder).is_dir() else []:
            if command.name != "docker" and command.is_file():
                (tools / command.name).unlink(missing_ok=True)
                (tools / command.name).symlink_to(command)
    assert shutil.which("docker", path=str(tools)) is None
    return tool_environment(PATH=str(tools))


def update_template(project: Path, poetry: str) -> tuple[subprocess.CompletedProcess, float]:
    """The documented update without docker on PATH, timed; the caller checks its exit code."""
    environment = without_docker(project.parent)
    started = time.monotonic()
    completed = run_unchecked([poetry, "run", "poe", "update-template"], project, env=environment)
    seconds = time.monotonic() - started
    print(f"poe update-template: {seconds:.1f} s (cruft update, relock, install, poe check)")
    return completed, seconds


def run_unchecked(command, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or tool_environment())


@pytest.fixture(scope="module")
def generated_project(template_clone, tmp_path_factory, poetry) -> Path:
    """A locked default project, committed, installed and checked: .venv, tool caches and .git are real."""
    result = bake(tmp_path_factory.mktemp("generated"), template=template_clone, **LOCKED_ANSWERS)
    assert result.returncode == 0, result.output
    commit_all(result.project, "Generated from the template")
    run_checked([poetry, "install"], result.project)
    run_checked([poetry, "run", "poe", "check"], result.project)
    return result.project


@pytest.fixture
def teams_project(generated_project, own_template_clone, tmp_path, poetry) -> Path:
    """A fresh clone of the generated project, linked to this test's template clone, set up as the
    README says (poetry install)."""
    project = tmp_path / "project"
    git(tmp_path, "clone", "--quiet", str(generated_project), str(project))
    state = cruft_state(project)
    state["template"] = str(own_template_clone)
    (project / ".cruft.json").write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    commit_all(project, "Point .cruft.json at the template's shared location")
    run_checked([poetry, "install"], project)
    return project


def test_a_project_in_use_is_up_to_date_and_without_drift(generated_project):
    for state in (".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "poetry.lock"):
        assert (generated_project / state).exists(), state

    checked = cruft("check", cwd=generated_project)
    diffed = cruft("diff", "--exit-code", cwd=generated_project)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert diffed.returncode == 0, diffed.stdout + diffed.stderr
    assert git(generated_project, "status", "--porcelain") == ""


def test_update_merges_the_template_changes_and_keeps_the_teams_edits(teams_project, own_template_clone, poetry):
    run_checked([poetry, "add", "--lock", "structlog>=24"], teams_project)
    (teams_project / "src" / "my_service" / "greetings.py").write_text(USER_MODULE, encoding="utf-8")
    readme = teams_project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + USER_PARAGRAPH, encoding="utf-8")
    commit_all(teams_project, "The team's own changes")
    template = own_template_clone / PROJECT_TEMPLATE
    dockerfile = template / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text(encoding="utf-8") + "# A line the template added.\n", encoding="utf-8")
    (template / "CONTRIBUTING.md").write_text("# Contributing\n\nA file the template added.\n", encoding="utf-8")
    edit(template / "pyproject.toml", 'pytest = ">=8.3"', 'pytest = ">=8.4"')
    new_commit = commit_all(own_template_clone, "Template: a Dockerfile line, a new file, a dependency bump")
    run_checked([poetry, "install", "--with", "template"], teams_project)
    behind = run_unchecked([poetry, "run", "poe", "template-check"], teams_project)

    completed, seconds = update_template(teams_project, poetry)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (teams_project / "Dockerfile").read_text(encoding="utf-8").endswith("# A line the template added.\n")
    assert (teams_project / "CONTRIBUTING.md").is_file()
    pyproject = (teams_project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'pytest = ">=8.4"' in pyproject
    assert '"structlog (>=24)"' in pyproject
    assert 'name = "structlog"' in (teams_project / "poetry.lock").read_text(encoding="utf-8")
    assert readme.read_text(encoding="utf-8").endswith(USER_PARAGRAPH)
    assert (teams_project / "src" / "my_service" / "greetings.py").read_text(encoding="utf-8") == USER_MODULE
    assert leftovers(teams_project) == []
    run_checked([poetry, "check", "--lock"], teams_project, env=tool_environment(POETRY_VIRTUALENVS_CREATE="false"))
    assert cruft_state(teams_project)["commit"] == new_commit
    assert behind.returncode != 0
    assert "Apply it with: poetry run poe update-template" in behind.stderr
    assert run_unchecked([poetry, "run", "poe", "template-check"], teams_project).returncode == 0
    # Both renders (old and new template) only shaped files: the hook said so, and printed no step table.
    assert completed.stderr.count("rendering for cruft") == 2
    assert not re.search(r"^step\s+result", completed.stdout, re.MULTILINE)
    assert seconds < 300


def test_a_conflict_stops_the_update_loudly_until_resolved(teams_project, own_template_clone, poetry):
    readme = teams_project / "README.md"
    edit(readme, "# My Service\n", "# My Service, run by the payments team\n")
    commit_all(teams_project, "The team's title")
    edit(
        own_template_clone / PROJECT_TEMPLATE / "README.md",
        "# {{ c.project_name | markdown_text }}\n",
        "# {{ c.project_name | markdown_text }}: a Python service\n",
    )
    commit_all(own_template_clone, "Template: a new title line")

    completed, _ = update_template(teams_project, poetry)

    assert completed.returncode != 0
    assert "error: the template update left conflicts in these files:\n    README.md\n" in completed.stderr
    assert leftovers(teams_project) == ["README.md"]
    text = readme.read_text(encoding="utf-8")
    assert "# My Service, run by the payments team\n" in text
    assert "# My Service: a Python service\n" in text

    # Resolved as the README says: keep a side, delete the markers, finish.
    resolved = re.sub(r"<<<<<<< .*?\n(.*?)=======\n.*?>>>>>>> .*?\n", r"\1", text, flags=re.DOTALL)
    readme.write_text(resolved, encoding="utf-8")
    finished = run_unchecked([poetry, "run", "poe", "finish-template-update"], teams_project)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert readme.read_text(encoding="utf-8").startswith("# My Service, run by the payments team\n")
    assert leftovers(teams_project) == []


def last_release() -> tuple[str, str, str]:
    """(version, tag, commit) of the newest release CHANGELOG.md records."""
    releases = RELEASE.findall((TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert releases, "CHANGELOG.md records no release as '## x.y.z (date)' + 'Tag `vx.y.z`, commit `<sha>`.'"
    return releases[0]


def test_update_from_the_last_release_to_head(template_clone, tmp_path, poetry):
    """CHANGELOG's migration note, followed to the letter, from the last release to this commit."""
    version, tag, release_commit = last_release()
    if run_unchecked(["git", "cat-file", "-e", f"{release_commit}^{{commit}}"], template_clone).returncode != 0:
        pytest.fail(
            f"release {version} ({tag}, commit {release_commit}) is not in this clone's history: "
            "clone the template with its full history (actions/checkout: fetch-depth: 0)"
        )
    released = tmp_path / "released-template"
    git(tmp_path, "clone", "--quiet", str(template_clone), str(released))
    git(released, "checkout", "--quiet", release_commit)
    answers = {**FAST_ANSWERS, "python_version": HOST_PYTHON, "package_index_url": PACKAGE_INDEX_URL}
    result = bake(tmp_path / "generated", template=released, **answers)
    assert result.returncode == 0, result.output
    project = result.project
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, f"Generated from the template {version}")

    linked = cruft(
        "link",
        str(template_clone),
        "--checkout",
        release_commit,
        "--no-input",
        "--extra-context",
        json.dumps(answers),
        cwd=project,
    )
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert cruft_state(project)["commit"] == release_commit
    commit_all(project, "Link to the template")
    updated = cruft("update", "--skip-apply-ask", cwd=project, SERVICE_TEMPLATE_RENDER="update")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert leftovers(project) == []
    finished = run_unchecked(
        ["bash", "-c", f"{poetry} lock && {poetry} install && {poetry} run poe finish-template-update"], project
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    state = cruft_state(project)
    assert state["commit"] == git(template_clone, "rev-parse", "HEAD")
    assert state["context"]["cookiecutter"]["poetry_version"] == "2.5.1"
    assert "ARG POETRY_VERSION=2.5.1\n" in (project / "Dockerfile").read_text(encoding="utf-8")
    assert "update-template" in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert (project / ".github" / "workflows" / "template-update.yml").is_file()
