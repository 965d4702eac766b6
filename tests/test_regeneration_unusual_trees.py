"""Generating with -f into an unusual tree: a file where the template has a folder, a folder where it has a file,
links (dangling, out of the project, as a parent folder), hard links, and a generation that fails half-way.

Either the generation goes through, writing nothing through a link and keeping each of the user's entries as it
was, or it is refused by name before anything changes; on any failure every user byte and mode comes back, and
no backup folder is left to block the next run. Never a traceback.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from template_harness import FAST_ANSWERS, bake, commit_all, load_hook

pre_gen = load_hook("pre_gen_project")
PROJECT = "my-service"
REFUSED = "Nothing was generated and no file of yours was changed."


def tree_of(folder: Path) -> dict[str, tuple]:
    """Each entry under folder, links not followed: a link's target, a file's bytes and mode, a folder's mode."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            key = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[key] = ("folder", path.stat().st_mode & 0o7777)
            else:
                entries[key] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return entries


@pytest.fixture
def users_project(tmp_path) -> Path:
    """A project of the user's with a few files of their own at the template's paths."""
    project = tmp_path / "out" / PROJECT
    (project / "src" / "my_service").mkdir(parents=True)
    (project / "README.md").write_bytes(b"the user's README\r\n\xff")
    (project / "src" / "my_service" / "app.py").write_text("# the user's app\n", encoding="utf-8")
    (project / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    (project / "Dockerfile").chmod(0o444)
    return project


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder out of the project, with a file in it, that no generation may write to."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "kept.txt").write_text("outside the project\n", encoding="utf-8")
    return folder


def generate(project: Path, **answers: str):
    return bake(project.parent, overwrite=True, **answers)


def assert_refused_and_unchanged(result, project: Path, before: dict, *fragments: str) -> None:
    assert result.returncode != 0
    for fragment in fragments:
        assert fragment in result.stderr, result.output
    assert REFUSED in result.stderr
    assert "Traceback" not in result.output
    assert tree_of(project) == before


@pytest.mark.parametrize("path", ["tests", "scripts", ".github", "src/my_service"])
def test_a_file_where_the_template_has_a_folder_is_refused_by_name(users_project, path):
    if (users_project / path).is_dir():
        shutil.rmtree(users_project / path)
    (users_project / path).write_text("a file of the user's\n", encoding="utf-8")
    before = tree_of(users_project)

    result = generate(users_project)

    assert_refused_and_unchanged(result, users_project, before, f"error: {path} is a file in your project")


@pytest.mark.parametrize("path", ["LICENSE", "pyproject.toml", "src/my_service/settings.py"])
def test_a_folder_where_the_template_writes_a_file_is_refused_by_name(users_project, path):
    (users_project / path).mkdir()
    (users_project / path / "inside.txt").write_text("mine\n", encoding="utf-8")
    before = tree_of(users_project)

    result = generate(users_project)

    assert_refused_and_unchanged(result, users_project, before, f"error: {path} is a folder in your project")


@pytest.mark.parametrize("target", ["dangling", "outside", "loop"])
def test_a_linked_template_folder_leading_out_of_the_project_is_refused(users_project, outside, target):
    if target == "loop":
        (users_project / "other").symlink_to("tests")
    (users_project / "tests").symlink_to({"dangling": outside / "missing", "outside": outside, "loop": "other"}[target])
    before, outside_before = tree_of(users_project), tree_of(outside)

    result = generate(users_project)

    assert_refused_and_unchanged(result, users_project, before, "error: tests is a symbolic link to")
    assert tree_of(outside) == outside_before


def test_links_at_template_files_stay_links_and_nothing_is_written_through_them(users_project, outside):
    (users_project / "pyproject.toml").symlink_to(outside / "kept.txt")
    (users_project / "LICENSE").symlink_to(outside / "not-there-yet")
    (users_project / ".gitignore").symlink_to("README.md")
    (users_project / ".dockerignore").hardlink_to(outside / "kept.txt")
    before, outside_before = tree_of(users_project), tree_of(outside)

    result = generate(users_project)

    assert result.returncode == 0, result.output
    after = tree_of(users_project)
    assert {path: after.get(path) for path in before} == before
    assert (users_project / "src" / "my_service" / "settings.py").is_file()
    assert tree_of(outside) == outside_before
    assert (users_project / ".dockerignore").stat().st_ino == (outside / "kept.txt").stat().st_ino
    assert not (users_project / pre_gen.BACKUP_FOLDER).exists()


def test_a_linked_folder_inside_the_project_is_written_as_a_folder(users_project):
    (users_project / "checks").mkdir()
    (users_project / "checks" / "test_app.py").write_text("# the user's test\n", encoding="utf-8")
    (users_project / "tests").symlink_to("checks")

    result = generate(users_project, app_type="fastapi")

    assert result.returncode == 0, result.output
    assert (users_project / "tests").is_symlink()
    assert (users_project / "checks" / "test_app.py").read_text(encoding="utf-8") == "# the user's test\n"
    assert (users_project / "checks" / "template" / "test_settings.py").is_file()


@pytest.mark.parametrize("skip_existing", [False, True], ids=["f", "f-s"])
def test_a_generation_that_fails_half_way_puts_every_user_byte_and_mode_back(
    users_project, own_template_clone, skip_existing
):
    # A template file that cannot be rendered, after the project folder's other files were written.
    broken = own_template_clone / "{{cookiecutter.project_slug}}" / "zz-broken.txt"
    broken.write_text("{{ cookiecutter.no_such_answer.field }}\n", encoding="utf-8")
    commit_all(own_template_clone, "A template file that fails to render")
    before = tree_of(users_project)

    result = bake(users_project.parent, overwrite=True, skip_existing=skip_existing, template=own_template_clone)
    after_failure = tree_of(users_project)
    broken.unlink()
    commit_all(own_template_clone, "Fixed")
    next_run = bake(users_project.parent, overwrite=True, template=own_template_clone)

    assert result.returncode != 0
    assert "Traceback" not in result.output
    assert after_failure == before
    assert next_run.returncode == 0, next_run.output
    assert (users_project / "README.md").read_bytes() == b"the user's README\r\n\xff"


def test_a_backup_that_is_not_this_runs_is_never_restored_at_exit(users_project):
    backup = users_project / pre_gen.BACKUP_FOLDER
    (backup / "files").mkdir(parents=True)
    (backup / "files" / "README.md").write_text("an old README\n", encoding="utf-8")
    (backup / "manifest.json").write_text(
        json.dumps({"owner": 1, "files": ["README.md"], "folders": [], "added": []}), encoding="utf-8"
    )
    before = tree_of(users_project)

    result = generate(users_project)

    assert result.returncode != 0
    assert f"error: {pre_gen.BACKUP_FOLDER}/ is here" in result.stderr
    assert tree_of(users_project) == before


def test_the_hooks_leave_no_rendered_copy_of_the_answers_behind(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}

    result = bake(tmp_path / "out", env={**env, "TMPDIR": str(temporary)}, **FAST_ANSWERS)

    assert result.returncode == 0, result.output
    assert list(temporary.iterdir()) == []
