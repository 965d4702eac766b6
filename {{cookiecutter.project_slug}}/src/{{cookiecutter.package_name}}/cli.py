"""The command-line interface."""

import signal
import sys
from importlib.metadata import metadata
from types import FrameType

import click

from . import __distribution__, __version__
from .observability import configure_logging
from .settings import SettingsError, get_settings

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


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """End as a stopped command does: finally blocks and context managers run, no "Aborted!"."""
    sys.exit(SIGTERM_EXIT_CODE)


def main() -> None:
    # As PID 1 in a container, a process without a handler never sees SIGTERM.
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    cli(prog_name=PROG_NAME)
