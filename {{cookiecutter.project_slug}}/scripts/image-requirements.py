"""Write image-requirements.txt: the dependencies the image installs, exported from poetry.lock.

poetry.lock stays the one file a person keeps. The image installs this file, which `poetry export`
derives from it with every hash, with uv alone: no Poetry stands between a cold build and its
install. Being derived, it must never be stale unnoticed: `poe lock` rewrites it after locking;
`--check` (in `poe check`, so in CI and the image's test stage, and in the image's build, beside the
install) fails while it differs from what poetry.lock and pyproject.toml give now, and Poetry's own
message names a pyproject.toml edited without relocking.
The optional extras the image gets are pyproject.toml's [tool.image-requirements] extras: "all", or
a list of the extras' names ([] for none).
usage: python scripts/image-requirements.py [--check] [PROJECT_DIR]
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

OUTPUT = "image-requirements.txt"
HEADER = (
    "# The image's dependencies: poetry.lock's main group and the extras that pyproject.toml's\n"
    "# [tool.image-requirements] names, with hashes. `poetry run poe lock` writes it; no edits.\n"
)
RELOCK = "run `poetry run poe lock`"


def fail(message: str) -> None:
    sys.exit(f"error: {message}")


def extras_options(pyproject: dict) -> list[str]:
    """poetry export's options for the extras pyproject.toml chooses for the image."""
    extras = pyproject.get("tool", {}).get("image-requirements", {}).get("extras", "all")
    if extras == "all":
        return ["--all-extras"]
    if not isinstance(extras, list) or not all(isinstance(name, str) for name in extras):
        fail('[tool.image-requirements] extras must be "all" or a list of extra names, e.g. ["s3"]')
    declared = pyproject.get("project", {}).get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(declared))
    if unknown:
        fail(
            f"[tool.image-requirements] extras names {unknown}, "
            "which [project.optional-dependencies] lacks"
        )
    return [option for name in extras for option in ("--extras", name)]


def exported(project: Path) -> str:
    """What the file must hold now: the header, then poetry export's requirements."""
    poetry = shutil.which("poetry")
    if poetry is None:
        fail("no poetry on PATH")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    command = [poetry, "export", "--only", "main", *extras_options(pyproject)]
    command += ["--format", "requirements.txt"]
    # Exporting needs no environment: without this, Poetry would make one where there is none.
    env = {**os.environ, "POETRY_VIRTUALENVS_CREATE": "false"}
    result = subprocess.run(  # noqa: S603 (Poetry from PATH, fixed arguments)
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if "command export does not exist" in result.stdout + result.stderr:
        fail(
            "`poetry export` is missing: run `poetry install` once; it installs "
            "poetry-plugin-export, which pyproject.toml's [tool.poetry.requires-plugins] names"
        )
    if result.returncode != 0:
        fail(f"poetry export failed:\n{result.stdout}{result.stderr}")
    return HEADER + result.stdout


def main() -> None:
    arguments = sys.argv[1:]
    check = "--check" in arguments
    folders = [argument for argument in arguments if argument != "--check"]
    project = Path(folders[0] if folders else ".")
    path = project / OUTPUT
    wanted = exported(project)
    if not check:
        path.write_text(wanted, encoding="utf-8")
        print(f"{OUTPUT}: written from poetry.lock")
    elif not path.is_file():
        fail(f"{OUTPUT} is missing: {RELOCK}")
    elif path.read_text(encoding="utf-8") != wanted:
        fail(f"{OUTPUT} is stale (poetry.lock or the image's extras changed since): {RELOCK}")


if __name__ == "__main__":
    main()
