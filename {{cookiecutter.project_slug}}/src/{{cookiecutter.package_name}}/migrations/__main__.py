"""Alembic's command line with this package's migrations: ``python -m <pkg>.migrations COMMAND``.

``upgrade head`` applies every migration (``poe db-migrate``; in the image,
``docker run IMAGE migrate``, the console script's ``migrate``);
``revision --autogenerate -m "..."`` writes one from the models (``poe db-revision -m "..."``);
``downgrade -1``, ``current``, ``history`` and ``check`` work as Alembic's own command's do.
"""

import logging
import sys

from alembic.config import CommandLine
from sqlalchemy.exc import SQLAlchemyError

from ..database import describe_database_error
from ..settings import SettingsError
from . import alembic_config

# The exit code of a refused setting, as the app's own.
SETTINGS_ERROR_EXIT_CODE = 2


def main(argv: list[str] | None = None) -> None:
    # What Alembic does ("Running upgrade  -> 6f3a1c2b9d0e, ..."), as its own command shows it.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command_line = CommandLine(prog=f"python -m {__package__}")
    options = command_line.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        command_line.parser.error("too few arguments")
    try:
        command_line.run_cmd(alembic_config(options), options)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(SETTINGS_ERROR_EXIT_CODE)
    except SQLAlchemyError as error:
        print(f"error: the database: {describe_database_error(error)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
