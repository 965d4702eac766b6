{%- if cookiecutter.app_type == "fastapi" -%}
"""``python -m {{ cookiecutter.package_name }}`` serves the app."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .asgi import free_port

HEADER_TIMEOUT_SECONDS = 1
# The template's own app, whatever settings.py's asgi_app names once an app is adopted (whose own
# settings these tests know nothing of): these tests check the server, the app's tests the app.
TEMPLATE_APP = "{{ cookiecutter.package_name }}.app:app"


@pytest.fixture
def server_url() -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "ASGI_APP": TEMPLATE_APP,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "HEADER_TIMEOUT": str(HEADER_TIMEOUT_SECONDS),
    }
    server = subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.package_name }}"], env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_health(url: str) -> object:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_module_serves_health(server_url: str) -> None:
    assert wait_for_health(f"{server_url}/health") == {"status": "ok"}


def test_answers_name_no_server(server_url: str) -> None:
    wait_for_health(f"{server_url}/health")

    with urllib.request.urlopen(f"{server_url}/health", timeout=2) as response:
        assert response.headers["server"] is None


def test_a_half_sent_request_is_closed_after_the_header_timeout(server_url: str) -> None:
    wait_for_health(f"{server_url}/health")
    host, port = server_url.removeprefix("http://").split(":")

    with socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT_SECONDS + 5) as held:
        held.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answer = held.recv(1024)
        waited = time.monotonic() - started
        closed = held.recv(1024) == b""

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert closed
    assert HEADER_TIMEOUT_SECONDS * 0.5 < waited < HEADER_TIMEOUT_SECONDS + 3


def test_the_server_takes_the_whole_open_file_limit() -> None:
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(64, hard), hard))\n"
        "from {{ cookiecutter.package_name }}.server import raise_open_file_limit\n"
        "raise_open_file_limit()\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout == "True\n"


@pytest.mark.parametrize("arguments", [[], ["--check-health"]])
def test_a_wrong_setting_is_named_without_a_traceback(arguments: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", *arguments],
        env={**os.environ, "LOG_LEVEL": "bogus"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid settings: LOG_LEVEL='bogus': ")
    assert "Traceback" not in result.stderr


ANOTHER_APP = """
async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"the adopted app"})
"""


def test_asgi_app_serves_another_app_behind_the_health_route(tmp_path: Path) -> None:
    (tmp_path / "adopted_main.py").write_text(ANOTHER_APP, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "ASGI_APP": "adopted_main:application",
        "PYTHONPATH": str(tmp_path),
    }
    server = subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.package_name }}"], env=env)
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/health")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/items", timeout=2) as response:
            own = response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert health == {"status": "ok"}
    assert own == b"the adopted app"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("nowhere.main:app", "no module named 'nowhere'"),
        ("{{ cookiecutter.package_name }}.app:missing", "has no attribute 'missing'"),
        ("{{ cookiecutter.package_name }}.app:__version__", "'__version__' is not an ASGI app"),
        ("{{ cookiecutter.package_name }}.app", "String should match pattern"),
    ],
)
def test_a_wrong_asgi_app_is_named_without_a_traceback(value: str, problem: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}"],
        env={**os.environ, "ASGI_APP": value},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert f"ASGI_APP={value!r}: " in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_check_health_asks_the_running_server(server_url: str) -> None:
    wait_for_health(f"{server_url}/health")
    port = server_url.rsplit(":", 1)[1]

    healthy = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "--check-health"],
        env={**os.environ, "PORT": port},
        check=False,
    )
    unhealthy = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "--check-health"],
        env={**os.environ, "PORT": port, "HEALTH_PATH": "/missing"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert healthy.returncode == 0
    assert unhealthy.returncode == 1
    assert "unhealthy: GET http://127.0.0.1:" in unhealthy.stderr
{%- else -%}
"""``python -m {{ cookiecutter.package_name }}`` runs the command line."""

import os
import signal
import subprocess
import sys
import time

# A command that runs until it is stopped, added to the app's own command line.
LONG_COMMAND = """
import time
import click
from {{ cookiecutter.package_name }}.cli import cli, main

@cli.command()
def wait() -> None:
    click.echo("ready", err=True)
    time.sleep(60)

main()
"""


def test_module_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "greet", "Ada"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "Hello, Ada!\n"


def test_a_wrong_setting_is_named_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "greet"],
        env={**os.environ, "LOG_LEVEL": "bogus"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("Error: invalid settings: LOG_LEVEL='bogus': ")
    assert "Traceback" not in result.stderr


def test_sigterm_ends_a_command_quietly_with_143() -> None:
    command = subprocess.Popen(
        [sys.executable, "-c", LONG_COMMAND, "wait"], stderr=subprocess.PIPE, text=True
    )
    assert command.stderr is not None
    assert command.stderr.readline() == "ready\n"
    started = time.monotonic()

    command.send_signal(signal.SIGTERM)
    returncode = command.wait(timeout=10)

    assert returncode == 143
    assert time.monotonic() - started < 5
    assert "Aborted" not in command.stderr.read()
{%- endif %}
