"""Every generated project records its template: `.copier-answers.yml`, the same from cookiecutter and copier.

The record names the template's source (a URL without credentials, or this machine's folder, said so), its
release or commit (`git describe`, as copier records it) and every answer, so `copier update` works at once.
Real cookiecutter, copier and git; no Poetry or Docker work (the update path: tests/test_update.py).
"""

import shutil
import sys
from pathlib import Path

from template_harness import (
    FAST_ANSWERS,
    bake,
    commit_all,
    copier,
    git,
    hook_summary,
    next_release_tag,
    read_answers_file,
    run_checked,
    tool_environment,
)

CREDENTIAL_URL = "https://ci-bot:s3cret-token@git.example.com/org/poetry-service-template.git"
CLEAN_URL = "https://git.example.com/org/poetry-service-template.git"


def files_of(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def committed_project(project: Path) -> Path:
    """The project as a team keeps it: a git repository with everything committed."""
    if not (project / ".git").exists():
        git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Generated from the template")
    return project


def changed_paths(repository: Path) -> set[str]:
    status = run_checked(["git", "status", "--porcelain", "--untracked-files=all"], repository).stdout
    return {line[3:] for line in status.splitlines()}


def copier_copy(template: str, destination: Path, env: dict | None = None, **answers: str):
    data = [f"--data={key}={value}" for key, value in {**FAST_ANSWERS, **answers}.items()]
    return copier(
        "copy", "--trust", "--defaults", *data, template, str(destination), cwd=destination.parent, **(env or {})
    )


def test_a_new_project_records_its_template_release_and_answers(template_clone, tmp_path):
    result = bake(tmp_path, template=template_clone, app_type="cli")

    assert result.returncode == 0, result.output
    record = read_answers_file(result.project)
    assert record["_commit"] == next_release_tag()
    assert record["_src_path"] == str(template_clone)
    assert record["app_type"] == "cli"
    (row,) = [row for row in hook_summary(result.stdout) if row["name"] == "template record"]
    assert row["result"] == "ok"


def test_cookiecutter_and_copier_copy_make_the_same_project_from_a_git_clone(template_clone, tmp_path):
    by_cookiecutter = bake(tmp_path / "cookiecutter", template=template_clone, app_type="cli", license="Apache-2.0")
    (tmp_path / "copier").mkdir()
    by_copier = copier_copy(
        str(template_clone), tmp_path / "copier" / "my-service", app_type="cli", license="Apache-2.0"
    )

    assert by_cookiecutter.returncode == 0, by_cookiecutter.output
    assert by_copier.returncode == 0, by_copier.stderr
    assert files_of(tmp_path / "copier" / "my-service") == files_of(by_cookiecutter.project)


def test_a_template_url_with_credentials_is_recorded_and_shown_without_them(template_clone, tmp_path):
    # git fetches that URL from the local clone (as it would through a credential helper from the server).
    redirect = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{template_clone}.insteadOf"}
    redirect["GIT_CONFIG_VALUE_0"] = CREDENTIAL_URL
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")
    environment = tool_environment(COOKIECUTTER_CONFIG=str(config), **redirect)

    by_cookiecutter = bake(tmp_path / "cookiecutter", template=CREDENTIAL_URL, env=environment)
    (tmp_path / "copier").mkdir()
    by_copier = copier_copy(CREDENTIAL_URL, tmp_path / "copier" / "my-service", env=redirect)

    assert by_cookiecutter.returncode == 0, by_cookiecutter.output
    assert by_copier.returncode == 0, by_copier.stderr
    for project, output in (
        (by_cookiecutter.project, by_cookiecutter.output),
        (tmp_path / "copier" / "my-service", by_copier.stdout + by_copier.stderr),
    ):
        record = read_answers_file(project)
        assert record["_src_path"] == CLEAN_URL
        assert "s3cret-token" not in output
        assert not [path for path, content in files_of(project).items() if b"s3cret-token" in content]
    assert "records it without them" in by_cookiecutter.stderr


def test_a_template_from_a_git_url_is_recorded_by_its_url(template_clone, tmp_path):
    url = f"git+{template_clone.as_uri()}"
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")

    result = bake(tmp_path, template=url, env=tool_environment(COOKIECUTTER_CONFIG=str(config)))

    assert result.returncode == 0, result.output
    record = read_answers_file(result.project)
    assert record["_src_path"] == url
    assert record["_commit"] == next_release_tag()
    assert "only this machine has" not in result.output


def test_a_relative_template_path_is_recorded_absolute_with_a_note_on_sharing(own_template_clone, tmp_path):
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

    assert read_answers_file(tmp_path / "out" / "my-service")["_src_path"] == str(own_template_clone)
    assert "only this machine has" in completed.stderr


def test_a_clone_of_a_shared_template_records_its_origin_url(own_template_clone, tmp_path):
    git(own_template_clone, "remote", "set-url", "origin", CLEAN_URL)

    result = bake(tmp_path, template=own_template_clone)

    assert result.returncode == 0, result.output
    assert read_answers_file(result.project)["_src_path"] == CLEAN_URL


def test_uncommitted_template_changes_are_pointed_out(own_template_clone, tmp_path):
    readme = own_template_clone / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nNot committed yet.\n", encoding="utf-8")

    result = bake(tmp_path, template=own_template_clone)

    assert result.returncode == 0, result.output
    assert "has uncommitted changes" in result.stderr


def test_a_checkout_that_cookiecutter_ignores_in_a_local_folder_is_pointed_out(template_clone, tmp_path):
    answers = [f"{key}={value}" for key, value in FAST_ANSWERS.items()]
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(template_clone), "--checkout", "v0.1.0"]

    completed = run_checked([*command, "--output-dir", str(tmp_path), *answers], tmp_path)

    assert "not --checkout v0.1.0" in completed.stderr
    assert read_answers_file(tmp_path / "my-service")["_commit"] == next_release_tag()


def test_a_template_without_git_is_generated_with_a_record_but_no_commit(template_clone, tmp_path):
    copy = tmp_path / "template-copy"
    shutil.copytree(template_clone, copy, ignore=shutil.ignore_patterns(".git"))

    result = bake(tmp_path / "out", template=copy)

    assert result.returncode == 0, result.output
    assert "_commit" not in read_answers_file(result.project)
    (row,) = [row for row in hook_summary(result.stdout) if row["name"] == "template record"]
    assert row["result"] == "skipped"
    assert "not a git repository" in row["note"]


def test_regenerating_over_a_project_keeps_its_record(template_clone, tmp_path):
    project = bake(tmp_path, template=template_clone).project
    record = project / ".copier-answers.yml"
    record.write_text("# the team's own record\n", encoding="utf-8")

    result = bake(tmp_path, template=template_clone, overwrite=True)

    assert result.returncode == 0, result.output
    assert record.read_text(encoding="utf-8") == "# the team's own record\n"


def test_generated_gitignore_keeps_machine_state_out_of_git(template_clone, tmp_path):
    """copier update refuses a dirty tree: what install and checks write must be ignored."""
    project = committed_project(bake(tmp_path, template=template_clone).project)
    for folder in (".venv/bin", ".pytest_cache", ".mypy_cache", ".ruff_cache", "src/my_service/__pycache__"):
        (project / folder).mkdir(parents=True, exist_ok=True)
        (project / folder / "state").write_text("machine state\n")

    assert changed_paths(project) == set()
