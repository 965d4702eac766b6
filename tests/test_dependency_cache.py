"""The dependencies' venv, and the CI script that carries the cache mounts across runs.

The dependencies layer installs a fresh venv from uv's download cache (a cache mount), compiling the
dependencies' bytecode; scripts/docker-cache-mounts.sh saves the cache mounts after a build and loads them
into a builder before the next, as the generated CI does. One cli project on Python 3.11 is baked and
locked once; each story copies it and builds on a real engine. Every image is removed at the end.
"""

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from template_harness import (
    bake_locked,
    build_step_states,
    buildkit_build,
    python_in_image,
    remove_images_named,
    run_checked,
    step_state,
    tool_environment,
    write_image_requirements,
)

pytestmark = pytest.mark.docker

PREFIX = f"template-venv-{uuid.uuid4().hex[:8]}"
SLUG = f"{PREFIX}-cli"
PYTHON = "3.11"
# A small pure-Python dependency with a wheel, added and removed again.
ADDED = ("tomli-w>=1.0", "tomli_w")
SITE_PACKAGES = f"/app/.venv/lib/python{PYTHON}/site-packages"
CACHE_SCRIPT = "scripts/docker-cache-mounts.sh"
# For each .py under argv[1]: its pyc's header holds the source's mtime and size (a timestamp pyc that
# Python uses as it is), it is stale, or there is none. Prints "valid stale missing".
PYC_CHECK = """
import importlib.util, pathlib, struct, sys
counts = {"valid": 0, "stale": 0, "missing": 0}
for source in pathlib.Path(sys.argv[1]).rglob("*.py"):
    pyc = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not pyc.exists():
        counts["missing"] += 1
        continue
    flags, mtime, size = struct.unpack("<III", pyc.read_bytes()[4:16])
    stat = source.stat()
    fresh = flags == 0 and mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF
    counts["valid" if fresh else "stale"] += 1
print(counts["valid"], counts["stale"], counts["missing"])
"""
# Every file of the venv but bytecode, as paths relative to it.
VENV_FILES = """
import pathlib
venv = pathlib.Path("/app/.venv")
print("\\n".join(sorted(str(p.relative_to(venv)) for p in venv.rglob("*") if "__pycache__" not in p.parts)))
"""


@pytest.fixture(scope="module", autouse=True)
def remove_test_images():
    yield
    remove_images_named(PREFIX)


@pytest.fixture(scope="module")
def locked_project(docker, base_image, tmp_path_factory) -> Path:
    project, _ = bake_locked(
        tmp_path_factory.mktemp("venv"),
        app_type="cli",
        python_version=PYTHON,
        project_slug=SLUG,
        docker_base_image=base_image(PYTHON),
    )
    return project


@pytest.fixture
def project(locked_project, tmp_path) -> Path:
    copy = tmp_path / SLUG
    shutil.copytree(locked_project, copy, ignore=shutil.ignore_patterns(".venv", ".git"))
    return copy


def build(docker: str, project: Path, tag: str, *args: str) -> str:
    """docker build --tag PREFIX-cli:TAG; returns the plain progress output."""
    return buildkit_build(docker, project, "--tag", f"{SLUG}:{tag}", *args).stderr


def python_in(docker: str, tag: str, code: str, *args: str) -> str:
    return python_in_image(docker, f"{SLUG}:{tag}", code, *args)


def relock(poetry: str, project: Path, *requirements: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    added = "".join(f'    "{requirement}",\n' for requirement in requirements)
    pyproject.write_text(text.replace("dependencies = [\n", f"dependencies = [\n{added}", 1), encoding="utf-8")
    run_checked([poetry, "lock"], cwd=project, env=tool_environment(POETRY_VIRTUALENVS_CREATE="false"))
    written = write_image_requirements(project)
    assert written.returncode == 0, written.stdout + written.stderr


def mark_changed(project: Path, token: str) -> None:
    """A new description in pyproject.toml (one of its build tables): the dependencies layer runs again with
    the same lock."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '\ndescription = "' in text
    pyproject.write_text(text.replace('\ndescription = "', f'\ndescription = "{token}: ', 1), encoding="utf-8")


def cache_mounts(project: Path, action: str, folder: Path) -> subprocess.CompletedProcess:
    """scripts/docker-cache-mounts.sh ACTION FOLDER, as CI runs it (on the Dockerfile's base image)."""
    command = ["sh", CACHE_SCRIPT, action, str(folder)]
    return subprocess.run(
        command, cwd=project, env=tool_environment(), capture_output=True, text=True, check=False, timeout=600
    )


def test_a_dependency_added_then_removed_leaves_the_venv_a_fresh_build_makes(docker, poetry, project):
    original = {
        name: (project / name).read_text(encoding="utf-8")
        for name in ("pyproject.toml", "poetry.lock", "image-requirements.txt")
    }
    build(docker, project, "before")
    relock(poetry, project, ADDED[0])

    added = build(docker, project, "added")
    import_added = f"import {ADDED[1]}; print({ADDED[1]}.__file__)"
    assert python_in(docker, "added", import_added).startswith(SITE_PACKAGES), added

    for name, text in original.items():
        (project / name).write_text(text, encoding="utf-8")
    mark_changed(project, "removed again")
    removed = build(docker, project, "removed")
    assert step_state(build_step_states(removed), "uv pip sync --quiet") == "RUN", removed
    # --no-cache gives every RUN empty cache mounts: the venv is made from nothing.
    build(docker, project, "fresh", "--no-cache")

    kept = python_in(docker, "removed", VENV_FILES)
    assert ADDED[1] not in kept
    assert kept == python_in(docker, "fresh", VENV_FILES)


def test_every_dependency_source_has_valid_bytecode_and_none_without_it(docker, project):
    build(docker, project, "bytecode")
    build(docker, project, "source", "--build-arg", "COMPILE_BYTECODE=0")

    valid, stale, missing = map(int, python_in(docker, "bytecode", PYC_CHECK, SITE_PACKAGES).split())
    assert valid > 10
    assert (stale, missing) == (0, 0)
    assert python_in(docker, "source", PYC_CHECK, SITE_PACKAGES).split()[:2] == ["0", "0"]


def test_saved_cache_mounts_feed_the_next_build_after_they_are_loaded(docker, project, tmp_path):
    saved = tmp_path / "cache-mounts"
    build(docker, project, "first")

    saving = cache_mounts(project, "save", saved)
    assert saving.returncode == 0, saving.stdout + saving.stderr
    # uv's cache holds each wheel unpacked; the next build's install copies click's files from there.
    cached_click = sorted((saved / "_root_.cache_uv").glob("archive-v*/*/click/__init__.py"))
    assert len(cached_click) == 1, cached_click
    with cached_click[0].open("a", encoding="utf-8") as source:
        source.write("CARRIED_BY_CI = 'from the last run'\n")

    loading = cache_mounts(project, "load", saved)
    assert loading.returncode == 0, loading.stdout + loading.stderr
    mark_changed(project, "next run")
    next_build = build(docker, project, "next")

    assert step_state(build_step_states(next_build), "uv pip sync --quiet") == "RUN", next_build
    assert python_in(docker, "next", "import click; print(click.CARRIED_BY_CI)") == "from the last run\n"


def test_saving_into_a_folder_of_other_files_refuses_and_keeps_them(project, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")

    result = cache_mounts(project, "save", folder)

    assert result.returncode == 1
    assert "holds files this script did not write" in result.stderr
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine\n"
