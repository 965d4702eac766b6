{%- if cookiecutter.app_type == "fastapi" -%}
"""Serve the app, configured by settings.py: ``python -m {{ cookiecutter.package_name }}``{% if cookiecutter.database == "postgresql" %}
(``migrate`` applies the database migrations instead){% endif %}.

The console script ``{{ cookiecutter.project_slug }}`` runs the same ``main()``.
"""

import argparse
import sys
import urllib.request

from .settings import Settings, SettingsError, get_settings

HEALTH_CHECK_TIMEOUT_SECONDS = 2
# The exit code of a start refused for a setting's value (as for a bad command-line argument).
SETTINGS_ERROR_EXIT_CODE = 2


def check_health(settings: Settings) -> int:
    """0 if the server here answers its health path with 2xx, else 1 (Docker's HEALTHCHECK)."""
    url = f"http://127.0.0.1:{settings.port}{settings.health_path}"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_CHECK_TIMEOUT_SECONDS):
            return 0
    except OSError as error:
        print(f"unhealthy: GET {url}: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the app with uvicorn.")
    parser.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    parser.add_argument(
        "--check-health",
        action="store_true",
        help="ask the running server for its health path, then exit",
    )
{%- if cookiecutter.database == "postgresql" %}
    commands = parser.add_subparsers(dest="command")
    migrate = commands.add_parser(
        "migrate", help="apply the database migrations to DATABASE_URL, then exit"
    )
    migrate.add_argument(
        "revision", nargs="?", default="head", help="the revision to reach (default: head)"
    )
{%- endif %}
    arguments = parser.parse_args(argv)
{%- if cookiecutter.database == "postgresql" %}
    if arguments.command == "migrate":
        # Alembic's upgrade, as `python -m <package>.migrations upgrade` runs it (its errors name
        # the variable or the database, never a traceback).
        from .migrations.__main__ import main as migrations

        migrations(["upgrade", arguments.revision])
        return
{%- endif %}
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(SETTINGS_ERROR_EXIT_CODE)
    if arguments.check_health:
        sys.exit(check_health(settings))

    from .server import serve

    try:
        serve(settings, reload=arguments.reload)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(SETTINGS_ERROR_EXIT_CODE)


if __name__ == "__main__":
    main()
{%- else -%}
"""Run the command line: ``python -m {{ cookiecutter.package_name }}``."""

from .cli import main

if __name__ == "__main__":
    main()
{%- endif %}
