"""The command-line interface."""

import logging
from importlib.metadata import metadata

import click

from . import __distribution__, __version__
from .settings import Settings

PROG_NAME = __distribution__


@click.group(help=metadata(__distribution__)["Summary"])
@click.version_option(__version__, prog_name=PROG_NAME)
@click.pass_context
def cli(context: click.Context) -> None:
    settings = Settings.from_environment()
    logging.basicConfig(level=settings.log_level.upper())
    context.obj = settings


@cli.command()
@click.argument("name", default="World")
@click.option("--shout", is_flag=True, help="Print the greeting in capitals.")
def greet(name: str, shout: bool) -> None:
    """Greet NAME (default: World)."""
    message = f"Hello, {name}!"
    click.echo(message.upper() if shout else message)


def main() -> None:
    cli(prog_name=PROG_NAME)
