"""poe test-db: the tests on a database of their own in the local stack's PostgreSQL (compose.yaml).

Starts the stack's `db` service and waits until it is healthy, creates the database
<POSTGRES_DB>_test in it when missing (never the stack's own database: the tests migrate theirs
down to nothing), then runs pytest with TEST_DATABASE_URL naming it. The user, password and port
are the stack's, as Compose reads them from .env and compose.yaml; the password is neither
written nor printed.
usage: python scripts/stack-test-database.py [PYTEST_ARGUMENTS...]
"""

import json
import os
import subprocess
import sys
from urllib.parse import quote

import psycopg
from psycopg import sql

# What the script reads of the db service's environment (Compose fills them in from .env).
STACK_SETTINGS = ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")


def compose(*arguments: str, capture: bool = False) -> str:
    """Run `docker compose ARGUMENTS`, returning its standard output when captured; when it fails,
    exit with its status after Compose's own message."""
    result = subprocess.run(  # noqa: S603 (docker from PATH, fixed arguments)
        ["docker", "compose", *arguments],  # noqa: S607
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(result.returncode)
    return result.stdout or ""


def create_if_missing(server_url: str, existing_database: str, name: str) -> None:
    """Create the database `name` on the server unless it exists (connected to one that does)."""
    url = server_url + quote(existing_database, safe="")
    with psycopg.connect(url, autocommit=True) as connection:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if connection.execute(query, [name]).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> int:
    compose("up", "--detach", "--wait", "db")
    db = json.loads(compose("config", "--format", "json", capture=True))["services"]["db"]
    settings, published = db.get("environment") or {}, db.get("ports") or []
    missing = [name for name in STACK_SETTINGS if not settings.get(name)]
    if missing or len(published) != 1:
        needed = f"{', '.join(missing)} in its environment" if missing else "a published port"
        sys.exit(f"error: compose.yaml's db service needs {needed}, as the template wrote it")
    (published,) = published
    user = quote(settings["POSTGRES_USER"], safe="")
    password = quote(settings["POSTGRES_PASSWORD"], safe="")
    address = f"{published['host_ip']}:{published['published']}"
    server_url = f"postgresql://{user}:{password}@{address}/"
    test_database = f"{settings['POSTGRES_DB']}_test"
    try:
        create_if_missing(server_url, settings["POSTGRES_DB"], test_database)
    except psycopg.OperationalError as error:
        # The driver's message names the host, the port and the user, never the password.
        sys.exit(f"error: the stack's database at {address}: {error}")
    print(f"The tests' database: {test_database} on the stack's db ({address})", flush=True)
    env = {**os.environ, "TEST_DATABASE_URL": server_url + quote(test_database, safe="")}
    pytest = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    return subprocess.run(pytest, env=env, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
