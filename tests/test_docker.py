"""The generated Dockerfile, proven by real builds: bake with a lock, build, run, inspect.

Two configurations, each baked and built once per module: fastapi on Python 3.13 (built with
`docker build`) and cli on Python 3.11 (built, tested and run through the project's own poe tasks,
as its README says), the cli one with free text that Dockerfile quoting must survive.
Every image and container these tests make is removed at the end.
"""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from template_harness import (
    COOKIECUTTER_JSON,
    bake_locked,
    build_env,
    build_step_states,
    buildkit_build,
    python_in_image,
    remove_images_named,
    run_checked,
    step_state,
    tool_environment,
)

pytestmark = pytest.mark.docker

# Every image name starts with this (project slugs, so `poe docker-build` tags <slug>:dev under it too).
PREFIX = f"template-test-{uuid.uuid4().hex[:8]}"
RUNTIME_UID = "10001"
# What Poetry 2.5.1 prints when pyproject.toml was edited without `poetry lock`.
STALE_LOCK_MESSAGE = "pyproject.toml's main dependencies changed since image-requirements.txt was written"
# Free text that must reach the OCI labels exactly: quotes, backslashes, braces, $ and non-ASCII.
TRICKY_NAME = 'Café "Q" \\ {{x}} $HOME'
TRICKY_DESCRIPTION = "Ünïcødé 'single' \"double\" \\n {% raw %} ${PATH} `tick` {x} }}"
HEALTHY_WITHIN_SECONDS = 60
PROMPT_STOP_SECONDS = 5


@dataclass
class Built:
    project: Path
    answers: dict
    image: str
    planted: list[str]


# Secrets a developer may leave anywhere in the tree, even inside src/ and tests/.
SECRET_FILE_NAMES = (".env", ".env.local", "server.pem", "id_rsa", "credentials.json", ".netrc")
MACHINE_STATE_FOLDERS = (
    ".git",
    ".venv",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    "src/__pycache__",
    "tests/__pycache__",
)


def add_files_the_build_must_not_see(project: Path) -> list[str]:
    """Secrets, a git repository, caches and build output, as a developer's working tree has them."""
    planted = []
    for folder in (".", *(str(path.relative_to(project)) for path in project.glob("src/*")), "tests"):
        for name in SECRET_FILE_NAMES:
            (project / folder / name).write_text("SECRET_TOKEN=do-not-ship\n", encoding="utf-8")
            planted.append((Path(folder) / name).as_posix())
        if not (project / folder / ".git").exists():
            (project / folder / ".git").mkdir()
            (project / folder / ".git" / "config").write_text("[core]\n", encoding="utf-8")
            planted.append((Path(folder) / ".git" / "config").as_posix())
    for folder in MACHINE_STATE_FOLDERS:
        (project / folder).mkdir(parents=True, exist_ok=True)
        (project / folder / "leftover.pyc").write_bytes(b"not for the image")
        planted.append(f"{folder}/leftover.pyc")
    return planted


@pytest.fixture(scope="module", autouse=True)
def remove_test_images():
    yield
    remove_images_named(PREFIX)


@pytest.fixture(scope="module")
def fastapi_build(docker, base_image, tmp_path_factory) -> Built:
    """fastapi on Python 3.13, built with `docker build`."""
    project, answers = bake_locked(
        tmp_path_factory.mktemp("fastapi"),
        app_type="fastapi",
        python_version="3.13",
        project_slug=f"{PREFIX}-api",
        docker_base_image=base_image("3.13"),
    )
    planted = add_files_the_build_must_not_see(project)
    image = f"{PREFIX}-api:dev"
    buildkit_build(docker, project, "--tag", image)
    return Built(project, answers, image, planted)


@pytest.fixture(scope="module")
def cli_build(docker, base_image, poetry, tmp_path_factory) -> Built:
    """cli on Python 3.11 with tricky free text, built with the project's `poe docker-build`."""
    project, answers = bake_locked(
        tmp_path_factory.mktemp("cli"),
        app_type="cli",
        python_version="3.11",
        project_slug=f"{PREFIX}-cli",
        repository_url="https://git.example.com/team/cli-tool",
        docker_base_image=base_image("3.11"),
        init_git="yes",
        typed={"project_name": TRICKY_NAME, "description": TRICKY_DESCRIPTION},
    )
    assert answers["project_name"] == TRICKY_NAME
    run_checked([poetry, "install"], cwd=project)
    planted = add_files_the_build_must_not_see(project)
    run_checked([poetry, "run", "poe", "docker-build"], cwd=project)
    return Built(project, answers, f"{PREFIX}-cli:dev", planted)


@pytest.fixture(params=["fastapi", "cli"])
def built(request) -> Built:
    return request.getfixturevalue(f"{request.param}_build")


@contextmanager
def container(docker: str, *args: str):
    """A detached container, removed afterwards whatever happens."""
    name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    try:
        run_checked([docker, "run", "--detach", "--name", name, *args], cwd=Path.cwd())
        yield name
    finally:
        subprocess.run([docker, "rm", "--force", name], capture_output=True, check=False)


def inspect(docker: str, target: str, template: str):
    return json.loads(
        run_checked([docker, "inspect", "--format", "{{json " + template + "}}", target], cwd=Path.cwd()).stdout
    )


def wait_for(condition, seconds: float, what: str, docker: str, name: str):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = subprocess.run([docker, "logs", name], capture_output=True, text=True, check=False)
            pytest.fail(f"{what} not within {seconds} s; container logs:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)


def get_health(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.load(response)
    except OSError:
        return None


def published_url(docker: str, name: str) -> str:
    address = run_checked([docker, "port", name, "8000/tcp"], cwd=Path.cwd()).stdout.splitlines()[0].strip()
    assert address.startswith("127.0.0.1:")
    return f"http://{address}"


def test_fastapi_answers_health_and_turns_healthy(docker, fastapi_build):
    with container(docker, "--publish", "127.0.0.1::8000", "--health-interval", "1s", fastapi_build.image) as name:
        url = published_url(docker, name)

        answer = wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)
        health = wait_for(
            lambda: inspect(docker, name, ".State.Health.Status") == "healthy",
            HEALTHY_WITHIN_SECONDS,
            "healthy",
            docker,
            name,
        )
        user = run_checked([docker, "exec", name, "id", "-u"], cwd=Path.cwd()).stdout.strip()

    assert answer == (200, {"status": "ok"})
    assert health
    assert user == RUNTIME_UID


def test_fastapi_image_healthcheck_asks_the_app_and_needs_no_curl(docker, fastapi_build):
    config = inspect(docker, fastapi_build.image, ".Config")
    healthcheck = config["Healthcheck"]

    assert healthcheck["Test"] == ["CMD", fastapi_build.answers["project_slug"], "--check-health"]
    assert healthcheck["Interval"] == 10 * 10**9
    assert "8000/tcp" in config["ExposedPorts"]
    assert python_in_image(docker, fastapi_build.image, "import shutil; print(shutil.which('curl'))") == "None\n"


def test_cli_runs_help_and_its_command_through_poe(docker, cli_build, poetry):
    help_text = run_checked([poetry, "run", "poe", "docker-run"], cwd=cli_build.project).stdout
    # Poetry keeps a `--` of the task's only after one of its own.
    greeting = run_checked(
        [poetry, "run", "--", "poe", "docker-run", "--", "greet", "Ada", "--shout"], cwd=cli_build.project
    ).stdout

    assert "Usage:" in help_text
    assert "greet" in help_text
    assert greeting == "HELLO, ADA!\n"


def test_image_runs_as_a_fixed_non_root_user_that_cannot_change_the_app(docker, built):
    uid_gid_writable = python_in_image(
        docker, built.image, "import os; print(os.getuid(), os.getgid(), os.access('/app/.venv', os.W_OK))"
    )

    assert inspect(docker, built.image, ".Config.User") == f"{RUNTIME_UID}:{RUNTIME_UID}"
    assert uid_gid_writable == f"{RUNTIME_UID} {RUNTIME_UID} False\n"


# Run as root in the image, with the app's Python: what is in /app, and what of the build is anywhere.
RUNTIME_CONTENTS = r"""
import importlib.util, json, os, shutil
found = {"app": sorted(os.listdir("/app")), "leftovers": []}
for folder, dirs, files in os.walk("/"):
    if folder == "/":
        dirs[:] = [name for name in dirs if name not in ("proc", "sys", "dev")]
    for name in dirs + files:
        path = os.path.join(folder, name)
        secret = name.startswith((".env", "id_rsa")) or name.endswith(".pem") or name in ("credentials.json", ".netrc")
        build_leftover = name in ("poetry", "pypoetry", ".cache", ".git") or path.startswith("/app/tests")
        # Secret-shaped files of the project's (the venv's come from the index: certifi's CA bundle).
        from_project = path.startswith("/app/") and not path.startswith("/app/.venv/")
        if build_leftover or (secret and from_project):
            found["leftovers"].append(path)
found["src"] = sorted(os.path.relpath(os.path.join(folder, name), "/app/src")
                      for folder, _, files in os.walk("/app/src") for name in files)
found["commands"] = [name for name in ("poetry", "pip") if shutil.which(name, path="/app/.venv/bin")]
found["modules"] = [name for name in ("poetry", "pip", "pytest", "ruff", "mypy", "poethepoet")
                    if importlib.util.find_spec(name)]
print(json.dumps(found))
"""


def test_runtime_image_holds_only_the_virtual_environment_and_the_code(docker, built):
    found = json.loads(python_in_image(docker, built.image, RUNTIME_CONTENTS, user="0"))
    source = built.project / "src"
    code = sorted(
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.relative_to(built.project).as_posix() not in built.planted
    )

    assert found["app"] == [".venv", "data", "src"]
    assert found["src"] == code
    # No Poetry, no pip or Poetry cache, no tests, .git or .env (the base image may bring its own pip,
    # outside the app's virtual environment).
    assert found["leftovers"] == []
    assert found["commands"] == []
    assert found["modules"] == []


def test_oci_labels_are_the_answers_exactly(docker, built):
    labels = inspect(docker, built.image, ".Config.Labels")
    answers = {**COOKIECUTTER_JSON, **built.answers}
    default_source = COOKIECUTTER_JSON["repository_url"].replace(
        "{{ cookiecutter.project_slug }}", answers["project_slug"]
    )

    assert labels["org.opencontainers.image.title"] == answers["project_name"]
    assert labels["org.opencontainers.image.description"] == answers["description"]
    assert labels["org.opencontainers.image.version"] == answers["version"]
    assert labels["org.opencontainers.image.source"] == built.answers.get("repository_url", default_source)


def test_cli_labels_hold_the_tricky_text(docker, cli_build):
    labels = inspect(docker, cli_build.image, ".Config.Labels")

    assert labels["org.opencontainers.image.title"] == TRICKY_NAME
    assert labels["org.opencontainers.image.description"] == TRICKY_DESCRIPTION
    assert labels["org.opencontainers.image.source"] == "https://git.example.com/team/cli-tool"


# A command of the app's own command line that runs until it is stopped: run by the app's main(), as the
# console script is, so its signal handling is the one under test.
WAITING_COMMAND = """
import sys, time, click
from importlib import import_module
cli = import_module(sys.argv[1] + ".cli")

@cli.cli.command()
def wait() -> None:
    click.echo("ready")
    time.sleep(600)

sys.argv[1:] = ["wait"]
cli.main()
"""


def test_docker_stop_is_prompt_and_quiet(docker, built):
    fastapi = built.answers["app_type"] == "fastapi"
    if fastapi:
        args = ["--publish", "127.0.0.1::8000", built.image]
    else:
        package = built.answers["project_slug"].replace("-", "_")
        args = ["--entrypoint", "python", built.image, "-c", WAITING_COMMAND, package]
    with container(docker, *args) as name:
        if fastapi:
            url = published_url(docker, name)
            wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)
        else:
            wait_for(
                lambda: "ready" in run_checked([docker, "logs", name], cwd=Path.cwd()).stdout,
                HEALTHY_WITHIN_SECONDS,
                "ready",
                docker,
                name,
            )
        started = time.monotonic()
        run_checked([docker, "stop", name], cwd=Path.cwd())
        seconds = time.monotonic() - started
        exit_code = inspect(docker, name, ".State.ExitCode")
        logs = run_checked([docker, "logs", name], cwd=Path.cwd())

    assert seconds < PROMPT_STOP_SECONDS, f"docker stop took {seconds:.1f} s (exit code {exit_code})"
    # uvicorn drains and exits 0; a command line exits as a shell reports SIGTERM (the README says which).
    assert exit_code == (0 if fastapi else 143)
    assert "Aborted" not in logs.stdout + logs.stderr
    assert "Traceback" not in logs.stdout + logs.stderr


def test_build_context_holds_no_secret_and_no_machine_state(docker, cli_build, tmp_path):
    """.dockerignore: no .git, .venv, env files, keys, credentials, caches or build output reach the builder,
    wherever they sit; everything the Dockerfile copies does."""
    exported = tmp_path / "context"
    run_checked(
        [docker, "build", "--file", "-", "--output", f"type=local,dest={exported}", "."],
        cwd=cli_build.project,
        env=build_env(),
        input="FROM scratch\nCOPY . /\n",
    )
    sent = {path.relative_to(exported).as_posix() for path in exported.rglob("*") if path.is_file()}
    copied = {"pyproject.toml", "poetry.lock"} | {
        path.relative_to(cli_build.project).as_posix()
        for folder in ("src", "tests")
        for path in (cli_build.project / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.as_posix() not in cli_build.planted
    }

    assert (cli_build.project / ".git" / "HEAD").exists()
    assert not sent & set(cli_build.planted)
    assert not [name for name in sent if name.startswith(".git/") or "/.git/" in name]
    assert copied - set(cli_build.planted) <= sent


def test_code_change_rebuild_reuses_the_dependency_layer(docker, cli_build, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(cli_build.project, changed, ignore=shutil.ignore_patterns(".venv", ".git"))
    cli_module = next(changed.glob("src/*/cli.py"))
    code = cli_module.read_text(encoding="utf-8")
    cli_module.write_text(code.replace('f"Hello, {name}!"', 'f"Howdy, {name}!"'), encoding="utf-8")
    image = f"{PREFIX}-cli:changed"

    output = buildkit_build(docker, changed, "--tag", image).stderr
    states = build_step_states(output)

    assert step_state(states, "uv pip sync --quiet") == "CACHED", output
    assert step_state(states, "[app-files ", "COPY src/") == "RUN", output
    assert step_state(states, "[runtime ", "COPY --from=app-files") == "RUN", output
    assert run_checked([docker, "run", "--rm", image, "greet", "Ada"], cwd=changed).stdout == "Howdy, Ada!\n"


def test_a_tool_setting_or_a_dev_group_edited_leaves_the_dependency_layer_cached(docker, cli_build, tmp_path):
    """The dependencies stage takes only pyproject.toml's build tables (the build-metadata stage writes them)."""
    edited = tmp_path / "edited"
    shutil.copytree(cli_build.project, edited, ignore=shutil.ignore_patterns(".venv", ".git"))
    pyproject = edited / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = text.replace("[tool.ruff]\n", "[tool.ruff]\nfix = true\n", 1)
    dev_group = "[tool.poetry.group.dev.dependencies]\n"
    pyproject.write_text(text.replace(dev_group, f'{dev_group}pytest-timeout = ">=2"\n', 1), encoding="utf-8")
    assert "fix = true" in pyproject.read_text(encoding="utf-8")
    assert "pytest-timeout" in pyproject.read_text(encoding="utf-8")

    output = buildkit_build(docker, edited, "--tag", f"{PREFIX}-cli:edited").stderr
    states = build_step_states(output)

    assert step_state(states, "[build-metadata ", "RUN ") == "RUN", output
    assert step_state(states, "uv pip sync --quiet") == "CACHED", output
    assert step_state(states, "[runtime ", "COPY --from=dependencies") == "CACHED", output


def test_pyproject_edited_without_relocking_fails_the_build(docker, cli_build, tmp_path):
    stale = tmp_path / "stale"
    shutil.copytree(cli_build.project, stale, ignore=shutil.ignore_patterns(".venv", ".git"))
    pyproject = stale / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"click>=8.1",', '"click>=8.1",\n    "rich>=13",'), encoding="utf-8")
    assert "rich" in pyproject.read_text(encoding="utf-8")

    result = subprocess.run(
        [docker, "build", "--tag", f"{PREFIX}-cli:stale", "."],
        cwd=stale,
        capture_output=True,
        text=True,
        env=build_env(),
        check=False,
    )

    assert result.returncode != 0
    assert STALE_LOCK_MESSAGE in result.stderr, result.stderr
    assert "run `poetry run poe lock`" in result.stderr


def test_image_requirements_edited_since_poe_lock_fail_the_build_naming_it(docker, cli_build, tmp_path):
    """image-requirements.txt, which the image installs, is derived from poetry.lock: the build's lock check
    refuses one that no longer matches what `poe lock` wrote (here, a requirement dropped; each source the
    check compares: test_image_requirements)."""
    stale = tmp_path / "stale-requirements"
    shutil.copytree(cli_build.project, stale, ignore=shutil.ignore_patterns(".venv", ".git"))
    requirements = stale / "image-requirements.txt"
    text = requirements.read_text(encoding="utf-8")
    first = re.search(r"(?m)^[a-z0-9-]+==.*\\\n(    --hash=.*\\\n)*    --hash=.*\n", text)
    requirements.write_text(text.replace(first[0], "", 1), encoding="utf-8")

    result = subprocess.run(
        [docker, "build", "--tag", f"{PREFIX}-cli:stale-requirements", "."],
        cwd=stale,
        capture_output=True,
        text=True,
        env=build_env(),
        check=False,
    )

    assert result.returncode != 0
    assert "image-requirements.txt is stale" in result.stderr, result.stderr
    assert "run `poetry run poe lock`" in result.stderr


def test_test_stage_runs_the_project_checks_through_poe(docker, cli_build, poetry):
    result = run_checked(
        [poetry, "run", "poe", "docker-test"],
        cwd=cli_build.project,
        env=tool_environment(BUILDKIT_PROGRESS="plain"),
    )
    output = result.stdout + result.stderr

    assert step_state(build_step_states(output), "poe check") == "RUN", output
    assert "All checks passed!" in output
    assert re.search(r"Success: no issues found in \d+ source files", output), output
    passed = re.search(r"=+ (\d+) passed", output)
    assert passed, output
    assert int(passed[1]) >= 5
    assert " failed" not in output


# The running service and the images' leftovers (issue 17, classes 9 to 11).
# With this limit the app has room for a few dozen connections, far fewer than a client can open.
LOW_OPEN_FILE_LIMIT = 64
HELD_CONNECTIONS = 100
SHORT_HEADER_TIMEOUT = 2
# How long every held connection may take to be closed: a few rounds of the header timeout, as the
# connections past the limit wait in the listen queue until earlier ones are closed.
ALL_CLOSED_WITHIN_SECONDS = 60


def hold_half_sent_requests(url: str, count: int) -> list:
    """Open count connections that each send part of a request head and nothing more."""
    host, port = url.removeprefix("http://").split(":")
    held = []
    for _ in range(count):
        connection = socket.create_connection((host, int(port)), timeout=ALL_CLOSED_WITHIN_SECONDS)
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: held\r\n")
        held.append(connection)
    return held


def closed_by_the_server(connection, deadline: float) -> bool:
    """The server answered 408 and closed, or just closed; False if it is still open at the deadline."""
    connection.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        answer = connection.recv(1024)
        while answer and not answer.endswith(b"\r\n\r\n"):
            answer += connection.recv(1024)
        return answer == b"" or (answer.startswith(b"HTTP/1.1 408 ") and connection.recv(1024) == b"")
    except TimeoutError:
        return False
    finally:
        connection.close()


def test_half_sent_requests_are_closed_and_the_service_keeps_answering_under_a_low_file_limit(docker, fastapi_build):
    with container(
        docker,
        "--publish", "127.0.0.1::8000",
        "--ulimit", f"nofile={LOW_OPEN_FILE_LIMIT}:{LOW_OPEN_FILE_LIMIT}",
        "--env", f"HEADER_TIMEOUT={SHORT_HEADER_TIMEOUT}",
        "--health-interval", "1s",
        fastapi_build.image,
    ) as name:  # fmt: skip
        url = published_url(docker, name)
        wait_for(lambda: inspect(docker, name, ".State.Health.Status") == "healthy", 60, "healthy", docker, name)

        few = hold_half_sent_requests(url, 10)
        answered_while_held = get_health(f"{url}/health")
        started = time.monotonic()
        few_closed = [closed_by_the_server(connection, started + ALL_CLOSED_WITHIN_SECONDS) for connection in few]
        few_seconds = time.monotonic() - started

        many = hold_half_sent_requests(url, HELD_CONNECTIONS)
        deadline = time.monotonic() + ALL_CLOSED_WITHIN_SECONDS
        many_closed = [closed_by_the_server(connection, deadline) for connection in many]
        answered_after = wait_for(lambda: get_health(f"{url}/health"), 30, "GET /health after", docker, name)
        healthy_after = wait_for(
            lambda: inspect(docker, name, ".State.Health.Status") == "healthy", 30, "healthy after", docker, name
        )
        running = inspect(docker, name, ".State.Running")

    assert answered_while_held == (200, {"status": "ok"})
    assert all(few_closed)
    assert few_seconds < SHORT_HEADER_TIMEOUT + 5
    assert all(many_closed), f"{many_closed.count(False)} of {HELD_CONNECTIONS} still open"
    assert answered_after == (200, {"status": "ok"})
    assert healthy_after
    assert running


def test_the_image_serves_no_api_docs_and_names_no_server_unless_asked(docker, fastapi_build):
    def probe(*env: str) -> dict:
        with container(docker, "--publish", "127.0.0.1::8000", *env, fastapi_build.image) as name:
            url = published_url(docker, name)
            wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)
            statuses = {}
            for path in ("/docs", "/redoc", "/openapi.json", "/health"):
                try:
                    with urllib.request.urlopen(f"{url}{path}", timeout=5) as response:
                        statuses[path] = (response.status, response.headers["server"])
                except urllib.error.HTTPError as error:
                    statuses[path] = (error.code, error.headers["server"])
            return statuses

    default, asked = probe(), probe("--env", "API_DOCS=true")

    assert default == {
        "/docs": (404, None),
        "/redoc": (404, None),
        "/openapi.json": (404, None),
        "/health": (200, None),
    }
    assert asked == {"/docs": (200, None), "/redoc": (200, None), "/openapi.json": (200, None), "/health": (200, None)}


def test_forwarded_headers_are_believed_only_from_trusted_proxies(docker, fastapi_build):
    def client_address_logged(*env: str) -> str:
        with container(docker, "--publish", "127.0.0.1::8000", *env, fastapi_build.image) as name:
            url = published_url(docker, name)
            wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)
            request = urllib.request.Request(f"{url}/hello/proxy", headers={"X-Forwarded-For": "203.0.113.7"})
            urllib.request.urlopen(request, timeout=5).close()
            logs = run_checked([docker, "logs", name], cwd=Path.cwd())
        [access] = [record for record in json_lines(logs.stdout) if record.get("path") == "/hello/proxy"]
        return access["client"].rpartition(":")[0]

    assert client_address_logged() != "203.0.113.7"
    assert client_address_logged("--env", "FORWARDED_ALLOW_IPS=*") == "203.0.113.7"


def test_a_wrong_setting_is_named_without_a_traceback_in_the_image(docker, built):
    fastapi = built.answers["app_type"] == "fastapi"
    runs = [["greet"]] if not fastapi else [[], ["--check-health"]]

    for arguments in runs:
        result = subprocess.run(
            [docker, "run", "--rm", "--env", "LOG_LEVEL=bogus", built.image, *arguments],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

        assert result.returncode == (2 if fastapi else 1), result.stderr
        prefix = "error: " if fastapi else "Error: "
        assert result.stderr.startswith(f"{prefix}invalid settings: LOG_LEVEL='bogus': "), result.stderr
        assert "Traceback" not in result.stderr


# Run as root in the image: every file or folder anyone may write, but the sticky shared folders.
WORLD_WRITABLE = r"""
import json, os, stat
found = []
for folder, dirs, files in os.walk("/"):
    if folder == "/":
        dirs[:] = [name for name in dirs if name not in ("proc", "sys", "dev")]
    for name in dirs + files:
        path = os.path.join(folder, name)
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode) or not mode & stat.S_IWOTH:
            continue
        if stat.S_ISDIR(mode) and mode & stat.S_ISVTX:
            continue
        found.append(path)
print(json.dumps(found))
"""


def test_nothing_in_the_runtime_image_is_writable_by_anyone(docker, built):
    found = json.loads(python_in_image(docker, built.image, WORLD_WRITABLE, user="0"))

    assert found == []


# Logs, request ids and metrics in the running image (issue 21).
# A route of the user's that fails, added to the example app (the image's app.py, plus these lines).
FAILING_ROUTE = """

@app.get("/fail/{reason}")
def fail(reason: str) -> None:
    raise RuntimeError(f"failed on purpose: {reason}")
"""
# Run in the image with its own prometheus-client: the samples of http_requests_total in /metrics's text.
PARSE_METRICS = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = [
    [sample.labels, sample.value]
    for family in text_string_to_metric_families(sys.stdin.read())
    for sample in family.samples
    if sample.name == "http_requests_total"
]
print(json.dumps(samples))
"""


def json_lines(text: str) -> list[dict]:
    """Each line of a container's output as the JSON object it must be (a line that is not fails)."""
    return [json.loads(line) for line in text.splitlines()]


def http_get(url: str, **headers: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def failing_route_image(docker, fastapi_build, tmp_path_factory) -> str:
    """The fastapi image with a route that raises, as a user's code may: one more layer on the image."""
    package = fastapi_build.answers["project_slug"].replace("-", "_")
    app_py = fastapi_build.project / "src" / package / "app.py"
    context = tmp_path_factory.mktemp("failing-route")
    (context / "app.py").write_text(app_py.read_text(encoding="utf-8") + FAILING_ROUTE, encoding="utf-8")
    (context / "Dockerfile").write_text(
        f"FROM {fastapi_build.image}\nCOPY app.py /app/src/{package}/app.py\n", encoding="utf-8"
    )
    image = f"{PREFIX}-api:failing-route"
    buildkit_build(docker, context, "--tag", image)
    return image


def test_the_image_logs_json_lines_with_request_ids_and_serves_metrics(docker, failing_route_image):
    with container(docker, "--publish", "127.0.0.1::8000", failing_route_image) as name:
        url = published_url(docker, name)
        wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)

        greeted = http_get(f"{url}/hello/Ada", **{"X-Request-ID": "order-7f3a"})
        missing = http_get(f"{url}/no/such/page")
        failed = http_get(f"{url}/fail/boom", **{"X-Request-ID": "order-dead"})
        metrics = http_get(f"{url}/metrics")
        parsed = subprocess.run(
            [docker, "exec", "--interactive", name, "python", "-c", PARSE_METRICS],
            input=metrics[2].decode(),
            capture_output=True,
            text=True,
            check=True,
        )
        run_checked([docker, "stop", name], cwd=Path.cwd())
        logs = run_checked([docker, "logs", name], cwd=Path.cwd())

    assert (greeted[0], greeted[1]["x-request-id"]) == (200, "order-7f3a")
    assert missing[0] == 404
    assert re.fullmatch(r"[0-9a-f]{32}", missing[1]["x-request-id"])
    assert (failed[0], failed[1]["x-request-id"]) == (500, "order-dead")
    assert metrics[0] == 200
    assert metrics[1]["content-type"].startswith("text/plain; version=")
    records = json_lines(logs.stdout) + json_lines(logs.stderr)
    assert all({"timestamp", "level", "logger", "message"} <= set(record) for record in records), records
    access = {record["path"]: record for record in records if record["logger"] == "uvicorn.access"}
    assert {"/hello/Ada", "/no/such/page", "/fail/boom"} <= set(access)
    # Scrapes and the passing health checks (this test's, the HEALTHCHECK's) write no access line.
    assert "/metrics" not in access
    assert "/health" not in access
    assert access["/hello/Ada"]["request_id"] == "order-7f3a"
    assert access["/no/such/page"]["status"] == 404
    [error] = [record for record in records if "exception" in record]
    assert error["request_id"] == "order-dead"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert error["exception"].endswith("RuntimeError: failed on purpose: boom")
    requests = {(labels["route"], labels["status"]): value for labels, value in json.loads(parsed.stdout)}
    assert requests == {
        ("/health", "200"): requests[("/health", "200")],
        ("/hello/{name}", "200"): 1.0,
        ("<unmatched>", "404"): 1.0,
        ("/fail/{reason}", "500"): 1.0,
    }


class OtlpReceiver(BaseHTTPRequestHandler):
    """Takes OTLP/HTTP trace exports as a collector does, keeping each body (protobuf)."""

    bodies: list[bytes]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf":
            self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def otlp_receiver():
    """A receiver on 127.0.0.1: yields its endpoint and the bodies it has received."""
    bodies: list[bytes] = []
    with ThreadingHTTPServer(("127.0.0.1", 0), type("Receiver", (OtlpReceiver,), {"bodies": bodies})) as server:
        Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", bodies
        finally:
            server.shutdown()


def test_the_image_exports_traces_when_an_otlp_endpoint_is_set(docker, fastapi_build):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with otlp_receiver() as (endpoint, bodies):
        # The host's network: the container reaches the receiver on 127.0.0.1, and listens there only.
        env = ["HOST=127.0.0.1", f"PORT={port}", f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}"]
        with container(docker, "--network", "host", *(f"--env={item}" for item in env), fastapi_build.image) as name:
            wait_for(lambda: get_health(f"{url}/health"), HEALTHY_WITHIN_SECONDS, "GET /health", docker, name)
            assert http_get(f"{url}/hello/Ada", **{"X-Request-ID": "traced-in-image"})[0] == 200
            run_checked([docker, "stop", name], cwd=Path.cwd())
            logs = run_checked([docker, "logs", name], cwd=Path.cwd())

    [greeting] = [record for record in json_lines(logs.stdout) if record["message"] == "greeting Ada"]
    assert greeting["request_id"] == "traced-in-image"
    exported = b"".join(bodies)
    # Protobuf keeps strings and the 16-byte trace id as they are.
    assert b"GET /hello/{name}" in exported
    assert bytes.fromhex(greeting["trace_id"]) in exported
