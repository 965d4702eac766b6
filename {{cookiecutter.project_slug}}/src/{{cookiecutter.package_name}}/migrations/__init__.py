"""The database's migrations (Alembic), inside the package: they ship wherever it does (the image).

Apply them with ``python -m <this package> upgrade head`` (``poe db-migrate``; in the image,
``<slug> migrate``); any Alembic command works after the module name. The configuration is here,
not in an alembic.ini.
"""

from argparse import Namespace
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection

FOLDER = Path(__file__).parent


def alembic_config(
    options: Namespace | None = None, connection: Connection | None = None
) -> Config:
    """Alembic's configuration: these migrations, the settings' database (env.py) or this
    connection (in its transaction), and each new revision fixed and formatted by ruff, as the
    project's own code is."""
    config = Config(cmd_opts=options, attributes={"connection": connection})
    config.set_main_option("script_location", str(FOLDER))
    # Revisions sort by date in versions/: 2026_01_31_1205-ae1027a6acf_add_users.py
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for name, arguments in (("ruff_fix", "check --fix"), ("ruff_format", "format")):
        config.set_section_option("post_write_hooks", f"{name}.type", "module")
        config.set_section_option("post_write_hooks", f"{name}.module", "ruff")
        config.set_section_option(
            "post_write_hooks", f"{name}.options", f"{arguments} REVISION_SCRIPT_FILENAME"
        )
    return config
