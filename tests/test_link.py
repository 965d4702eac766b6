"""Every generated project is linked to its template, and a re-render for cruft only shapes files.

Real cookiecutter, real cruft 2.16, real git; no Poetry or Docker work (the slow tier: test_update.py).
"""

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from template_harness import (
    FAST_ANSWERS,
    bake,
    commit_all,
    cruft,
    cruft_create,
    git,
    hook_summary,
    load_hook,
    run_checked,
    tool_environment,
)

# Generation-time answers as a project made with the defaults records them: a re-render replaying any of
# them would lock, install, build and run an image, and run git init.
GENERATION_ANSWERS = {"lock_dependencies": "yes", "validate_build": "full", "init_git": "yes"}


def cruft_state(project: Path) -> dict:
    return json.loads((project / ".cruft.json").read_text(encoding="utf-8"))


def files_of(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def assert_up_to_date_and_unchanged(project: Path):
    checked = cruft("check", cwd=project)
    diffed = cruft("diff", "--exit-code", cwd=project)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert diffed.returncode == 0, diffed.stdout + diffed.stderr
    assert diffed.stdout == ""


def committed_project(project: Path) -> Path:
    """The project as a team keeps it: a git repository with everything committed."""
    if not (project / ".git").exists():
        git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Generated from the template")
    return project


def changed_paths(repository: Path) -> set[str]:
    status = run_checked(["git", "status", "--porcelain", "--untracked-files=all"], repository).stdout
    return {line[3:] for line in status.splitlines()}


def without_tools(tmp_path: Path, *keep: str) -> str:
    """A PATH with only these commands (links to the real ones): no Poetry, no Docker."""
    folder = tmp_path / "only-these-tools"
    folder.mkdir()
    for name in keep:
        (folder / name).symlink_to(shutil.which(name))
    return str(folder)


@pytest.mark.parametrize("tool", ["cookiecutter", "cruft create"])
def test_a_new_project_is_linked_up_to_date_and_without_drift(template_clone, tmp_path, tool):
    if tool == "cookiecutter":
        result = bake(tmp_path, template=template_clone, init_git="yes")
        assert result.returncode == 0, result.output
        project = result.project
    else:
        project = cruft_create(template_clone, tmp_path)
    state = cruft_state(project)
    committed_project(project)
    clone = tmp_path / "fresh-clone"
    git(tmp_path, "clone", "--quiet", str(project), str(clone))

    assert state["template"] == str(template_clone)
    assert state["commit"] == git(template_clone, "rev-parse", "HEAD")
    assert state["context"]["cookiecutter"]["_commit"] == state["commit"]
    assert_up_to_date_and_unchanged(project)
    assert_up_to_date_and_unchanged(clone)


def test_cookiecutter_records_what_cruft_create_records(template_clone, tmp_path):
    by_cookiecutter = bake(tmp_path / "cookiecutter", template=template_clone, app_type="cli", license="Apache-2.0")
    by_cruft = cruft_create(template_clone, tmp_path / "cruft", app_type="cli", license="Apache-2.0")

    assert by_cookiecutter.returncode == 0, by_cookiecutter.output
    assert files_of(by_cookiecutter.project) == files_of(by_cruft)
    recorded = cruft_state(by_cruft)["context"]["cookiecutter"]
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(recorded)
    assert recorded["poetry_version"] == "2.5.1"


def test_a_template_from_a_git_url_is_recorded_by_its_url(template_clone, tmp_path):
    url = template_clone.as_uri()
    # cookiecutter clones a URL it knows for git: git+file://, https://..., gh:org/name.
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")

    result = bake(tmp_path, template=f"git+{url}", env=tool_environment(COOKIECUTTER_CONFIG=str(config)))

    assert result.returncode == 0, result.output
    state = cruft_state(result.project)
    assert state["template"] == url
    assert state["commit"] == git(template_clone, "rev-parse", "HEAD")
    assert "only this machine has" not in result.output
    assert_up_to_date_and_unchanged(committed_project(result.project))


def test_a_relative_template_path_is_recorded_absolute_with_a_note_on_sharing(own_template_clone, tmp_path):
    git(own_template_clone, "remote", "set-url", "origin", "https://git.example.com/org/poetry-service-template.git")
    answers = " ".join(f"{key}={value}" for key, value in FAST_ANSWERS.items())

    # From a shell, which keeps PWD: the folder a relative template path is relative to.
    completed = run_checked(
        [
            "bash",
            "-c",
            f'cd .. && "$0" -m cookiecutter --no-input ./template --output-dir "$1" {answers}',
            sys.executable,
            str(tmp_path / "out"),
        ],
        own_template_clone,
    )

    assert cruft_state(tmp_path / "out" / "my-service")["template"] == str(own_template_clone)
    assert "only this machine has" in completed.stderr
    assert "this clone's origin is https://git.example.com/org/poetry-service-template.git" in completed.stderr


def test_uncommitted_template_changes_are_pointed_out(own_template_clone, tmp_path):
    readme = own_template_clone / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nNot committed yet.\n", encoding="utf-8")

    result = bake(tmp_path, template=own_template_clone)

    assert result.returncode == 0, result.output
    assert "has uncommitted changes" in result.stderr
    assert "cruft diff" in result.stderr


def test_a_template_without_git_is_generated_but_not_linked(template_clone, tmp_path):
    copy = tmp_path / "template-copy"
    shutil.copytree(template_clone, copy, ignore=shutil.ignore_patterns(".git"))

    result = bake(tmp_path / "out", template=copy)

    assert result.returncode == 0, result.output
    assert not (result.project / ".cruft.json").exists()
    (link,) = [row for row in hook_summary(result.stdout) if row["name"] == "cruft link"]
    assert link["result"] == "skipped"
    assert "not a git repository" in link["note"]


def test_regenerating_over_a_project_keeps_its_cruft_file(template_clone, tmp_path):
    project = bake(tmp_path, template=template_clone).project
    cruft_file = project / ".cruft.json"
    cruft_file.write_text('{"the team\'s": "own record"}\n', encoding="utf-8")

    result = bake(tmp_path, template=template_clone, overwrite=True)

    assert result.returncode == 0, result.output
    assert cruft_file.read_text(encoding="utf-8") == '{"the team\'s": "own record"}\n'


def test_cruft_renders_never_run_the_generation_steps(own_template_clone, tmp_path):
    """A project created with the defaults, then bare cruft diff and cruft update with neither Poetry nor
    Docker on PATH: validate_build=full would fail at once if a render ran any generation step."""
    project = bake(tmp_path, template=own_template_clone, init_git="yes").project
    state = cruft_state(project)
    state["context"]["cookiecutter"].update(GENERATION_ANSWERS)
    (project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    committed_project(project)
    new_file = own_template_clone / "{{cookiecutter.project_slug}}" / "CONTRIBUTING.md"
    new_file.write_text("# Contributing\n", encoding="utf-8")
    new_commit = commit_all(own_template_clone, "A new file in the template")
    path = without_tools(tmp_path, "git")

    started = time.monotonic()
    diffed = cruft("diff", cwd=project, PATH=path)
    updated = cruft("update", "--skip-apply-ask", cwd=project, PATH=path)
    seconds = time.monotonic() - started

    print(f"cruft diff and cruft update without Poetry or Docker: {seconds:.1f} s")
    assert diffed.returncode == 0, diffed.stdout + diffed.stderr
    # The one rendered line lock_dependencies=yes changes ("poetry lock" in the set-up), and nothing a
    # generation step would have made (.venv, poetry.lock, .git).
    assert re.findall(r"^diff --git \S+/(\S+) ", diffed.stdout, re.MULTILINE) == ["README.md"]
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "Good work!" in updated.stdout
    assert "rendering for cruft" in updated.stderr
    assert "step" not in updated.stdout.split("Good work!")[0].split()
    assert (project / "CONTRIBUTING.md").read_text(encoding="utf-8") == "# Contributing\n"
    assert cruft_state(project)["commit"] == new_commit
    assert changed_paths(project) == {".cruft.json", "CONTRIBUTING.md"}
    assert not (project / "poetry.lock").exists()
    assert seconds < 30


def test_an_explicit_create_signal_runs_the_generation_steps_under_cruft(template_clone, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_TEMPLATE_RENDER", "create")

    project = cruft_create(template_clone, tmp_path, init_git="yes")

    assert (project / ".git").is_dir()
    assert cruft_state(project)["commit"] == git(template_clone, "rev-parse", "HEAD")


def test_an_unknown_render_signal_is_refused_and_nothing_is_left(template_clone, tmp_path):
    result = bake(tmp_path, template=template_clone, env=tool_environment(SERVICE_TEMPLATE_RENDER="later"))

    assert result.returncode != 0
    assert "SERVICE_TEMPLATE_RENDER='later' is neither 'create' nor 'update'" in result.stderr
    assert not result.project.exists()


@pytest.mark.parametrize(
    ("environ", "context_keys", "mode"),
    [
        ({}, {"_output_dir": "/x", "_repo_dir": "/t"}, "create"),
        ({}, {"_template": "/t", "_commit": "abc"}, "update"),
        ({"SERVICE_TEMPLATE_RENDER": "update"}, {"_output_dir": "/x"}, "update"),
        ({"SERVICE_TEMPLATE_RENDER": "create"}, {"_template": "/t"}, "create"),
    ],
    ids=["cookiecutter", "cruft", "update-signal", "create-signal"],
)
def test_render_mode(environ, context_keys, mode):
    post_gen = load_hook("post_gen_project")

    assert post_gen.render_mode(context_keys, environ) == mode


def test_generated_gitignore_keeps_machine_state_out_of_git(template_clone, tmp_path):
    """cruft update refuses a dirty tree: what install and checks write must be ignored."""
    project = committed_project(bake(tmp_path, template=template_clone).project)
    for folder in (".venv/bin", ".pytest_cache", ".mypy_cache", ".ruff_cache", "src/my_service/__pycache__"):
        (project / folder).mkdir(parents=True, exist_ok=True)
        (project / folder / "state").write_text("machine state\n")

    assert changed_paths(project) == set()
