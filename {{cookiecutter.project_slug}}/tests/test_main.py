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

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_url() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
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

import subprocess
import sys


def test_module_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "greet", "Ada"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "Hello, Ada!\n"
{%- endif %}
