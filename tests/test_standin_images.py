"""The stand-in images the suite builds where no registry is reachable keep the official images' interface."""

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from template_harness import run_checked

pytestmark = pytest.mark.docker

READY_WITHIN_SECONDS = 30


def wait_until_ready(docker: str, container: str, *pg_isready_args: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while True:
        probe = [docker, "exec", container, "pg_isready", "--host", "127.0.0.1", *pg_isready_args]
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            logs = subprocess.run([docker, "logs", container], capture_output=True, text=True, check=False)
            pytest.fail(f"not ready within {READY_WITHIN_SECONDS} s:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)


@pytest.fixture
def container_name(docker):
    name = f"template-test-postgres-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([docker, "rm", "--force", "--volumes", name], capture_output=True, check=False)


def test_postgres_creates_the_user_and_database_it_is_given(docker, postgres_image, container_name):
    password = "s3cret 'quoted' \"too\" $HOME"
    environment = ["--env", f"POSTGRES_PASSWORD={password}", "--env", "POSTGRES_USER=app", "--env", "POSTGRES_DB=notes"]
    run_checked([docker, "run", "--detach", "--name", container_name, *environment, postgres_image], cwd=Path.cwd())
    wait_until_ready(docker, container_name, "--username", "app", "--dbname", "notes")

    query = "SELECT current_user || ' ' || current_database()"
    psql = [docker, "exec", "--env", f"PGPASSWORD={password}", container_name, "psql", "--host", "127.0.0.1"]
    answer = run_checked(
        [*psql, "--username", "app", "--dbname", "notes", "--tuples-only", "--command", query], Path.cwd()
    )
    wrong = subprocess.run(
        [docker, "exec", "--env", "PGPASSWORD=wrong", container_name, "psql", "--host", "127.0.0.1", "--username",
         "app", "--dbname", "notes", "--command", "SELECT 1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert answer.stdout.strip() == "app notes"
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr


def test_postgres_refuses_to_start_without_a_password(docker, postgres_image, container_name):
    subprocess.run([docker, "run", "--name", container_name, postgres_image], capture_output=True, check=False)
    state = run_checked([docker, "inspect", "--format", "{{.State.ExitCode}}", container_name], cwd=Path.cwd()).stdout
    logs = subprocess.run([docker, "logs", container_name], capture_output=True, text=True, check=False)

    assert state.strip() != "0"
    assert "POSTGRES_PASSWORD is not set" in logs.stderr


def test_postgres_shuts_down_fast_on_docker_stop(docker, postgres_image, container_name):
    environment = ["--env", "POSTGRES_PASSWORD=x"]
    run_checked([docker, "run", "--detach", "--name", container_name, *environment, postgres_image], cwd=Path.cwd())
    wait_until_ready(docker, container_name)

    run_checked([docker, "stop", container_name], cwd=Path.cwd())
    exit_code = run_checked(
        [docker, "inspect", "--format", "{{.State.ExitCode}}", container_name], cwd=Path.cwd()
    ).stdout
    logs = subprocess.run([docker, "logs", container_name], capture_output=True, text=True, check=False)

    assert exit_code.strip() == "0"
    # SIGINT, as the official image's STOPSIGNAL: SIGTERM's smart shutdown waits for every client to leave.
    assert "received fast shutdown request" in logs.stderr
