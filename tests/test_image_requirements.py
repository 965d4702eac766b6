"""image-requirements.txt: what the image installs, derived from poetry.lock by the project's lock task.

poetry.lock is the file a person keeps; the image's build installs this derived file with uv alone. The
stories: the bake writes it, `poe lock` rewrites it with a new dependency, a plain `poetry lock` leaves it
stale and `poe check` says so, the build's check (`--check-sources`, no Poetry) names what changed since `poe
lock` and lets edits that leave the image's dependencies alone through, the extras the image gets are chosen
in one place of pyproject.toml, and a Poetry without the export plugin is told how to get it. One cli
project is baked, locked and installed once; each story works on a copy. (The build running that check:
test_docker.)
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from template_harness import HOST_PYTHON, bake_locked, run_checked, tool_environment, write_image_requirements

pytestmark = pytest.mark.slow

REQUIREMENTS = "image-requirements.txt"
EXTRA = ('yaml = ["pyyaml>=6"]', "pyyaml")


@pytest.fixture(scope="module")
def installed_project(poetry, tmp_path_factory) -> Path:
    project, _ = bake_locked(tmp_path_factory.mktemp("requirements"), app_type="cli", python_version=HOST_PYTHON)
    run_checked([poetry, "install"], cwd=project)
    return project


@pytest.fixture
def project(installed_project, tmp_path) -> Path:
    """A copy with its own .venv path: poe runs through `poetry run`, which finds the copy's venv by path."""
    copy = tmp_path / installed_project.name
    shutil.copytree(installed_project, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    return copy


def poe(poetry: str, project: Path, *task: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [poetry, "run", "poe", *task], cwd=project, env=tool_environment(), capture_output=True, text=True, check=False
    )


def requirement_names(project: Path) -> set[str]:
    return set(re.findall(r"(?m)^([A-Za-z0-9._-]+)==", (project / REQUIREMENTS).read_text(encoding="utf-8")))


def add_to_pyproject(project: Path, old: str, new: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert old in text
    pyproject.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_dependency(project: Path, requirement: str) -> None:
    add_to_pyproject(project, "dependencies = [\n", f'dependencies = [\n    "{requirement}",\n')


def test_the_bake_writes_the_main_dependencies_each_with_its_hashes(installed_project):
    text = (installed_project / REQUIREMENTS).read_text(encoding="utf-8")
    requirements = re.findall(r"(?m)^([A-Za-z0-9._-]+)==[^\n]*\\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", text)

    assert {name for name, _ in requirements} == requirement_names(installed_project)
    assert {"click", "pydantic-settings"} <= requirement_names(installed_project)
    assert not {"pytest", "ruff", "mypy", "copier"} & requirement_names(installed_project)
    assert write_image_requirements(installed_project, "--check").returncode == 0


def test_poe_lock_writes_a_new_dependency_into_the_images_requirements(poetry, project):
    add_dependency(project, "tomli-w>=1.0")

    locked = poe(poetry, project, "lock")

    assert locked.returncode == 0, locked.stdout + locked.stderr
    assert "tomli-w" in requirement_names(project)
    assert write_image_requirements(project, "--check").returncode == 0


def test_a_plain_poetry_lock_leaves_the_file_stale_and_poe_check_fails_naming_poe_lock(poetry, project):
    add_dependency(project, "tomli-w>=1.0")
    run_checked([poetry, "lock"], cwd=project)

    checked = poe(poetry, project, "check")

    assert checked.returncode != 0
    assert f"{REQUIREMENTS} is stale" in checked.stderr, checked.stdout + checked.stderr
    assert "run `poetry run poe lock`" in checked.stderr


def test_the_builds_check_lets_through_edits_that_leave_the_images_dependencies_alone(poetry, project):
    add_to_pyproject(project, 'description = "', 'description = "Grown: ')
    added = subprocess.run(
        [poetry, "add", "--group", "dev", "tomli-w>=1.0"], cwd=project, capture_output=True, text=True, check=False
    )
    assert added.returncode == 0, added.stdout + added.stderr

    checked = write_image_requirements(project, "--check-sources")

    assert checked.returncode == 0, checked.stderr
    assert write_image_requirements(project, "--check").returncode == 0


def click_moved_on(lock: str) -> str:
    """poetry.lock with click, a main package, at another version, as a lock moved on without `poe lock`."""
    return re.sub(r'(?m)^(name = "click"\nversion = "[^"]+)"', r'\1.post1"', lock, count=1)


def first_requirement_dropped(text: str) -> str:
    first = re.search(r"(?m)^[a-z0-9-]+==.*\\\n(    --hash=.*\\\n)*    --hash=.*\n", text)
    return text.replace(first[0], "", 1)


@pytest.mark.parametrize(
    ("changed", "edit", "named"),
    [
        (
            "pyproject.toml",
            lambda text: text.replace("dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1),
            "pyproject.toml's main dependencies changed since image-requirements.txt was written",
        ),
        ("poetry.lock", click_moved_on, "image-requirements.txt is stale (poetry.lock's main packages"),
        (REQUIREMENTS, first_requirement_dropped, "image-requirements.txt is stale (edited since `poe lock`"),
    ],
    ids=["dependencies-edited-without-relocking", "lock-moved-on", "requirements-edited"],
)
def test_the_builds_check_names_what_changed_since_poe_lock(project, changed, edit, named):
    path = project / changed
    text = path.read_text(encoding="utf-8")
    path.write_text(edit(text), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text

    checked = write_image_requirements(project, "--check-sources")

    assert checked.returncode == 1
    assert named in checked.stderr, checked.stderr
    assert "run `poetry run poe lock`" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_the_images_extras_are_chosen_in_pyproject_and_every_one_by_default(poetry, project):
    add_to_pyproject(project, "\n[project.urls]", f"\n[project.optional-dependencies]\n{EXTRA[0]}\n\n[project.urls]")
    assert poe(poetry, project, "lock").returncode == 0
    assert EXTRA[1] in requirement_names(project)

    add_to_pyproject(project, 'extras = "all"', "extras = []")
    assert poe(poetry, project, "lock").returncode == 0
    without = requirement_names(project)
    add_to_pyproject(project, "extras = []", 'extras = ["yaml"]')
    assert poe(poetry, project, "lock").returncode == 0

    assert EXTRA[1] not in without
    assert EXTRA[1] in requirement_names(project)


def test_an_extra_the_project_does_not_declare_is_named(poetry, project):
    add_to_pyproject(project, 'extras = "all"', 'extras = ["s3"]')

    written = write_image_requirements(project)

    assert written.returncode == 1
    assert "[tool.image-requirements] extras names ['s3']" in written.stderr
    assert "Traceback" not in written.stderr


def test_without_the_export_plugin_the_way_to_get_it_is_named(project):
    shutil.rmtree(project / ".poetry")

    written = write_image_requirements(project, "--check")

    assert written.returncode == 1
    assert "run `poetry install` once" in written.stderr
    assert "poetry-plugin-export" in written.stderr
