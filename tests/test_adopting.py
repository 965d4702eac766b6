"""Adopting an existing service, step by step as docs/adopting.md says.

The app is written by the test, as a team's repository would hold it: a Poetry project with its own package
(`ledger`, served as `ledger.main:app`), its own settings, its own tests named like the template's
(`tests/test_main.py`, `tests/test_cli.py`), untyped code the strict gates would refuse, a console script of
another name (`ledger-admin`), and a lock holding older releases than its constraints would resolve to today.
It moves into a generated project, keeps every locked version, passes `poe check` with the scoped gates,
builds, and the image serves the app's own route and the health route; the CLI variant runs its command.
"""

import contextlib
import json
import re
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from template_harness import bake, free_port, remove_images_named, run_checked, run_unchecked, tool_environment

pytestmark = pytest.mark.slow

PREFIX = f"template-adopt-{uuid.uuid4().hex[:8]}"
PYTHON = "3.11"
# What the app locked long ago; its constraints (carets) would resolve to newer releases today.
LOCKED = {"fastapi": "0.100.0", "uvicorn": "0.22.0", "pydantic": "2.7.4", "click": "8.1.3", "httpx": "0.23.3"}
CARETS = {name: f"^{version}" for name, version in LOCKED.items()}
MAIN_DEPENDENCIES = ("fastapi", "uvicorn", "pydantic", "click")
HEALTHY_WITHIN_SECONDS = 60

APP_FILES = {
    "ledger/__init__.py": "",
    # A setting without a default: the app does not even import without it (the template's tests must not care).
    "ledger/config.py": (
        "from pydantic_settings import BaseSettings\n\n"
        "class LedgerSettings(BaseSettings):\n"
        '    currency: str = "EUR"\n'
        "    ledger_database_port: int\n\n"
        "settings = LedgerSettings()\n"
    ),
    # Its "database" is a port on the host's 127.0.0.1, which it must reach to start.
    "ledger/main.py": (
        "import contextlib, socket\n"
        "from fastapi import FastAPI\n"
        "from ledger.config import settings\n\n"
        "@contextlib.asynccontextmanager\n"
        "async def lifespan(app):\n"
        '    socket.create_connection(("127.0.0.1", settings.ledger_database_port), timeout=2).close()\n'
        "    yield\n\n"
        'app = FastAPI(title="Ledger", lifespan=lifespan)\n\n'
        '@app.get("/entries/{entry_id}")\n'
        "def entry(entry_id: int):\n"
        '    return {"id": entry_id, "currency": settings.currency}\n'
    ),
    "ledger/cli.py": (
        "import click\n"
        "from ledger.config import settings\n\n"
        "@click.group()\n"
        "def cli():\n"
        "    pass\n\n"
        "@cli.command()\n"
        "def balance():\n"
        '    click.echo(f"balance: 0 {settings.currency}")\n\n'
        "def main():\n"
        "    cli()\n"
    ),
    "tests/test_main.py": (
        "from fastapi.testclient import TestClient\n"
        "from ledger.main import app\n\n"
        "def test_entry():\n"
        '    assert TestClient(app).get("/entries/7").json() == {"id": 7, "currency": "EUR"}\n'
    ),
    # Its tests call git, which the image's test stage lacks until TEST_PACKAGES says so.
    "tests/test_cli.py": (
        "import subprocess\n"
        "from click.testing import CliRunner\n"
        "from ledger.cli import cli\n\n"
        "def test_balance():\n"
        '    assert CliRunner().invoke(cli, ["balance"]).output == "balance: 0 EUR\\n"\n\n'
        "def test_git_is_there():\n"
        '    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0\n'
    ),
    "tests/conftest.py": 'import os\n\nos.environ.setdefault("LEDGER_DATABASE_PORT", "5432")\n',
}


def app_pyproject(constraints: dict[str, str]) -> str:
    """The app's own pyproject.toml, Poetry 1 style, as older repositories have it."""
    main = "".join(f'{name} = "{constraints[name]}"\n' for name in MAIN_DEPENDENCIES)
    return (
        '[tool.poetry]\nname = "ledger"\nversion = "1.4.0"\ndescription = "Ledger"\n'
        'authors = ["Team <t@example.com>"]\n'
        'packages = [{ include = "ledger" }]\n\n'
        f'[tool.poetry.dependencies]\npython = "^{PYTHON}"\n{main}pydantic-settings = "^2.0"\n\n'
        f'[tool.poetry.group.dev.dependencies]\npytest = "^8.0"\nhttpx = "{constraints["httpx"]}"\n\n'
        '[tool.poetry.scripts]\nledger-admin = "ledger.cli:main"\n\n'
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )


def pep508(name: str, caret: str) -> str:
    """A caret constraint as [project] dependencies spell it: ^0.100.0 is >=0.100.0,<0.101.0."""
    parts = [int(part) for part in caret.removeprefix("^").split(".")]
    first = next((index for index, part in enumerate(parts) if part), len(parts) - 1)
    upper = [*parts[:first], parts[first] + 1] + [0] * (len(parts) - first - 1)
    return f'"{name} (>={".".join(map(str, parts))},<{".".join(map(str, upper))})"'


@pytest.fixture(scope="module", autouse=True)
def remove_test_images():
    yield
    remove_images_named(PREFIX)


@pytest.fixture(scope="module")
def existing_app(tmp_path_factory, poetry) -> Path:
    """The team's repository: its code, tests and lock, locked at the old releases, constraints as carets."""
    app = tmp_path_factory.mktemp("existing") / "ledger"
    for name, text in APP_FILES.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text, encoding="utf-8")
    (app / "pyproject.toml").write_text(app_pyproject(LOCKED), encoding="utf-8")
    # Its environment in its own folder, as a generated project's poetry.toml says (not in Poetry's cache).
    run_checked([poetry, "lock"], cwd=app, env=tool_environment(POETRY_VIRTUALENVS_IN_PROJECT="true"))
    (app / "pyproject.toml").write_text(app_pyproject(CARETS), encoding="utf-8")
    return app


def locked_versions(project: Path) -> dict[str, str]:
    lock = tomllib.loads((project / "poetry.lock").read_text(encoding="utf-8"))
    return {package["name"]: package["version"] for package in lock["package"]}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def adopt(existing_app: Path, project: Path, poetry: str, main: tuple[str, ...], tests: tuple[str, ...]) -> None:
    """docs/adopting.md, steps 2 to 4: the package, the dependencies with the app's lock, the tests."""
    shutil.copytree(existing_app / "ledger", project / "src" / "ledger")
    package = project.name.replace("-", "_")
    pyproject = project / "pyproject.toml"
    edit(
        pyproject,
        f'packages = [{{ include = "{package}", from = "src" }}]',
        f'packages = [{{ include = "{package}", from = "src" }}, {{ include = "ledger", from = "src" }}]',
    )
    edit(pyproject, "[project.scripts]\n", '[project.scripts]\nledger-admin = "ledger.cli:main"\n')
    ours = "".join(f"    {pep508(name, CARETS[name])},\n" for name in main) + '    "pydantic-settings (>=2.0)",\n'
    marker = re.search(
        r"    # The template's dependencies end here.*\n(    #.*\n)*", pyproject.read_text(encoding="utf-8")
    )
    assert marker
    edit(pyproject, marker[0], marker[0] + ours)
    edit(
        pyproject,
        "# The template's dev tools end here",
        f'httpx = "{CARETS["httpx"]}"\n# The template\'s dev tools end here',
    )
    shutil.copy2(existing_app / "poetry.lock", project / "poetry.lock")
    run_checked([poetry, "lock"], cwd=project)
    # Step 3: the derived image-requirements.txt, which the image installs, from the carried lock.
    run_checked([poetry, "install"], cwd=project)
    run_checked([poetry, "run", "poe", "lock"], cwd=project)
    for test in tests:
        shutil.copy2(existing_app / "tests" / test, project / "tests" / test)


def scope_the_gates(project: Path, modules: list[str], paths: list[str]) -> None:
    """docs/adopting.md, step 5: the imported code's globs and modules at the two marked places."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    ruff_line = re.search(r'^# ("src/ledger/\*\*" = .*)$', text, re.MULTILINE)
    assert ruff_line
    text = text.replace(ruff_line[0], "\n".join(ruff_line[1].replace("src/ledger/**", path) for path in paths))
    mypy_block = re.search(r"^# \[\[tool\.mypy\.overrides\]\]\n(# .*\n)+", text, re.MULTILINE)
    assert mypy_block
    table = re.sub(r"^# ", "", mypy_block[0], flags=re.MULTILINE)
    table = table.replace('module = ["ledger.*"]', f"module = {modules!r}".replace("'", '"'))
    pyproject.write_text(text.replace(mypy_block[0], table), encoding="utf-8")


def build(docker: str, project: Path, image: str, *args: str) -> str:
    """docker build, as poe docker-build runs it; returns BuildKit's plain progress output."""
    return run_checked(
        [docker, "build", "--tag", image, *args, "."],
        cwd=project,
        env=tool_environment(DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain"),
    ).stderr


@contextlib.contextmanager
def listening_port() -> Iterator[int]:
    """A port on this machine's 127.0.0.1 that accepts connections: the app's database, as far as it knows."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.mark.docker
def test_a_fastapi_service_keeps_its_lock_passes_the_scoped_gates_and_is_served_healthy(
    docker, poetry, base_image, existing_app, tmp_path
):
    slug = f"{PREFIX}-ledger"
    result = bake(
        tmp_path, app_type="fastapi", project_slug=slug, python_version=PYTHON, docker_base_image=base_image(PYTHON)
    )
    assert result.returncode == 0, result.output
    project = result.project
    adopt(existing_app, project, poetry, MAIN_DEPENDENCIES, ("test_main.py", "test_cli.py", "conftest.py"))
    settings = project / "src" / slug.replace("-", "_") / "settings.py"
    edit(settings, 'asgi_app: AppReference = f"{__package__}.app:app"', 'asgi_app: AppReference = "ledger.main:app"')
    edit(project / "Dockerfile", 'ARG TEST_PACKAGES=""', 'ARG TEST_PACKAGES="git"')
    run_checked([poetry, "install"], cwd=project)
    strict = run_unchecked([poetry, "run", "poe", "check"], cwd=project)
    scope_the_gates(project, ["ledger.*", "test_main", "test_cli", "conftest"], ["src/ledger/**", "tests/*.py"])
    run_checked([poetry, "run", "ruff", "format", "src/ledger", "tests"], cwd=project)
    run_checked([poetry, "run", "ruff", "check", "--fix", "--quiet", "src/ledger", "tests"], cwd=project)
    checked = run_unchecked([poetry, "run", "poe", "check"], cwd=project)
    image = f"{slug}:dev"
    build(docker, project, image)
    tested_in_image = build(docker, project, f"{slug}:test", "--target", "test")
    with listening_port() as database_port:
        env_file = tmp_path / "smoke.env"
        port = free_port()
        env_file.write_text(f"PORT={port}\nLEDGER_DATABASE_PORT={database_port}\n", encoding="utf-8")
        bridged = run_unchecked(["sh", "scripts/docker-smoke-test.sh", image, "--env-file", str(env_file)], project)
        smoke = run_checked(
            [poetry, "run", "poe", "docker-smoke", "--env-file", str(env_file), "--network", "host"], cwd=project
        )
        name = f"{PREFIX}-served"
        run_checked(
            [docker, "run", "--detach", "--name", name, "--network", "host", "--env-file", str(env_file), image],
            cwd=project,
        )
        try:
            answers = {path: wait_for_json(f"http://127.0.0.1:{port}{path}") for path in ("/health", "/entries/7")}
        finally:
            subprocess.run([docker, "rm", "--force", name], capture_output=True, check=False)

    assert {name: locked_versions(project)[name] for name in LOCKED} == LOCKED
    assert strict.returncode != 0, strict.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"tests/test_main\.py \.\s", checked.stdout), checked.stdout
    assert re.search(r"tests/template/test_main\.py \.+", checked.stdout), checked.stdout
    assert "test_cli.py .." in tested_in_image
    assert bridged.returncode == 1, bridged.stdout + bridged.stderr
    assert "turned healthy" in smoke.stdout
    assert answers == {"/health": {"status": "ok"}, "/entries/7": {"id": 7, "currency": "EUR"}}


@pytest.mark.docker
def test_a_cli_keeps_its_lock_and_the_image_runs_its_own_command(docker, poetry, base_image, existing_app, tmp_path):
    result = bake(
        tmp_path,
        app_type="cli",
        project_slug="ledger-tool",
        python_version=PYTHON,
        docker_base_image=base_image(PYTHON),
    )
    assert result.returncode == 0, result.output
    project = result.project
    adopt(existing_app, project, poetry, ("pydantic", "click"), ("test_cli.py",))
    edit(project / "Dockerfile", 'ENTRYPOINT ["ledger-tool"]', 'ENTRYPOINT ["ledger-admin"]')
    image = f"{PREFIX}-cli:dev"
    build(docker, project, image)
    setting = ("--env", "LEDGER_DATABASE_PORT=5432")
    command = run_checked([docker, "run", "--rm", *setting, image, "balance"], cwd=project)
    smoke = run_checked(["sh", "scripts/docker-smoke-test.sh", image, *setting], cwd=project)

    assert {name: locked_versions(project)[name] for name in ("pydantic", "click")} == {
        "pydantic": LOCKED["pydantic"],
        "click": LOCKED["click"],
    }
    assert command.stdout == "balance: 0 EUR\n"
    assert "ok: " in smoke.stdout


# A dependency whose own Python range ends at <4.0, as many Poetry-built packages declare, and no dependencies.
CAPPED_AT_PYTHON_4 = "crashtest (>=0.4.1)"


def test_requires_python_switch_lets_a_dependency_capped_below_4_resolve(poetry, tmp_path):
    result = bake(tmp_path, app_type="cli", python_version=PYTHON)
    assert result.returncode == 0, result.output
    pyproject = result.project / "pyproject.toml"
    edit(
        pyproject,
        "[project.urls]\n",
        f'[project.optional-dependencies]\nerrors = ["{CAPPED_AT_PYTHON_4}"]\n\n[project.urls]\n',
    )

    refused = run_unchecked([poetry, "lock"], cwd=result.project)
    edit(pyproject, f'requires-python = ">={PYTHON}"', f'requires-python = ">={PYTHON},<4.0"')
    run_checked([poetry, "lock"], cwd=result.project)

    assert refused.returncode != 0
    assert "crashtest requires Python >=3.7,<4.0" in refused.stdout + refused.stderr
    assert "crashtest" in locked_versions(result.project)


def test_the_templates_dependencies_resolve_beside_an_apps_old_httpx(poetry, tmp_path):
    result = bake(tmp_path, app_type="fastapi", python_version=PYTHON)
    assert result.returncode == 0, result.output
    pyproject = result.project / "pyproject.toml"
    edit(pyproject, "# The template's dev tools end here", 'httpx = "^0.23.0"\n# The template\'s dev tools end here')

    run_checked([poetry, "lock"], cwd=result.project)

    assert locked_versions(result.project)["httpx"].startswith("0.23.")


def wait_for_json(url: str, seconds: float = HEALTHY_WITHIN_SECONDS):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
