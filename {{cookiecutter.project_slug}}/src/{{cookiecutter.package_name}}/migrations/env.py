"""How Alembic reaches the database: the settings' engine, or the connection the caller gave
``alembic_config`` (the tests give theirs)."""

from alembic import context
from sqlalchemy import Connection

from {{ cookiecutter.package_name }}.database import connected_engine, database_url
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    with connected_engine(get_settings()) as engine, engine.connect() as connection:
        run_migrations(connection)


def run_migrations_offline() -> None:
    """The SQL, printed instead of run (``upgrade head --sql``), for a DBA to apply."""
    context.configure(
        url=database_url(get_settings()), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
