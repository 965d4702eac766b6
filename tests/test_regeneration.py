"""Generating into an existing project (-f, and -f -s): every file the user has stays as it was, byte for byte.

The project holds the user's own version of each conditional file (those the hook prunes for the options
not chosen) and of each of the template's other files, and files of the user's alone.
"""

import os
from pathlib import Path

import pytest

from template_harness import bake, load_hook, tool_environment

pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

CONDITIONAL_FILES = sorted({pattern for paths in post_gen.UNSELECTED_PATHS.values() for pattern in paths})
USERS_OWN_FILES = ["notes.txt", ".env", ".github/CODEOWNERS", "src/{package_name}/extra.py", "tests/test_extra.py"]
# Template files the user's project lacks: the generation adds them.
MISSING_TEMPLATE_FILES = ["src/{package_name}/py.typed", "tests/template/test_main.py"]
# Between them, every conditional file is one of an option not chosen.
OPTIONS = [
    {"app_type": "cli", "ci_provider": "gitlab", "license": "Proprietary"},
    {"app_type": "fastapi", "ci_provider": "none", "license": "MIT"},
]
MODES = {"f": {"overwrite": True}, "f-s": {"overwrite": True, "skip_existing": True}}
PACKAGE = "my_service"


def files_of(project: Path) -> dict[str, tuple[bytes, int]]:
    """Each file's bytes and permission bits, by path relative to the project."""
    return {
        path.relative_to(project).as_posix(): (path.read_bytes(), path.stat().st_mode & 0o7777)
        for path in project.rglob("*")
        if path.is_file()
    }


def write_users_project(project: Path, template_files: list[str]) -> dict[str, tuple[bytes, int]]:
    """The user's project: their own bytes (not UTF-8 text either) at every path, some executable."""
    names = {name.format(package_name=PACKAGE) for name in (*template_files, *CONDITIONAL_FILES, *USERS_OWN_FILES)}
    names -= {name.format(package_name=PACKAGE) for name in MISSING_TEMPLATE_FILES}
    for index, name in enumerate(sorted(names)):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"the user's own {name}\r\n".encode() + b"\xff\x00\xfe")
        path.chmod(0o750 if index % 2 else 0o600)
    return files_of(project)


@pytest.fixture(params=OPTIONS, ids=lambda options: "-".join(options.values()))
def users_project(request, baked_project, tmp_path):
    """(options, the user's project at tmp_path/my-service, its files before regenerating)."""
    template_files = sorted(files_of(baked_project(request.param)))
    project = tmp_path / "my-service"
    return request.param, project, write_users_project(project, template_files)


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES)
def test_regenerating_over_a_project_keeps_every_byte_of_the_users_files(users_project, mode):
    options, project, before = users_project

    result = bake(project.parent, **mode, **options)

    assert result.returncode == 0, result.output
    after = files_of(project)
    assert {name: after.get(name) for name in before} == before
    added = set(after) - set(before)
    assert added == {name.format(package_name=PACKAGE) for name in MISSING_TEMPLATE_FILES}
    assert not (project / pre_gen.BACKUP_FOLDER).exists()


def test_a_failing_hook_after_f_loses_nothing(users_project, poetry):
    options, project, before = users_project
    without_poetry = os.pathsep.join(
        entry for entry in os.environ["PATH"].split(os.pathsep) if entry != os.path.dirname(poetry)
    )

    result = bake(
        project.parent, overwrite=True, lock_dependencies="yes", env=tool_environment(PATH=without_poetry), **options
    )

    assert result.returncode != 0
    assert "Poetry was not found on PATH" in result.stderr
    after = files_of(project)
    assert {name: after.get(name) for name in before} == before
    assert not (project / pre_gen.BACKUP_FOLDER).exists()


def test_the_users_lock_is_not_relocked(tmp_path):
    project = tmp_path / "my-service"
    project.mkdir()
    (project / "poetry.lock").write_bytes(b"# the user's lock\n")

    result = bake(tmp_path, overwrite=True, lock_dependencies="yes", validate_build="none")

    assert result.returncode == 0, result.output
    assert (project / "poetry.lock").read_bytes() == b"# the user's lock\n"
    assert "poetry.lock was here before: kept as it is" in result.stdout


def test_a_backup_left_by_an_interrupted_generation_stops_the_next_one(tmp_path):
    project = tmp_path / "my-service"
    kept = project / pre_gen.BACKUP_FOLDER / "files" / "README.md"
    kept.parent.mkdir(parents=True)
    kept.write_text("the user's README from before\n", encoding="utf-8")
    (project / "README.md").write_text("what the interrupted generation wrote\n", encoding="utf-8")
    before = files_of(project)

    result = bake(tmp_path, overwrite=True)

    assert result.returncode != 0
    assert f"error: {pre_gen.BACKUP_FOLDER}/ is here" in result.stderr
    assert "Copy back what you need, delete the folder" in result.stderr
    assert files_of(project) == before


def test_both_hooks_name_the_same_backup_folder():
    assert pre_gen.BACKUP_FOLDER == post_gen.BACKUP_FOLDER


def test_prune_leaves_a_path_that_was_there_before(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (".gitlab-ci.yml", ".github/workflows/ci.yml", ".github/dependabot.yml"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("x")
    answers = {"app_type": "fastapi", "ci_provider": "none", "license": "MIT", "package_name": "pkg"}

    post_gen.prune_unselected_files(answers, frozenset({".github/workflows/ci.yml", ".github/workflows", ".github"}))

    remaining = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file())
    assert remaining == [".github/workflows/ci.yml"]


def test_prune_keeps_a_folder_that_was_there_before_even_when_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(".github/workflows").mkdir(parents=True)
    Path(".github/workflows/ci.yml").write_text("written by this generation")
    answers = {"app_type": "fastapi", "ci_provider": "gitlab", "license": "MIT", "package_name": "pkg"}

    post_gen.prune_unselected_files(answers, frozenset({".github"}))

    assert Path(".github").is_dir()
    assert not Path(".github/workflows").exists()
