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


def test_module_serves_health(server_url: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"{server_url}/health", timeout=1) as response:
                assert json.load(response) == {"status": "ok"}
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
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
