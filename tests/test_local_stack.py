"""The local stack, run for real: compose.yaml, `poe dev` and `poe dev-down`, with Compose v2 on this engine.

`docker compose config` checks every combination of the answers that shape it; a locked default project
comes up healthy on 127.0.0.1 with `up --wait`, and through `poe dev` a code change reaches the running app;
with database=postgresql the database keeps its data across `poe dev-down` and loses it with `--volumes`, and
`poe test-db` runs the generated tests on a database of their own beside the one the app serves.
Every project, image and volume these tests make is named with PREFIX and removed, also after a failure.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from template_harness import (
    COOKIECUTTER_JSON,
    FAST_ANSWERS,
    HOST_PYTHON,
    bake_locked,
    compose_projects_left,
    free_port,
    http_get,
    remove_images_named,
    run_checked,
)

pytestmark = pytest.mark.docker

PREFIX = f"stack-test-{uuid.uuid4().hex[:8]}"
# The stack's database password, as a developer writes it into .env (never into a committed file).
PASSWORD = uuid.uuid4().hex
COMBINATIONS = [
    {"app_type": app_type, "database": database}
    for app_type in COOKIECUTTER_JSON["app_type"]
    for database in COOKIECUTTER_JSON["database"]
]
# The template's poe, for the generated project's tasks (they run docker compose only: no project venv needed).
POE = [sys.executable, "-m", "poethepoet"]
HEALTHY_WITHIN_SECONDS = 180
WATCH_REACHES_APP_WITHIN_SECONDS = 120
WATCHED_ROUTE = """

@app.get("/watched")
def watched() -> dict[str, str]:
    return {"reached": "the running app"}
"""


@pytest.fixture(scope="module", autouse=True)
def remove_stack_images():
    yield
    remove_images_named(PREFIX)


def rendered(compose, project: Path, *options: str, **env: str) -> dict:
    """The project's compose.yaml as Compose reads it (`config --format json`), with these variables set."""
    result = compose.run(project, *options, "config", "--format", "json", project=f"{PREFIX}-config", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def poe(project: Path, compose, *task: str, **env: str) -> subprocess.CompletedProcess:
    """A task of the generated project, run by its poe as a developer does, with Compose v2."""
    return subprocess.run(
        [*POE, "-C", str(project), "-e", "simple", *task],
        capture_output=True,
        text=True,
        env={**compose.environment, **env},
        timeout=600,
        check=False,
    )


def left_after(docker: str, project: str) -> dict[str, list[str]]:
    return compose_projects_left(docker, project)


# --- compose.yaml as Compose reads it ---------------------------------------------------------------------------


@pytest.mark.parametrize("answers", COMBINATIONS, ids=lambda answers: "-".join(answers.values()))
def test_compose_file_validates_and_publishes_on_loopback_only(baked_project, compose, answers):
    project = baked_project({**FAST_ANSWERS, **answers})
    config = rendered(compose, project, POSTGRES_PASSWORD=PASSWORD)

    expected = {"app", "db", "migrate"} if answers["database"] == "postgresql" else {"app"}
    assert set(config["services"]) == expected
    app = config["services"]["app"]
    assert app["build"]["target"] == "runtime"
    assert app["build"]["context"] == str(project)
    published = [port for service in config["services"].values() for port in service.get("ports", [])]
    assert all(port["host_ip"] == "127.0.0.1" for port in published), published
    if answers["app_type"] == "fastapi":
        assert [port["target"] for port in app["ports"]] == [8000]


@pytest.mark.parametrize("database", COOKIECUTTER_JSON["database"])
def test_every_image_is_a_variable(baked_project, compose, database):
    project = baked_project({**FAST_ANSWERS, "database": database})

    default = rendered(compose, project, POSTGRES_PASSWORD=PASSWORD)
    mirrored = rendered(
        compose,
        project,
        POSTGRES_PASSWORD=PASSWORD,
        PYTHON_IMAGE="mirror.example.com/python:3.13-slim",
        POSTGRES_IMAGE="mirror.example.com/postgres:17",
    )

    # Unset, the Dockerfile's own ARG PYTHON_IMAGE default applies: the version is written there only.
    assert "PYTHON_IMAGE" not in default["services"]["app"]["build"].get("args", {})
    assert mirrored["services"]["app"]["build"]["args"]["PYTHON_IMAGE"] == "mirror.example.com/python:3.13-slim"
    if database == "postgresql":
        assert default["services"]["db"]["image"] == f"postgres:{COOKIECUTTER_JSON['_postgres_version']}"
        assert mirrored["services"]["db"]["image"] == "mirror.example.com/postgres:17"


def test_the_database_password_is_asked_for_never_written(baked_project, compose):
    project = baked_project({**FAST_ANSWERS, "database": "postgresql"})

    refused = compose.run(project, "config", project=f"{PREFIX}-config")

    assert refused.returncode != 0
    assert "POSTGRES_PASSWORD" in refused.stderr
    assert ".env" in refused.stderr
    assert "Traceback" not in refused.stderr
    example = (project / ".env.example").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD=\n" in example
    # Every use of the password is a required variable: no default, no value, in the committed file.
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", (project / "compose.yaml").read_text(encoding="utf-8"))
    assert uses
    assert all(use.startswith(":?") for use in uses), uses


def test_migrations_run_once_in_the_app_image_between_database_and_app(baked_project, compose):
    project = baked_project({**FAST_ANSWERS, "database": "postgresql"})

    services = rendered(compose, project, POSTGRES_PASSWORD=PASSWORD)["services"]

    app, migrate, db = services["app"], services["migrate"], services["db"]
    assert app["depends_on"] == {"migrate": {"condition": "service_completed_successfully", "required": True}}
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert migrate["image"] == app["image"]
    assert migrate["entrypoint"] == ["python", "-m", "my_service.migrations", "upgrade", "head"]
    assert migrate["restart"] == "no"
    url = f"postgresql://app:{PASSWORD}@db:5432/app"
    assert app["environment"]["DATABASE_URL"] == migrate["environment"]["DATABASE_URL"] == url
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert [volume["target"] for volume in db["volumes"]] == ["/var/lib/postgresql/data"]
    assert db["volumes"][0]["type"] == "volume"


@pytest.mark.parametrize("database", COOKIECUTTER_JSON["database"])
def test_watch_rebuilds_on_code_and_dependency_changes(baked_project, compose, database):
    project = baked_project({**FAST_ANSWERS, "database": database})

    watch = rendered(compose, project, POSTGRES_PASSWORD=PASSWORD)["services"]["app"]["develop"]["watch"]

    watched = {Path(rule["path"]).relative_to(project).as_posix(): rule["action"] for rule in watch}
    assert watched == {"src": "rebuild", "poetry.lock": "rebuild", "pyproject.toml": "rebuild"}
    assert (project / "src").is_dir()
    assert (project / "pyproject.toml").is_file()


# --- the default project's stack, up -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory, compose, base_image, docker):
    """The default project, locked, its stack up (`up --build --wait`) on a free port of 127.0.0.1."""
    python_version = COOKIECUTTER_JSON["python_version"][0]
    project, _ = bake_locked(tmp_path_factory.mktemp("stack"), project_slug=f"{PREFIX}-app")
    name = compose.track(project.name)
    env = {"PYTHON_IMAGE": base_image(python_version), "APP_PORT": str(free_port())}
    try:
        up = compose.run(project, "up", "--build", "--wait", project=name, timeout=900, **env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield project, name, env
    finally:
        compose.remove(name)


def test_up_wait_makes_the_app_healthy_on_loopback(stack, compose):
    project, name, env = stack

    listed = compose.run(project, "ps", "--format", "json", project=name)

    containers = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(container["Service"], container["Health"]) for container in containers] == [("app", "healthy")]
    assert [publisher["URL"] for publisher in containers[0]["Publishers"]] == ["127.0.0.1"]
    assert http_get(f"http://127.0.0.1:{env['APP_PORT']}/health") == (200, '{"status":"ok"}')


def test_poe_dev_serves_a_code_change_and_dev_down_removes_the_stack(stack, compose, docker):
    project, name, env = stack
    url = f"http://127.0.0.1:{env['APP_PORT']}/watched"
    dev = subprocess.Popen(
        [*POE, "-C", str(project), "-e", "simple", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**compose.environment, **env},
        start_new_session=True,
    )
    try:
        wait_for_line(dev, "Watch enabled", HEALTHY_WITHIN_SECONDS)
        app_module = next(project.glob("src/*/app.py"))
        app_module.write_text(app_module.read_text(encoding="utf-8") + WATCHED_ROUTE, encoding="utf-8")

        reached = wait_for(lambda: http_get(url)[0] == 200, WATCH_REACHES_APP_WITHIN_SECONDS)
        assert reached, f"{url} never answered 200 after the code change"
        assert http_get(url) == (200, '{"reached":"the running app"}')
    finally:
        # Ctrl-C, as a developer stops it: the whole process group (poe, docker and its compose plugin).
        os.killpg(dev.pid, signal.SIGINT)
        dev.wait(timeout=60)

    down = poe(project, compose, "dev-down")

    assert down.returncode == 0, down.stdout + down.stderr
    assert left_after(docker, name) == {"containers": [], "networks": [], "volumes": []}


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(1)
    return False


def wait_for_line(process: subprocess.Popen, text: str, seconds: float) -> None:
    """Read the process's output until a line holds text (fail with the output so far if it never does)."""
    deadline, seen = time.monotonic() + seconds, []
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if text in line:
                os.set_blocking(process.stdout.fileno(), True)
                return
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.5)
    pytest.fail(f"no {text!r} in the output within {seconds} s:\n{''.join(seen[-40:])}")


# --- the database service ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database_stack(tmp_path_factory, compose, base_image, postgres_image):
    """A locked project with database=postgresql, its .env as .env.example asks (a password), its stack up:
    db healthy, migrate done, the app healthy, on free ports of 127.0.0.1. On this machine's Python, so that
    its tests can run here too (the image's base is the one tests/test_database.py builds)."""
    project, _ = bake_locked(
        tmp_path_factory.mktemp("database-stack"),
        project_slug=f"{PREFIX}-items",
        database="postgresql",
        python_version=HOST_PYTHON,
    )
    write_env_with_password(project)
    name = compose.track(project.name)
    env = {
        "PYTHON_IMAGE": base_image(HOST_PYTHON),
        "POSTGRES_IMAGE": postgres_image,
        "APP_PORT": str(free_port()),
        "DB_PORT": str(free_port()),
    }
    try:
        up = compose.run(project, "up", "--build", "--wait", project=name, timeout=900, **env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield project, name, env
    finally:
        compose.remove(name)


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_poe_test_db_runs_the_generated_tests_on_a_database_beside_the_apps(database_stack, compose, poetry):
    project, _, env = database_stack
    app = f"http://127.0.0.1:{env['APP_PORT']}"
    status, item = post_json(f"{app}/items", {"name": "the app's, not the tests'"})
    assert status == 201
    run_checked([poetry, "install"], cwd=project)

    # CI set: a database test that cannot reach its database fails instead of skipping.
    tested = subprocess.run(
        [poetry, "run", "poe", "test-db"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**compose.environment, **env, "CI": "true"},
        timeout=600,
        check=False,
    )

    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert f"The tests' database: app_test on the stack's db (127.0.0.1:{env['DB_PORT']})" in tested.stdout
    assert "tests/template/test_database.py" in tested.stdout
    assert " skipped" not in tested.stdout
    assert PASSWORD not in output
    # The tests migrated their database down to nothing and up again; the app's kept its row.
    assert json.loads(http_get(f"{app}/items/{item['id']}")[1]) == item


def test_the_app_writes_through_the_migrated_database_and_the_data_outlives_dev_down(database_stack, compose, docker):
    project, name, env = database_stack
    app = f"http://127.0.0.1:{env['APP_PORT']}"

    states = {
        container["Service"]: container["State"]
        for container in map(
            json.loads, compose.run(project, "ps", "--all", "--format", "json", project=name).stdout.splitlines()
        )
    }
    assert states == {"db": "running", "migrate": "exited", "app": "running"}
    assert http_get(f"{app}/ready")[0] == 200
    status, item = post_json(f"{app}/items", {"name": "kept across dev-down"})
    assert status == 201

    down = poe(project, compose, "dev-down", **env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert left_after(docker, name)["containers"] == []
    again = compose.run(project, "up", "--wait", project=name, timeout=600, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(http_get(f"{app}/items/{item['id']}")[1]) == item

    gone = poe(project, compose, "dev-down", "--volumes", **env)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert left_after(docker, name) == {"containers": [], "networks": [], "volumes": []}


def write_env_with_password(project: Path) -> None:
    """.env as .env.example tells a developer to write it: a copy, with a password chosen."""
    example = (project / ".env.example").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD=\n" in example
    (project / ".env").write_text(example.replace("POSTGRES_PASSWORD=\n", f"POSTGRES_PASSWORD={PASSWORD}\n"))


# --- the devcontainer --------------------------------------------------------------------------------------------

EDITOR_EXTENSIONS = {"ms-python.python", "charliermarsh.ruff", "ms-python.mypy-type-checker"}


def devcontainer_cli(devcontainer: str, compose, project: Path, command: str, *arguments: str, **env: str):
    """A devcontainer CLI command on the project's folder, with Compose v2; the caller checks the exit code.
    The CLI's own files (Compose overrides, features) go to a temporary folder beside the project."""
    scratch = project.parent / "devcontainer-cli-files"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [devcontainer, command, "--workspace-folder", str(project), *arguments],
        capture_output=True,
        text=True,
        env={**compose.environment, "TMPDIR": str(scratch), **env},
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize("answers", COMBINATIONS, ids=lambda answers: "-".join(answers.values()))
def test_the_devcontainer_is_the_stacks_dev_service(baked_project, compose, devcontainer, answers):
    project = baked_project({**FAST_ANSWERS, **answers})

    read = devcontainer_cli(devcontainer, compose, project, "read-configuration")
    services = rendered(compose, project, "--profile", "devcontainer", POSTGRES_PASSWORD=PASSWORD)["services"]

    assert read.returncode == 0, read.stderr
    configuration = json.loads(read.stdout)["configuration"]
    assert (project / ".devcontainer" / configuration["dockerComposeFile"]).resolve() == project / "compose.yaml"
    assert configuration["service"] == "dev"
    with_database = ["db"] if answers["database"] == "postgresql" else []
    assert configuration["runServices"] == ["dev", *with_database]
    assert configuration["postCreateCommand"] == "poetry install"
    assert set(configuration["customizations"]["vscode"]["extensions"]) == EDITOR_EXTENSIONS
    assert "features" not in configuration
    dev = services["dev"]
    assert dev["build"]["target"] == "poetry"
    assert dev["profiles"] == ["devcontainer"]
    assert configuration["workspaceFolder"] in {volume["target"] for volume in dev["volumes"]}
    if answers["database"] == "postgresql":
        assert dev["environment"]["DATABASE_URL"] == services["app"]["environment"]["DATABASE_URL"]
        assert dev["depends_on"]["db"]["condition"] == "service_healthy"


def test_devcontainer_up_then_poe_check_inside_it(stack, compose, devcontainer, docker):
    project, name, env = stack

    up = devcontainer_cli(devcontainer, compose, project, "up", **env)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    outcome = json.loads(up.stdout.strip().splitlines()[-1])
    assert (outcome["outcome"], outcome["composeProjectName"]) == ("success", name)

    versions = devcontainer_cli(devcontainer, compose, project, "exec", "poetry", "--version", **env)
    check = devcontainer_cli(devcontainer, compose, project, "exec", "poetry", "run", "poe", "check", **env)

    assert f"Poetry (version {COOKIECUTTER_JSON['poetry_version']})" in versions.stdout, versions.stderr
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
