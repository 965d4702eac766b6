from click.testing import CliRunner

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.cli import cli


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    assert "greet" in result.output


def test_greet_says_hello() -> None:
    result = CliRunner().invoke(cli, ["greet", "Ada"])

    assert result.exit_code == 0
    assert result.output == "Hello, Ada!\n"


def test_greet_can_shout() -> None:
    result = CliRunner().invoke(cli, ["greet", "--shout"])

    assert result.output == "HELLO, WORLD!\n"


def test_version_is_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])

    assert __version__ in result.output
