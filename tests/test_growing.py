"""Day two: a real application grows into the generated project, each change made as the README's
"Growing the project" says, then built and run on a real engine.

One FastAPI project on Python 3.11 is baked and locked once; each story copies it, makes its edits,
builds its own image and runs it. Every image, container and volume these tests make is removed.
"""

import hashlib
import re
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from template_harness import (
    bake_locked,
    build_step_states,
    free_port,
    remove_images_named,
    run_checked,
    step_state,
    tool_environment,
    write_image_requirements,
)

pytestmark = pytest.mark.docker

PREFIX = f"template-grow-{uuid.uuid4().hex[:8]}"
SLUG = f"{PREFIX}-svc"
PACKAGE = SLUG.replace("-", "_")
PYTHON = "3.11"
RUNTIME_UID = "10001"
# A C extension published as an sdist only (no wheel for any Linux CPython): it must be compiled.
SDIST_ONLY_DEPENDENCY = "netifaces==0.11.0"
HEALTHY_WITHIN_SECONDS = 60


@dataclass
class Project:
    path: Path
    image: str

    def read(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        (self.path / name).write_text(text, encoding="utf-8")

    def replace(self, name: str, old: str, new: str) -> None:
        text = self.read(name)
        assert text.count(old) == 1, f"{old!r} in {name}"
        self.write(name, text.replace(old, new))


@pytest.fixture(scope="module", autouse=True)
def remove_test_images():
    yield
    remove_images_named(PREFIX)


@pytest.fixture(scope="module")
def locked_project(docker, base_image, tmp_path_factory) -> Path:
    project, _ = bake_locked(
        tmp_path_factory.mktemp("grow"),
        app_type="fastapi",
        python_version=PYTHON,
        project_slug=SLUG,
        docker_base_image=base_image(PYTHON),
    )
    return project


@pytest.fixture
def project(locked_project, tmp_path, request) -> Project:
    """A copy of the locked project, with an image tag of its own."""
    copy = tmp_path / SLUG
    shutil.copytree(locked_project, copy, ignore=shutil.ignore_patterns(".venv", ".git"))
    return Project(copy, f"{PREFIX}-{request.node.name[5:40].replace('_', '-').strip('-')}:dev")


def build(docker: str, project: Project, *args: str, target: str | None = None) -> str:
    """docker build, as poe docker-build runs it; returns BuildKit's plain progress output."""
    targeting = ["--target", target] if target else []
    completed = run_checked(
        [docker, "build", "--tag", project.image, *targeting, *args, "."],
        cwd=project.path,
        env=tool_environment(DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain"),
    )
    return completed.stderr


def relock(poetry: str, project: Project) -> None:
    run_checked([poetry, "lock"], cwd=project.path)
    written = write_image_requirements(project.path)
    assert written.returncode == 0, written.stdout + written.stderr


def set_dockerfile_argument(project: Project, name: str, value: str) -> None:
    """The README's edit: the value of a marked `ARG NAME=""` line."""
    project.replace("Dockerfile", f'ARG {name}=""\n', f'ARG {name}="{value}"\n')


def add_runtime_files(project: Project, *paths: str) -> None:
    """The README's edit: a COPY line each at the app-files stage's EDIT mark, and a `!` line each at
    .dockerignore's (the build context is an allowlist)."""
    for name, pattern, line in (
        ("Dockerfile", r"^# EDIT: files the app reads at run time.*\n(#.*\n)*", "COPY {0} /app/{0}"),
        (".dockerignore", r"^# EDIT: a file or folder the app reads at run time.*\n(#.*\n)*", "!{0}"),
    ):
        text = project.read(name)
        marker = re.search(pattern, text, re.MULTILINE)
        assert marker, text
        added = "".join(line.format(path) + "\n" for path in paths)
        project.write(name, text[: marker.end()] + added + text[marker.end() :])


def in_image(docker: str, image: str, *command: str, user: str | None = None, options: tuple = ()) -> str:
    as_user = ["--user", user] if user else []
    return run_checked(
        [docker, "run", "--rm", *as_user, *options, "--entrypoint", command[0], image, *command[1:]], cwd=Path.cwd()
    ).stdout


def smoke_test(project: Project, *docker_options: str) -> str:
    return run_checked(["sh", "scripts/docker-smoke-test.sh", project.image, *docker_options], cwd=project.path).stdout


def change_one_line_of_code(project: Project, module: str) -> None:
    path = project.path / module
    path.write_text(path.read_text(encoding="utf-8") + "\nCHANGED = True\n", encoding="utf-8")


def assert_code_change_keeps_dependencies_cached(docker: str, project: Project, module: str) -> dict:
    change_one_line_of_code(project, module)
    output = build(docker, project)
    states = build_step_states(output)
    assert step_state(states, "uv pip sync --quiet") == "CACHED", output
    assert step_state(states, "[app-files ", "COPY src/") == "RUN", output
    return states


def rename_package(project: Project, new_name: str) -> None:
    """Move src/<package> to src/<new_name> and say so in pyproject.toml: the only edits a rename needs."""
    (project.path / "src" / PACKAGE).rename(project.path / "src" / new_name)
    pyproject = project.read("pyproject.toml").replace(f'include = "{PACKAGE}"', f'include = "{new_name}"')
    project.write("pyproject.toml", pyproject.replace(f'"{PACKAGE}.__main__:main"', f'"{new_name}.__main__:main"'))
    for test in (project.path / "tests").rglob("*.py"):
        test.write_text(test.read_text(encoding="utf-8").replace(PACKAGE, new_name), encoding="utf-8")


def test_a_renamed_package_builds_runs_and_keeps_its_dependency_layer(docker, project):
    rename_package(project, "billing")

    build(docker, project)
    smoke = smoke_test(project)

    assert "turned healthy" in smoke
    assert in_image(docker, project.image, "python", "-c", "import billing; print(billing.__file__)") == (
        "/app/src/billing/__init__.py\n"
    )
    assert_code_change_keeps_dependencies_cached(docker, project, "src/billing/app.py")


def test_a_second_namespace_package_with_its_own_console_script(docker, project):
    project.write("src/acme/reports/__init__.py", 'def main() -> None:\n    print("report ready")\n')
    pyproject = tomllib.loads(project.read("pyproject.toml"))
    assert pyproject["tool"]["poetry"]["packages"] == [{"include": PACKAGE, "from": "src"}]
    project.replace(
        "pyproject.toml",
        f'packages = [{{ include = "{PACKAGE}", from = "src" }}]',
        f'packages = [{{ include = "{PACKAGE}", from = "src" }}, {{ include = "acme/reports", from = "src" }}]',
    )
    project.replace("pyproject.toml", "[project.scripts]\n", '[project.scripts]\nreports = "acme.reports:main"\n')

    build(docker, project)

    assert in_image(docker, project.image, "reports", user=RUNTIME_UID) == "report ready\n"
    assert not (project.path / "src" / "acme" / "__init__.py").exists()
    assert "turned healthy" in smoke_test(project)
    assert_code_change_keeps_dependencies_cached(docker, project, "src/acme/reports/__init__.py")


def test_a_dependency_built_from_source_gets_its_compiler_in_the_builder_only(docker, poetry, project):
    project.replace(
        "pyproject.toml", '    "uvicorn>=0.22",\n', f'    "uvicorn>=0.22",\n    "{SDIST_ONLY_DEPENDENCY}",\n'
    )
    relock(poetry, project)
    locked = {package["name"]: package for package in tomllib.loads(project.read("poetry.lock"))["package"]}
    set_dockerfile_argument(project, "BUILD_PACKAGES", "gcc libc6-dev")

    build(docker, project)
    found = in_image(
        docker,
        project.image,
        "python",
        "-c",
        "import netifaces, shutil; print(bool(netifaces.interfaces()), shutil.which('gcc'), shutil.which('cc'))",
        user=RUNTIME_UID,
    )

    # No wheel for this Python, only the sdist: the builder compiled it (Poetry's cache keeps the wheel).
    files = [file["file"] for file in locked["netifaces"]["files"]]
    assert "netifaces-0.11.0.tar.gz" in files
    assert not [name for name in files if re.search(rf"-(cp{PYTHON.replace('.', '')}|abi3|py3-none)", name)]
    assert found == "True None None\n"


def test_a_runtime_system_package_is_there_and_code_changes_skip_it(docker, project):
    set_dockerfile_argument(project, "RUNTIME_PACKAGES", "jq")

    build(docker, project)
    version = in_image(docker, project.image, "jq", "--version", user=RUNTIME_UID)
    states = assert_code_change_keeps_dependencies_cached(docker, project, f"src/{PACKAGE}/app.py")

    assert version.startswith("jq-")
    assert step_state(states, "[runtime ", "apt-get install") == "CACHED"


WRITE_DATA_AND_HOME = (
    "import os, pathlib; "
    "pathlib.Path(os.environ['DATA_DIR'], 'app.db').write_text('rows'); "
    "pathlib.Path(os.environ['HOME'], '.cache').mkdir(); "
    "print(os.getuid(), sorted(os.listdir(os.environ['DATA_DIR'])))"
)


def test_the_app_user_writes_its_data_directory_and_home_even_read_only(docker, project):
    build(docker, project)
    volume = f"{PREFIX}-data-{uuid.uuid4().hex[:6]}"
    try:
        plain = in_image(docker, project.image, "python", "-c", WRITE_DATA_AND_HOME)
        read_only = in_image(
            docker,
            project.image,
            "python",
            "-c",
            WRITE_DATA_AND_HOME,
            options=("--read-only", "--tmpfs", "/tmp", "--volume", f"{volume}:/app/data"),
        )
        kept = in_image(docker, project.image, "ls", "-n", "/app/data", options=("--volume", f"{volume}:/app/data:ro"))
    finally:
        subprocess.run([docker, "volume", "rm", "--force", volume], capture_output=True, check=False)

    assert plain == f"{RUNTIME_UID} ['app.db']\n"
    assert read_only == f"{RUNTIME_UID} ['app.db']\n"
    assert f" {RUNTIME_UID} {RUNTIME_UID} " in kept


def test_runtime_files_outside_src_are_one_marked_edit_for_the_image_and_its_tests(docker, poetry, project):
    project.write("alembic.ini", "[alembic]\nscript_location = migrations\n")
    project.write("migrations/0001_create.sql", "CREATE TABLE items (id INTEGER);\n")
    project.write(
        "tests/test_migrations.py",
        "from pathlib import Path\n\n\n"
        "def test_migrations_ship_with_the_app() -> None:\n"
        '    assert "script_location" in Path("alembic.ini").read_text()\n'
        '    assert Path("migrations/0001_create.sql").is_file()\n',
    )
    add_runtime_files(project, "alembic.ini", "migrations/")

    build(docker, project)
    tests = build(docker, project, target="test")
    listing = in_image(
        docker, project.image, "cat", "/app/alembic.ini", "/app/migrations/0001_create.sql", user=RUNTIME_UID
    )

    assert "test_migrations.py ." in tests
    assert listing == "[alembic]\nscript_location = migrations\nCREATE TABLE items (id INTEGER);\n"


def test_a_test_dependency_group_is_installed_by_the_test_stage(docker, poetry, project):
    project.replace(
        "pyproject.toml",
        "[tool.poetry.group.dev.dependencies]\n",
        '[tool.poetry.group.test.dependencies]\ntomli-w = ">=1.0"\n\n[tool.poetry.group.dev.dependencies]\n',
    )
    project.write(
        "tests/test_test_group.py",
        "import tomli_w\n\n\ndef test_the_test_group_is_installed() -> None:\n"
        '    assert tomli_w.dumps({"a": 1}) == "a = 1\\n"\n',
    )
    relock(poetry, project)

    output = build(docker, project, target="test")

    assert "Installing tomli-w" in output
    assert "test_test_group.py ." in output


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def poll(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def remove_containers_of(docker: str, image: str) -> None:
    listed = run_checked(
        [docker, "ps", "--all", "--quiet", "--filter", f"ancestor={image}"], cwd=Path.cwd()
    ).stdout.split()
    if listed:
        subprocess.run([docker, "rm", "--force", *listed], capture_output=True, check=False)


def test_poe_docker_run_gives_an_env_file_to_the_app(docker, poetry, project, tmp_path):
    build(docker, project)
    run_checked([docker, "tag", project.image, f"{SLUG}:dev"], cwd=project.path)
    env_file = tmp_path / "settings.env"
    env_file.write_text("HEALTH_PATH=/ready\nLOG_LEVEL=warning\n", encoding="utf-8")
    port = free_port()
    run_checked([poetry, "install", "--only", "dev"], cwd=project.path)
    server = subprocess.Popen(
        [poetry, "run", "poe", "docker-run", "--env-file", str(env_file), "--port", str(port)],
        cwd=project.path,
        env=tool_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = poll(lambda: get(f"http://127.0.0.1:{port}/ready") == 200, HEALTHY_WITHIN_SECONDS)
        old_path = get(f"http://127.0.0.1:{port}/health")
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
        remove_containers_of(docker, f"{SLUG}:dev")

    assert ready, output
    assert old_path == 404
    assert "--env-file" in output


def test_a_changed_health_path_is_one_edit_and_the_smoke_test_follows(docker, project):
    project.replace(f"src/{PACKAGE}/settings.py", 'health_path: str = "/health"', 'health_path: str = "/healthz"')

    build(docker, project)
    smoke = smoke_test(project)
    bad_settings = subprocess.run(
        ["sh", "scripts/docker-smoke-test.sh", project.image],
        cwd=project.path,
        env=tool_environment(SMOKE_TEST_ENV="PORT=not-a-number"),
        capture_output=True,
        text=True,
        check=False,
    )

    assert "turned healthy" in smoke
    assert bad_settings.returncode == 1
    assert "invalid settings: PORT='not-a-number': Input should be a valid integer" in bad_settings.stderr
    assert "Traceback" not in bad_settings.stderr


def test_the_test_stage_takes_its_settings_from_an_env_file_kept_in_no_layer(docker, poetry, project, tmp_path):
    secret = f"https://api.example.com/{uuid.uuid4().hex}"
    project.write(
        "tests/test_needs_settings.py",
        # The test knows the value's hash only, so the value itself can be looked for in every layer.
        f'import hashlib\nimport os\n\nEXPECTED = "{hashlib.sha256(secret.encode()).hexdigest()}"\n\n\n'
        "def test_the_settings_reach_the_tests() -> None:\n"
        '    value = os.environ["SERVICE_BASE_URL"].encode()\n'
        "    assert hashlib.sha256(value).hexdigest() == EXPECTED\n",
    )
    env_file = tmp_path / "test.env"
    env_file.write_text(f"SERVICE_BASE_URL={secret}\n", encoding="utf-8")
    run_checked([poetry, "install", "--only", "dev"], cwd=project.path)

    completed = run_checked(
        [poetry, "run", "poe", "docker-test", "--env-file", str(env_file)],
        cwd=project.path,
        env=tool_environment(BUILDKIT_PROGRESS="plain"),
    )
    history = run_checked([docker, "history", "--no-trunc", f"{SLUG}:test"], cwd=project.path).stdout
    saved = subprocess.run([docker, "save", f"{SLUG}:test"], capture_output=True, check=True).stdout
    subprocess.run([docker, "image", "rm", "--force", f"{SLUG}:test"], capture_output=True, check=False)

    assert "test_needs_settings.py ." in completed.stdout + completed.stderr
    assert secret not in history
    assert secret.encode() not in saved
