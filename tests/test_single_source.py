"""Each fact of a generated project is written once and followed everywhere: the Python and Poetry versions,
the PostgreSQL major, the container port, the health path and the stack's database address, read back from
the rendered Dockerfile, compose.yaml, the devcontainer, CI, the settings and `poe test-db`."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from template_harness import COOKIECUTTER_JSON, FAST_ANSWERS

ANSWERS = {**FAST_ANSWERS, "app_type": "fastapi", "database": "postgresql"}
# Files that run or describe the service, where a version, a port or a path might be written again.
STACK_FILES = ("Dockerfile", "compose.yaml", ".devcontainer/devcontainer.json", ".github/workflows/ci.yml")


def read(project: Path, name: str) -> str:
    return (project / name).read_text(encoding="utf-8")


def devcontainer_json(project: Path) -> dict:
    """devcontainer.json without its // comments (JSON with comments, as the editors read it)."""
    text = read(project, ".devcontainer/devcontainer.json")
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))


@pytest.fixture(scope="module", params=COOKIECUTTER_JSON["python_version"])
def project(request, baked_project) -> Path:
    return baked_project({**ANSWERS, "python_version": request.param})


def test_python_and_poetry_versions_are_the_dockerfiles(project):
    dockerfile = read(project, "Dockerfile")
    python_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)[1]
    poetry_version = re.search(r"^ARG POETRY_VERSION=(\S+)$", dockerfile, re.MULTILINE)[1]
    compose = yaml.safe_load(read(project, "compose.yaml"))
    workflow = yaml.safe_load(read(project, ".github/workflows/ci.yml"))

    # Compose and the devcontainer build the Dockerfile's stages and pass PYTHON_IMAGE only when it is set.
    for service in ("app", "dev"):
        assert compose["services"][service]["build"]["args"] == ["PYTHON_IMAGE"]
    assert compose["services"]["dev"]["build"]["target"] == "poetry"
    assert devcontainer_json(project)["service"] == "dev"
    # CI sets up the same Python and reads Poetry's version from the Dockerfile.
    versions = [
        step["with"]["python-version"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "python-version" in step.get("with", {})
    ]
    assert versions
    assert all(python_image.startswith(f"python:{version}-") for version in versions)
    assert "ARG POETRY_VERSION" in read(project, ".github/workflows/ci.yml")
    for name in ("compose.yaml", ".devcontainer/devcontainer.json"):
        assert poetry_version not in read(project, name), name
        assert not re.search(r"python:\d", read(project, name)), name


def test_the_postgres_major_is_cookiecutters(project):
    major = COOKIECUTTER_JSON["_postgres_version"]
    compose = yaml.safe_load(read(project, "compose.yaml"))

    assert compose["services"]["db"]["image"] == f"${{POSTGRES_IMAGE:-postgres:{major}}}"
    assert f"# POSTGRES_IMAGE=postgres:{major}\n" in read(project, ".env.example")
    written = {match for name in STACK_FILES for match in re.findall(r"postgres:(\d+)", read(project, name))}
    assert written <= {major}


def test_the_port_is_8000_everywhere(project):
    dockerfile = read(project, "Dockerfile")
    compose = yaml.safe_load(read(project, "compose.yaml"))
    settings = next(project.glob("src/*/settings.py")).read_text(encoding="utf-8")

    exposed = set(re.findall(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE))
    image_port = set(re.findall(r"^\s+PORT=(\d+)", dockerfile, re.MULTILINE))
    published = {port.rsplit(":", 1)[1] for port in compose["services"]["app"]["ports"]}
    forwarded = {str(port) for port in devcontainer_json(project)["forwardPorts"]}
    default = set(re.findall(r"port: .*= (\d+)$", settings, re.MULTILINE))
    assert exposed == image_port == published == forwarded == default == {"8000"}


def test_the_health_path_is_the_settings_alone(project):
    settings = next(project.glob("src/*/settings.py")).read_text(encoding="utf-8")
    compose = yaml.safe_load(read(project, "compose.yaml"))

    path = re.search(r'health_path: str = "([^"]+)"', settings)[1]
    # The image's HEALTHCHECK asks the app for its own path; Compose uses the image's healthcheck.
    assert "--check-health" in read(project, "Dockerfile")
    assert "healthcheck" not in compose["services"]["app"]
    for name in STACK_FILES:
        assert path not in read(project, name), f"{name} writes the health path {path} again"


def test_the_tests_database_is_found_through_compose(project):
    """`poe test-db` takes the stack's user, password and published address from Compose: its script
    writes none of them again, and the generated tests, skipping without a database, name it first."""
    tasks = tomllib.loads(read(project, "pyproject.toml"))["tool"]["poe"]["tasks"]
    script = read(project, tasks["test-db"]["cmd"].removeprefix("python "))
    skip_message = read(project, "tests/template/conftest.py")

    assert not re.search(r"\b\d{4,5}\b|127\.0\.0\.1|localhost|DB_PORT|POSTGRES_\w+:-", script)
    assert "POSTGRES_PASSWORD" in script
    assert skip_message.index("poe test-db") < skip_message.index("TEST_DATABASE_URL=postgresql://")
