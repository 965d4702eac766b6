"""A project made before copier moves to it with one command (docs/updates.md), then updates with copier.

From a project made by the last release CHANGELOG.md names (0.1.0: no record of its template, and a hook that
runs git init inside a render), and from one made by the last commit before copier (with .cruft.json). Real
cookiecutter, copier, git and Poetry; the move script installs its pinned tools once a session.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from template_harness import (
    FAST_ANSWERS,
    GIT_IDENTITY,
    HOST_PYTHON,
    bake,
    clone_template,
    commit_all,
    git,
    next_release_tag,
    read_answers_file,
    releases,
    run_checked,
    run_unchecked,
    tool_environment,
)

pytestmark = pytest.mark.slow

MOVE_SCRIPT = Path("scripts", "move-to-copier.py")
USER_PARAGRAPH = "\nOur runbook lives in the team wiki.\n"
USER_MODULE = '"""Greetings, the team\'s own module."""\n'


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A clone of the template with its releases tagged (the working tree as the next release)."""
    return clone_template(tmp_path_factory.mktemp("move") / "poetry-service-template")


@pytest.fixture(scope="module")
def tools_cache(tmp_path_factory) -> dict:
    """Where the move script keeps the virtual environment of its pinned tools (made once a module)."""
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}


def render_release(template: Path, commit: str, folder: Path, **answers: str) -> Path:
    """A project as an earlier release made it: cookiecutter on a checkout of that commit, then git."""
    checkout = folder / "released-template"
    git(folder, "clone", "--quiet", str(template), str(checkout))
    git(checkout, "checkout", "--quiet", commit)
    # An earlier release's hooks leave cookiecutter's rendered copies in the temporary folder: the test's own.
    renders = folder / "rendered-hooks"
    renders.mkdir()
    answers = {**FAST_ANSWERS, "python_version": HOST_PYTHON, **answers}
    result = bake(folder / "generated", template=checkout, env=tool_environment(TMPDIR=str(renders)), **answers)
    assert result.returncode == 0, result.output
    if not (result.project / ".git").exists():
        git(result.project, "init", "--quiet", "--initial-branch=main")
    commit_all(result.project, f"Generated from the template at {commit[:12]}")
    return result.project


def teams_edits(project: Path):
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + USER_PARAGRAPH, encoding="utf-8")
    (project / "src" / "my_service" / "greetings.py").write_text(USER_MODULE, encoding="utf-8")
    commit_all(project, "The team's own changes")


def move(project: Path, template: Path, cache: dict, *arguments: str) -> subprocess.CompletedProcess:
    """The documented command, in the project's folder, with the Python on PATH."""
    command = ["python3", str(template / MOVE_SCRIPT), *arguments]
    return run_unchecked(command, project, env=tool_environment(**GIT_IDENTITY, **cache))


def assert_moved(project: Path, poetry: str, target: str):
    record = read_answers_file(project)
    assert record["_commit"] == target
    assert record["docker_base_image"] == ""
    assert (project / "README.md").read_text(encoding="utf-8").endswith(USER_PARAGRAPH)
    assert (project / "src" / "my_service" / "greetings.py").read_text(encoding="utf-8") == USER_MODULE
    assert (project / "scripts" / "template-update.py").is_file()
    assert not (project / ".cruft.json").exists()
    run_checked([poetry, "check", "--lock"], project, env=tool_environment(POETRY_VIRTUALENVS_CREATE="false"))
    documented = 'git add --all && git commit --quiet -m "Move to copier"'
    run_checked(["bash", "-c", documented], project, env=tool_environment(**GIT_IDENTITY))


def assert_updates_with_copier_from_then_on(project: Path, template: Path, poetry: str, tmp_path: Path):
    """A later release reaches the moved project through poe update-template."""
    later = tmp_path / "later-template"
    git(tmp_path, "clone", "--quiet", str(template), str(later))
    (later / "{{cookiecutter.project_slug}}" / "CONTRIBUTING.md").write_text("# Contributing\n", encoding="utf-8")
    commit_all(later, "Template: CONTRIBUTING.md")
    git(later, "tag", "v9.0.0")
    answers = project / ".copier-answers.yml"
    answers.write_text(re.sub(r"^_src_path: .*$", f"_src_path: {later}", answers.read_text(), flags=re.M))
    commit_all(project, "The template's shared location")

    checked = run_unchecked([poetry, "run", "poe", "template-check"], project)
    updated = run_unchecked([poetry, "run", "poe", "update-template"], project)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / "CONTRIBUTING.md").is_file()
    assert read_answers_file(project)["_commit"] == "v9.0.0"


def test_the_last_release_moves_to_head_and_updates_with_copier_from_then_on(template, tools_cache, poetry, tmp_path):
    """CHANGELOG's last release, moved to this commit as docs/updates.md says (0.1.0 records no answers)."""
    _, tag, commit = releases()[0]
    project = render_release(template, commit, tmp_path)
    teams_edits(project)
    assert not (project / ".cruft.json").exists()

    moved = move(project, template, tools_cache, "--from", tag)

    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "answers read from the project's files" in moved.stdout
    assert_moved(project, poetry, next_release_tag())
    assert "ARG POETRY_VERSION=" in (project / "Dockerfile").read_text(encoding="utf-8")
    assert_updates_with_copier_from_then_on(project, template, poetry, tmp_path)


def last_commit_before_copier(template: Path) -> str:
    added = git(template, "log", "--format=%H", "--diff-filter=A", "--", "copier.yml").split()
    return git(template, "rev-parse", f"{added[-1]}^")


def test_a_project_with_cruft_json_moves_to_copier_without_its_credentials(template, tools_cache, poetry, tmp_path):
    project = render_release(template, last_commit_before_copier(template), tmp_path, init_git="yes")
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    # cruft recorded the URL the template was cloned from, credentials and all.
    state["template"] = "https://ci-bot:s3cret-token@git.example.com/org/poetry-service-template.git"
    assert state["context"]["cookiecutter"]["docker_base_image"] == f"python:{HOST_PYTHON}-slim-trixie"
    (project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    commit_all(project, "The template's shared location")
    teams_edits(project)

    moved = move(project, template, tools_cache)

    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "s3cret-token" not in moved.stdout + moved.stderr
    assert_moved(project, poetry, next_release_tag())
    assert read_answers_file(project)["_src_path"] == "https://git.example.com/org/poetry-service-template.git"
    assert "s3cret-token" not in (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert f"ARG PYTHON_IMAGE=python:{HOST_PYTHON}-slim-trixie\n" in (project / "Dockerfile").read_text()
