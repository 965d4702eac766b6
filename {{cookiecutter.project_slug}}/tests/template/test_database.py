{%- set pkg = cookiecutter.package_name -%}
"""The database on a real PostgreSQL server (TEST_DATABASE_URL, see conftest.py): the migrations,
{% if cookiecutter.app_type == "fastapi" %}the example resource, readiness{% else %}the commands{% endif %}, and errors that name what is wrong."""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from alembic import command
{%- if cookiecutter.app_type == "fastapi" %}
from pydantic import SecretStr
{%- else %}
from click.testing import CliRunner
{%- endif %}
from sqlalchemy import Connection, Engine, inspect
{%- if cookiecutter.app_type == "fastapi" %}
from sqlalchemy.orm import Session
{%- endif %}

from {{ pkg }} import migrations
{% if cookiecutter.app_type == "fastapi" -%}
from {{ pkg }}.app import create_app, database_session
{%- else -%}
from {{ pkg }}.cli import cli
{%- endif %}
from {{ pkg }}.migrations import alembic_config
{%- if cookiecutter.app_type == "fastapi" %}
from {{ pkg }}.models import Item
from {{ pkg }}.server import HealthRoute
{%- endif %}
from {{ pkg }}.settings import Settings{% if cookiecutter.app_type == "cli" %}, get_settings{% endif %}
{%- if cookiecutter.app_type == "fastapi" %}

from .asgi import Client
{%- endif %}

# A server that is not there, with a password that must never be shown.
UNREACHABLE_URL = "postgresql://app:hunter2@127.0.0.1:1/app"


def run_migrations_module(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m <package>.migrations ARGUMENTS``, as ``poe db-migrate`` and the image run it."""
    environ = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", migrations.__name__, *arguments],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_models_and_the_migrations_agree(connection: Connection) -> None:
    # Fails after a model change without its migration: poe db-revision -m "..." writes it.
    command.check(alembic_config(connection=connection))


def test_the_migrations_go_down_to_nothing_and_up_again(database_engine: Engine) -> None:
    with database_engine.begin() as connection:
        config = alembic_config(connection=connection)
        command.downgrade(config, "base")
        assert inspect(connection).get_table_names() == ["alembic_version"]
        command.upgrade(config, "head")
        assert "items" in inspect(connection).get_table_names()


def test_the_migrations_module_reports_the_revision(database_settings: Settings) -> None:
    assert database_settings.database_url is not None
    url = os.environ["TEST_DATABASE_URL"]

    result = run_migrations_module("current", DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert "(head)" in result.stdout
{%- if cookiecutter.app_type == "fastapi" %}


def test_the_console_scripts_migrate_applies_the_migrations(database_settings: Settings) -> None:
    # `docker run IMAGE migrate`, as a deploy runs it: the image's entry point is this command.
    environ = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "{{ pkg }}", "migrate"],
        env={**environ, "DATABASE_URL": os.environ["TEST_DATABASE_URL"]},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    current = run_migrations_module("current", DATABASE_URL=os.environ["TEST_DATABASE_URL"])

    assert result.returncode == 0, result.stderr
    assert "(head)" in current.stdout
{%- endif %}


def test_the_migrations_module_names_a_missing_url_without_a_traceback() -> None:
    result = run_migrations_module("upgrade", "head")

    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid settings: DATABASE_URL: not set")
    assert "Traceback" not in result.stderr


def test_the_migrations_module_says_the_database_is_unreachable_never_its_password() -> None:
    result = run_migrations_module("upgrade", "head", DATABASE_URL=UNREACHABLE_URL)

    assert result.returncode == 1
    assert result.stderr.startswith("error: the database: ")
    assert "127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr
{%- if cookiecutter.app_type == "fastapi" %}


@pytest.fixture
def client(database_settings: Settings, session: Session) -> Iterator[Client]:
    """The app on the test database; its requests use the test's session (rolled back after it)."""
    app = create_app(database_settings)
    app.dependency_overrides[database_session] = lambda: session
    with Client(app) as client:
        yield client


def test_an_item_is_stored_and_read_back(client: Client, session: Session) -> None:
    created = client.post("/items", json={"name": "Ada"})

    assert created.status == 201
    item = created.json()
    assert item == {"id": item["id"], "name": "Ada"}
    assert client.get(f"/items/{item['id']}").json() == item
    assert session.get(Item, item["id"]) is not None


def test_a_missing_item_is_404(client: Client) -> None:
    response = client.get("/items/2147483647")

    assert response.status == 404
    assert response.json() == {"detail": "no item 2147483647"}


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 201}])
def test_an_item_needs_a_name_of_1_to_200_characters(client: Client, body: dict[str, str]) -> None:
    assert client.post("/items", json=body).status == 422


def test_ready_while_the_database_answers(client: Client) -> None:
    response = client.get("/ready")

    assert response.status == 200
    assert response.json() == {"status": "ok"}


def test_not_ready_while_the_database_does_not_answer_yet_healthy() -> None:
    settings = Settings(database_url=SecretStr(UNREACHABLE_URL))
    # The app inside the health route server.py serves it with, which never asks the database.
    with Client(HealthRoute(create_app(settings), settings.health_path)) as client:
        ready = client.get("/ready")
        health = client.get("/health")
        items = client.post("/items", json={"name": "Ada"})

    assert ready.status == 503
    assert ready.json() == {"status": "unavailable"}
    assert health.status == 200
    assert items.status == 503
    assert items.json() == {"detail": "the database is unavailable"}


def test_without_a_database_url_the_app_starts_but_is_not_ready() -> None:
    settings = Settings(database_url=None)
    with Client(HealthRoute(create_app(settings), settings.health_path)) as client:
        ready = client.get("/ready")
        items = client.post("/items", json={"name": "Ada"})
        health = client.get("/health")

    assert ready.status == 503
    assert items.status == 503
    assert "DATABASE_URL: not set" in items.json()["detail"]
    assert health.status == 200
{%- else %}


@pytest.fixture
def database_url(database_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL set to the test database for the commands (which commit: each test reads back
    only what it wrote)."""
    url = os.environ["TEST_DATABASE_URL"]
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_migrate_brings_the_database_to_head(database_url: str, database_engine: Engine) -> None:
    result = CliRunner().invoke(cli, ["migrate"])

    assert result.exit_code == 0, result.output
    assert "items" in inspect(database_engine).get_table_names()


def test_an_item_is_added_and_shown(database_url: str, database_engine: Engine) -> None:
    added = CliRunner().invoke(cli, ["add-item", "Ada"])
    item_id = int(added.output)
    shown = CliRunner().invoke(cli, ["show-item", str(item_id)])

    assert added.exit_code == 0, added.output
    assert shown.output == "Ada\n"


def test_a_missing_item_is_an_error(database_url: str, database_engine: Engine) -> None:
    result = CliRunner().invoke(cli, ["show-item", "2147483647"])

    assert result.exit_code == 1
    assert "Error: no item 2147483647" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "Error: invalid settings: DATABASE_URL: not set"),
        (UNREACHABLE_URL, "Error: the database: "),
    ],
)
def test_a_command_names_what_is_wrong_with_the_database(
    monkeypatch: pytest.MonkeyPatch, url: str | None, message: str
) -> None:
    if url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["show-item", "1"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert message in result.output
    assert "hunter2" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
{%- endif %}
