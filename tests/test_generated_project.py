"""The generated project's own gate: a locked bake installs with Poetry and passes `poe check`."""

import json
import re
import subprocess
import time
import urllib.request

import pytest

from template_harness import (
    COOKIECUTTER_JSON,
    HOST_PYTHON,
    PACKAGE_INDEX_URL,
    bake,
    free_port,
    run_checked,
    tool_environment,
)

pytestmark = pytest.mark.slow

UNREACHABLE_INDEX = "http://127.0.0.1:9/simple/"


@pytest.fixture(scope="module", params=COOKIECUTTER_JSON["app_type"])
def locked_project(request, tmp_path_factory, poetry):
    if HOST_PYTHON not in COOKIECUTTER_JSON["python_version"]:
        pytest.fail(f"the tests run on Python {HOST_PYTHON}, which the template does not offer")
    result = bake(
        tmp_path_factory.mktemp("locked"),
        app_type=request.param,
        python_version=HOST_PYTHON,
        package_index_url=PACKAGE_INDEX_URL,
        lock_dependencies="yes",
    )
    assert result.returncode == 0, result.output
    return result.project


def test_lock_matches_pyproject(locked_project, poetry):
    run_checked(
        [poetry, "check", "--lock"], cwd=locked_project, env=tool_environment(POETRY_VIRTUALENVS_CREATE="false")
    )
    assert "generated without one" not in (locked_project / "README.md").read_text(encoding="utf-8")


def test_project_installs_and_passes_its_own_gate(locked_project, poetry):
    run_checked([poetry, "install"], cwd=locked_project)

    check = run_checked([poetry, "run", "poe", "check"], cwd=locked_project)

    passed = re.search(r"(\d+) passed", check.stdout)
    assert passed, check.stdout
    assert int(passed[1]) >= 3
    assert " failed" not in check.stdout
    assert "Success: no issues found" in check.stdout + check.stderr


def test_readme_run_command_works(locked_project, poetry):
    """`poetry run python -m my_service`, as the README says (the Docker commands: the docker tier)."""
    run_checked([poetry, "install"], cwd=locked_project)
    if (locked_project / "src" / "my_service" / "cli.py").exists():
        result = run_checked(
            [poetry, "run", "python", "-m", "my_service", "greet", "Ada", "--shout"], cwd=locked_project
        )
        assert result.stdout == "HELLO, ADA!\n"
        return
    port = free_port()
    server = subprocess.Popen(
        [poetry, "run", "python", "-m", "my_service"], cwd=locked_project, env=tool_environment(PORT=str(port))
    )
    try:
        assert wait_for_json(f"http://127.0.0.1:{port}/health") == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=15)


def wait_for_json(url: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_lock_against_an_unreachable_index_fails_clearly(tmp_path, poetry):
    result = bake(tmp_path, package_index_url=UNREACHABLE_INDEX, lock_dependencies="yes")

    assert result.returncode != 0
    assert f"poetry lock failed against {UNREACHABLE_INDEX}" in result.stderr
    assert "lock_dependencies=no" in result.stderr
    assert not (tmp_path / "my-service").exists()


def test_failed_generation_over_an_existing_directory_keeps_the_users_files(tmp_path, poetry):
    project = tmp_path / "my-service"
    (project / ".github" / "workflows").mkdir(parents=True)
    user_files = {
        "notes.txt": "my notes\n",
        ".env": "SECRET=1\n",
        ".github/CODEOWNERS": "* @me\n",
        ".github/workflows/deploy.yml": "name: deploy\n",
    }
    for name, text in user_files.items():
        (project / name).write_text(text, encoding="utf-8")

    result = bake(
        tmp_path, overwrite=True, ci_provider="none", package_index_url=UNREACHABLE_INDEX, lock_dependencies="yes"
    )

    assert result.returncode != 0
    for name, text in user_files.items():
        assert (project / name).read_text(encoding="utf-8") == text
