"""The commands the benchmark runs: docker build, run, inspect and prune, each with a time limit, and the requests
it makes to a running image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import template_harness

from .config import (
    BUILD_TIMEOUT,
    COMMAND_TIMEOUT,
    CONTAINER_PORT,
    HEALTH_TIMEOUT,
    OTLP_PORT,
    PROBES_DIR,
    BenchError,
    Build,
)
from .stats import parse_build_log

UV_VERSION = template_harness.COOKIECUTTER_JSON["_uv_version"]
REQUEST_TIMEOUT = 20


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tool_env(**extra: str) -> dict:
    return template_harness.tool_environment(DOCKER_BUILDKIT="1", **extra)


def run(command: list[str], *, timeout: float = COMMAND_TIMEOUT, cwd: Path | None = None, env=None, check=True):
    """Run a command with a time limit; raise BenchError with the end of its output when it fails."""
    try:
        completed = subprocess.run(
            command, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(map(str, command[:4]))} took longer than {timeout} s") from None
    if check and completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()[-30:]
        raise BenchError(f"{' '.join(map(str, command[:4]))} exited {completed.returncode}:\n" + "\n".join(output))
    return completed


def docker_build(
    context: Path, dockerfile: Path, tag: str, base_image: str, *, build_args=(), target=None, no_cache: bool
) -> Build:
    """One BuildKit build with the same base image, Poetry and uv for every variant; its seconds and step log."""
    command = ["docker", "build", "--progress=plain", "--tag", tag, "--file", str(dockerfile)]
    build_args = (
        f"PYTHON_IMAGE={base_image}",
        f"POETRY_VERSION={template_harness.POETRY_VERSION}",
        f"UV_VERSION={UV_VERSION}",
        *build_args,
    )
    command += [part for build_arg in build_args for part in ("--build-arg", build_arg)]
    if target:
        command += ["--target", target]
    if no_cache:
        command.append("--no-cache")
    started = time.perf_counter()
    completed = run([*command, str(context)], timeout=BUILD_TIMEOUT)
    seconds = time.perf_counter() - started
    steps, cached = parse_build_log(completed.stderr)
    return Build(seconds, completed.stderr, steps, cached)


def empty_cache_mounts() -> None:
    # A prune waits for the engine's other builds: as long as a build may take, on a shared engine.
    run(["docker", "builder", "prune", "--force", "--filter", "type=exec.cachemount"], timeout=BUILD_TIMEOUT)


def empty_layer_cache() -> None:
    """Remove the build cache's layers that no image holds, and keep its cache mounts."""
    run(["docker", "builder", "prune", "--force", "--filter", "type=regular"], timeout=BUILD_TIMEOUT)


def remove_images(tags: list[str]) -> None:
    if tags:
        run(["docker", "image", "rm", "--force", *tags], check=False)


def image_size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout.strip())


def run_probe(image: str, probe: str, *arguments: str) -> str:
    """What a probe of probes/ prints, run by the image's own Python (as root, the file mounted read-only)."""
    mount = ["--volume", f"{PROBES_DIR / probe}:/tmp/bench-probe.py:ro"]
    command = ["docker", "run", "--rm", "--user", "0", *mount, "--entrypoint", "python", image, "/tmp/bench-probe.py"]
    return run([*command, *arguments]).stdout


def installer_bytes(image: str, venv: str) -> int:
    """Bytes of pip, setuptools, wheel and uv in the image's runtime environment (probes/installer_bytes.py)."""
    return int(run_probe(image, "installer_bytes.py", venv).strip())


def exclusive_bytes(image: str, project: str, roots: tuple[str, ...]) -> dict:
    """The bytes of the roots (requirements of the installed distribution project) and of what only they need,
    measured in the image by its own Python (probes/exclusive_bytes.py)."""
    return json.loads(run_probe(image, "exclusive_bytes.py", project, *roots))


def python_seconds(image: str, venv: str, code: str) -> tuple[float, str]:
    """Seconds from `docker run` to the exit of the venv's python running code, and what it printed."""
    command = ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", f'exec {venv}/bin/python -c "$0"', code]
    started = time.perf_counter()
    completed = run(command)
    return time.perf_counter() - started, completed.stdout


def app_import_seconds(image: str, venv: str, package: str) -> float:
    """Seconds the venv's python takes to import the app module, measured inside the container."""
    code = f"import time; started = time.perf_counter(); import {package}.app; print(time.perf_counter() - started)"
    return float(python_seconds(image, venv, code)[1])


@dataclass
class Served:
    seconds: float  # from `docker run` to the first 200
    body: bytes  # of that 200
    url: str  # the service's address on 127.0.0.1, for more requests


@contextmanager
def serving(image: str, name: str, path: str, *, env=(), network_of: str | None = None) -> Iterator[Served]:
    """Run the image and wait for the first 200 on path; the container is removed after.

    Its port is published on 127.0.0.1 only, or, with network_of, it joins that running container's network
    (and the port that container publishes). env: more VARIABLE=value settings for the app.
    """
    settings = ("HOST=0.0.0.0", f"PORT={CONTAINER_PORT}", *env)
    options = [part for setting in settings for part in ("--env", setting)]
    options += ["--network", f"container:{network_of}"] if network_of else ["--publish", f"127.0.0.1::{CONTAINER_PORT}"]
    started = time.perf_counter()
    try:
        run(["docker", "run", "--detach", "--name", name, *options, image])
        address = run(["docker", "port", network_of or name, f"{CONTAINER_PORT}/tcp"]).stdout.split()[0]
        url = f"http://{address}"
        while time.perf_counter() - started < HEALTH_TIMEOUT:
            try:
                # A first request that does real work (GET /notes) may take seconds on a loaded machine:
                # a shorter timeout abandons it and asks again, never seeing its answer.
                with urllib.request.urlopen(url + path, timeout=REQUEST_TIMEOUT) as response:
                    if response.status == 200:
                        served = Served(time.perf_counter() - started, response.read(), url)
                        break
            except OSError:
                time.sleep(0.02)
        else:
            logs = run(["docker", "logs", name], check=False)
            raise BenchError(f"{image}: no 200 on {url}{path} within {HEALTH_TIMEOUT} s\n{logs.stdout}{logs.stderr}")
        yield served
    finally:
        remove_container(name)


def first_200(image: str, name: str, path: str, env=()) -> tuple[float, bytes]:
    """Seconds from `docker run` to the first 200 on path, published on 127.0.0.1 only, and its body."""
    with serving(image, name, path, env=env) as served:
        return served.seconds, served.body


def remove_container(name: str) -> None:
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)


@contextmanager
def otlp_receiver(image: str, name: str) -> Iterator[str]:
    """A container of the image running probes/otlp_receiver.py on OTLP_PORT and publishing the app's port on
    127.0.0.1, for an app container that joins its network (serving's network_of); yields its name."""
    probe = PROBES_DIR / "otlp_receiver.py"
    mount = ["--volume", f"{probe}:/tmp/bench-otlp-receiver.py:ro", "--publish", f"127.0.0.1::{CONTAINER_PORT}"]
    command = ["docker", "run", "--detach", "--name", name, *mount, "--entrypoint", "python", image]
    try:
        run([*command, "/tmp/bench-otlp-receiver.py", str(OTLP_PORT)])
        yield name
    finally:
        remove_container(name)


def otlp_exports(receiver: str) -> int:
    """How many exports the receiver has answered (one line each)."""
    return run(["docker", "logs", receiver]).stdout.count("export ")


def stop_container(name: str) -> None:
    """docker stop: SIGTERM, so the app's shutdown runs (and exports the spans still pending)."""
    run(["docker", "stop", name])


def burst(url: str, requests: int, concurrency: int) -> list[float]:
    """Seconds of each of `requests` GETs on url, `concurrency` at a time, each timed by the client; every answer
    must be a 200."""

    def timed_get(_: int) -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            response.read()
            if response.status != 200:
                raise BenchError(f"GET {url} answered {response.status}")
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(timed_get, range(requests)))


def load_average() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as `uptime` prints them."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def template_revision() -> str:
    """The template's commit, with -dirty when the working tree has changes (the Dockerfile may be one)."""
    described = run(["git", "-C", str(template_harness.TEMPLATE_DIR), "describe", "--always", "--dirty"], check=False)
    return described.stdout.strip() or "unknown"
