"""The test database: an empty PostgreSQL database named by TEST_DATABASE_URL (never DATABASE_URL,
so the tests never touch the database you develop with), migrated to head once a session. A test
that takes ``connection`` or ``session`` runs inside one transaction, rolled back after it: what it
wrote is gone for the next test, and the tables stay.
"""

import os
from collections.abc import Iterator

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.database import create_engine_from
from {{ cookiecutter.package_name }}.migrations import alembic_config
from {{ cookiecutter.package_name }}.settings import Settings

NO_TEST_DATABASE = (
    "TEST_DATABASE_URL is not set: `poetry run poe test-db` runs the tests on a database of "
    "their own in the local stack (compose.yaml, POSTGRES_PASSWORD in .env); or give them an "
    "empty PostgreSQL database they may change: "
    "TEST_DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE poetry run poe check"
)


@pytest.fixture(scope="session")
def database_settings() -> Settings:
    """The settings with the test database. Without one, these tests skip, saying how to get one;
    in CI (the variable CI set, as every CI sets it) they fail instead."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(NO_TEST_DATABASE)
        pytest.skip(NO_TEST_DATABASE)
    return Settings(database_url=SecretStr(url))


@pytest.fixture(scope="session")
def database_engine(database_settings: Settings) -> Iterator[Engine]:
    """The test database's engine, its schema migrated to head."""
    engine = create_engine_from(database_settings)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection=connection), "head")
    yield engine
    engine.dispose()


@pytest.fixture
def connection(database_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with database_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session on that connection: its commits are savepoints inside the test's transaction."""
    with Session(connection, join_transaction_mode="create_savepoint") as session:
        yield session
