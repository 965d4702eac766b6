"""database=postgresql, for real, on PostgreSQL servers of this machine's: a baked service and a baked command
line pass their own checks against a test database; the service's image applies its migrations and serves
/items and /ready over 127.0.0.1, and /ready follows the server down and up while /health stays 200.

One locked, installed project per app type a session; the image is built once.
"""

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from template_harness import (
    HOST_PYTHON,
    bake_locked,
    buildkit_build,
    free_port,
    remove_images_named,
    run_checked,
    run_unchecked,
    tool_environment,
)

pytestmark = pytest.mark.slow

PREFIX = f"template-test-db-{uuid.uuid4().hex[:8]}"
DATABASE_ANSWERS = {"database": "postgresql", "python_version": HOST_PYTHON}
ANSWER_WITHIN_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
def remove_test_images():
    yield
    remove_images_named(PREFIX)


def installed(tmp_path_factory, poetry: str, app_type: str) -> Path:
    project, _ = bake_locked(
        tmp_path_factory.mktemp(app_type), app_type=app_type, project_slug=f"{PREFIX}-{app_type}", **DATABASE_ANSWERS
    )
    run_checked([poetry, "install"], cwd=project)
    return project


@pytest.fixture(scope="module")
def service(tmp_path_factory, poetry) -> Path:
    return installed(tmp_path_factory, poetry, "fastapi")


@pytest.fixture(scope="module")
def command_line(tmp_path_factory, poetry) -> Path:
    return installed(tmp_path_factory, poetry, "cli")


def own_checks(project: Path, poetry: str, test_database_url: str) -> subprocess.CompletedProcess:
    """`poe check` with a test database, as CI runs it (CI set: a test that needs the database fails, never skips)."""
    env = tool_environment(TEST_DATABASE_URL=test_database_url, CI="true")
    return run_unchecked([poetry, "run", "poe", "check"], project, env=env)


@pytest.mark.parametrize("app", ["service", "command_line"])
def test_a_project_with_postgresql_passes_its_own_checks_on_a_real_server(request, app, poetry, host_postgres):
    project = request.getfixturevalue(app)

    checked = own_checks(project, poetry, host_postgres.create_database(f"checks_{app}"))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "test_database.py" in checked.stdout
    assert " skipped" not in checked.stdout


def test_a_model_changed_without_its_migration_fails_the_checks(service, poetry, host_postgres, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(service, project, symlinks=True)
    models = next(project.glob("src/*/models.py"))
    declared = "    name: Mapped[str] = mapped_column(String(ITEM_NAME_LENGTH))\n"
    models.write_text(
        models.read_text(encoding="utf-8").replace(declared, declared + "    note: Mapped[str | None]\n"),
        encoding="utf-8",
    )
    # The copy's own src first (its .venv's editable install names the original's).
    env = tool_environment(
        TEST_DATABASE_URL=host_postgres.create_database("drifted"), CI="true", PYTHONPATH=str(project / "src")
    )

    tested = run_unchecked(
        [poetry, "run", "python", "-m", "pytest", "-q", "tests/template/test_database.py", "-k", "agree"],
        project,
        env=env,
    )

    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "New upgrade operations detected" in tested.stdout
    assert "'add_column'" in tested.stdout


def request_json(method: str, url: str, body: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for(url: str, status: int) -> tuple[int, object]:
    """GET url until it answers with this status (or the deadline passes); the last answer."""
    deadline = time.monotonic() + ANSWER_WITHIN_SECONDS
    answer: tuple[int, object] = (0, None)
    while time.monotonic() < deadline:
        try:
            answer = request_json("GET", url)
        except OSError:
            answer = (0, None)
        if answer[0] == status:
            break
        time.sleep(0.2)
    return answer


@pytest.mark.docker
def test_the_image_migrates_its_database_and_serves_items_and_readiness(service, docker, base_image, postgres_server):
    image = f"{PREFIX}-fastapi:dev"
    buildkit_build(docker, service, "--build-arg", f"PYTHON_IMAGE={base_image(HOST_PYTHON)}", "--tag", image)
    server = postgres_server()
    database_url = server.create_database("app")

    # CI's step (poe docker-database-test): the image's migrations, then the service turns ready.
    migrated = run_checked(
        ["sh", "scripts/docker-database-test.sh", image],
        cwd=service,
        env=tool_environment(DATABASE_URL=database_url, READY_TEST_PORT=str(free_port())),
    )
    assert "Running upgrade  -> 6f3a1c2b9d0e" in migrated.stderr
    assert "migrated the database and turned ready" in migrated.stdout

    port = free_port()
    name = f"{PREFIX}-serve"
    base = f"http://127.0.0.1:{port}"
    try:
        run_checked(
            [
                docker,
                "run",
                "--detach",
                "--name",
                name,
                "--network",
                "host",
                "--env",
                f"DATABASE_URL={database_url}",
                "--env",
                "HOST=127.0.0.1",
                "--env",
                f"PORT={port}",
                image,
            ],
            cwd=service,
        )
        assert wait_for(f"{base}/health", 200) == (200, {"status": "ok"})
        created = request_json("POST", f"{base}/items", {"name": "Ada"})
        assert created[0] == 201
        item_id = created[1]["id"]
        assert request_json("GET", f"{base}/items/{item_id}") == (200, {"id": item_id, "name": "Ada"})
        assert request_json("GET", f"{base}/items/{item_id + 1}")[0] == 404
        assert wait_for(f"{base}/ready", 200) == (200, {"status": "ok"})

        server.stop()
        assert wait_for(f"{base}/ready", 503) == (503, {"status": "unavailable"})
        assert request_json("GET", f"{base}/health") == (200, {"status": "ok"})
        assert request_json("POST", f"{base}/items", {"name": "Grace"}) == (
            503,
            {"detail": "the database is unavailable"},
        )

        server.start()
        assert wait_for(f"{base}/ready", 200) == (200, {"status": "ok"})
        assert request_json("GET", f"{base}/items/{item_id}") == (200, {"id": item_id, "name": "Ada"})
    finally:
        logs = subprocess.run([docker, "logs", name], capture_output=True, text=True, check=False)
        subprocess.run([docker, "rm", "--force", name], capture_output=True, check=False)
    assert server.password not in logs.stdout + logs.stderr
