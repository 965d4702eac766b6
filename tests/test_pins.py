"""Per-project pins are answers: validated at creation, rendered where they belong, kept by updates."""

import json

import pytest

from template_harness import bake, commit_all, cruft, git, load_hook

pre_gen = load_hook("pre_gen_project")


@pytest.mark.parametrize("value", ["1.8.5", "2.5", "latest", "2.5.1 "])
def test_a_poetry_version_that_is_no_poetry_2_release_is_refused(baked, value):
    result = baked(poetry_version=value)

    assert result.returncode != 0
    assert f"error: poetry_version {value!r} is not a Poetry 2 release: use the form '2.5.1'." in result.stderr
    assert list(result.output_dir.iterdir()) == []


def test_the_answered_poetry_version_is_the_images(baked):
    dockerfile = (baked(poetry_version="2.4.1").project / "Dockerfile").read_text(encoding="utf-8")

    assert "ARG POETRY_VERSION=2.4.1\n" in dockerfile


def test_an_update_keeps_the_projects_poetry_pin_when_the_template_moves_its_default(own_template_clone, tmp_path):
    project = bake(tmp_path, template=own_template_clone, init_git="yes", poetry_version="2.4.1").project
    commit_all(project, "Generated with Poetry 2.4.1")
    questions_file = own_template_clone / "cookiecutter.json"
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    questions["poetry_version"] = "2.9.0"
    questions_file.write_text(json.dumps(questions, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (own_template_clone / "{{cookiecutter.project_slug}}" / "CONTRIBUTING.md").write_text("# Contributing\n")
    new_commit = commit_all(own_template_clone, "Template: Poetry 2.9.0 by default, a new file")

    updated = cruft("update", "--skip-apply-ask", cwd=project, SERVICE_TEMPLATE_RENDER="update")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == new_commit
    assert state["context"]["cookiecutter"]["poetry_version"] == "2.4.1"
    assert "ARG POETRY_VERSION=2.4.1\n" in (project / "Dockerfile").read_text(encoding="utf-8")
    assert (project / "CONTRIBUTING.md").is_file()
    assert git(project, "status", "--porcelain", "--", "Dockerfile") == ""
