"""The command-line interface."""

from importlib.metadata import metadata

import click

from {{ cookiecutter.package_name }} import __version__

PROG_NAME = "{{ cookiecutter.project_slug }}"


@click.group(help=metadata(PROG_NAME)["Summary"])
@click.version_option(__version__, prog_name=PROG_NAME)
def cli() -> None:
    pass


@cli.command()
@click.argument("name", default="World")
@click.option("--shout", is_flag=True, help="Print the greeting in capitals.")
def greet(name: str, shout: bool) -> None:
    """Greet NAME (default: World)."""
    message = f"Hello, {name}!"
    click.echo(message.upper() if shout else message)


def main() -> None:
    cli(prog_name=PROG_NAME)
