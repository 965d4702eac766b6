"""The database: an engine made from the settings, sessions, and the readiness probe.

One engine a process (it holds the connection pool): the app makes it at start-up and disposes of it
at shutdown, a command for as long as it runs. SQLAlchemy connects lazily, so making an engine never
fails for a database that is down: the first query does, and ``database_answers`` says so.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from .settings import Settings, SettingsError

NOT_CONFIGURED = (
    "invalid settings: DATABASE_URL: not set; give the database's URL "
    "(postgresql://USER:PASSWORD@HOST:5432/NAME) in DATABASE_URL or the file "
    "/run/secrets/database_url"
)


def database_url(settings: Settings) -> str:
    """The URL SQLAlchemy connects with; a SettingsError naming DATABASE_URL when it is not set."""
    if settings.database_url is None:
        raise SettingsError(NOT_CONFIGURED)
    return settings.database_url.get_secret_value()


def create_engine_from(settings: Settings) -> Engine:
    """An engine with the settings' pool; each connection is checked before use, so a restarted
    server costs no failed request."""
    return create_engine(
        database_url(settings),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.database_connect_timeout},
    )


@contextmanager
def connected_engine(settings: Settings) -> Iterator[Engine]:
    """An engine for one command, disposed of (its connections closed) when the command ends."""
    engine = create_engine_from(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def database_answers(engine: Engine) -> bool:
    """Whether the database answers a query now (GET /ready)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def describe_database_error(error: SQLAlchemyError) -> str:
    """What the driver said, without SQLAlchemy's statement and link (a host, never a password)."""
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split())
