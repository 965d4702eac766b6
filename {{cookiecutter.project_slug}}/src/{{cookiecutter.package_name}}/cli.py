"""The command-line interface."""

import signal
import sys
{%- if cookiecutter.database == "postgresql" %}
from collections.abc import Iterator
from contextlib import contextmanager
{%- endif %}
from importlib.metadata import metadata
from types import FrameType

import click
{%- if cookiecutter.database == "postgresql" %}
from alembic import command
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
{%- endif %}

from . import __distribution__, __version__
{%- if cookiecutter.database == "postgresql" %}
from .database import connected_engine, describe_database_error
from .migrations import alembic_config
from .models import Item
{%- endif %}
from .observability import configure_logging
from .settings import {% if cookiecutter.database == "postgresql" %}Settings, {% endif %}SettingsError, get_settings

PROG_NAME = __distribution__
# How a command ends on SIGTERM (docker stop): the code a shell gives a process that signal ended.
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM


@click.group(help=metadata(__distribution__)["Summary"])
@click.version_option(__version__, prog_name=PROG_NAME)
@click.pass_context
def cli(context: click.Context) -> None:
    try:
        settings = get_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    configure_logging(settings)
    context.obj = settings


@cli.command()
@click.argument("name", default="World")
@click.option("--shout", is_flag=True, help="Print the greeting in capitals.")
def greet(name: str, shout: bool) -> None:
    """Greet NAME (default: World)."""
    message = f"Hello, {name}!"
    click.echo(message.upper() if shout else message)
{%- if cookiecutter.database == "postgresql" %}


@cli.command()
@click.argument("revision", default="head")
def migrate(revision: str) -> None:
    """Apply the database migrations up to REVISION (default: head)."""
    with database_errors():
        command.upgrade(alembic_config(), revision)


@cli.command("add-item")
@click.argument("name")
@click.pass_obj
def add_item(settings: Settings, name: str) -> None:
    """Store an item named NAME and print its id (the example: replace it with your own)."""
    with database_errors(), connected_engine(settings) as engine, Session(engine) as session:
        item = Item(name=name)
        session.add(item)
        session.commit()
        click.echo(item.id)


@cli.command("show-item")
@click.argument("item_id", type=int)
@click.pass_obj
def show_item(settings: Settings, item_id: int) -> None:
    """Print the name of the item ITEM_ID."""
    with database_errors(), connected_engine(settings) as engine, Session(engine) as session:
        item = session.get(Item, item_id)
        if item is None:
            raise click.ClickException(f"no item {item_id}")
        click.echo(item.name)


@contextmanager
def database_errors() -> Iterator[None]:
    """A missing DATABASE_URL or an unreachable database as one line (exit 1), not a traceback."""
    try:
        yield
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(f"the database: {describe_database_error(error)}") from None
{%- endif %}


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """End as a stopped command does: finally blocks and context managers run, no "Aborted!"."""
    sys.exit(SIGTERM_EXIT_CODE)


def main() -> None:
    # As PID 1 in a container, a process without a handler never sees SIGTERM.
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    cli(prog_name=PROG_NAME)
