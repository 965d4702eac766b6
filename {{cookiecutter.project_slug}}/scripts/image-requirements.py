"""Write image-requirements.txt: the dependencies the image installs, exported from poetry.lock.

poetry.lock stays the one file a person keeps. The image installs this file, which `poetry export`
derives from it with every hash, with uv alone: no Poetry stands in an image's build. Being
derived, it must never be stale unnoticed: `poe lock` rewrites it after locking, and two checks
compare it with its sources.
--check (in `poe check`, so in CI and the image's test stage) exports again with Poetry and
compares; Poetry's own message names a pyproject.toml edited without relocking.
--check-sources (the image's build, with the base image's Python alone) compares the digests the
file records, of poetry.lock's main packages, pyproject.toml's main dependencies and its own
requirements, with the files as they are now: any of them changed since `poe lock` fails the
build, naming it. (A development group is left to `poe check`: no image installs one.)
The optional extras the image gets are pyproject.toml's [tool.image-requirements] extras: "all", or
a list of the extras' names ([] for none).
usage: python scripts/image-requirements.py [--check | --check-sources] [PROJECT_DIR]
"""

import hashlib
import json
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
# What the image's requirements follow in pyproject.toml: the main dependencies (the tables that
# Poetry's content-hash reads, less the development groups, which no image installs), and the
# image's extras.
MAIN_TABLES = {
    ("project",): ("requires-python", "dependencies", "optional-dependencies"),
    ("tool", "poetry"): ("dependencies", "source", "extras"),
    ("tool", "image-requirements"): None,
}
SOURCES = (
    "poetry.lock's main packages",
    "pyproject.toml's main dependencies",
    "the requirements below",
)


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


def digest(content: object) -> str:
    """A digest of parsed content: line endings, TOML's layout and comments leave it alone."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def main_packages(lock: dict) -> list[dict]:
    """poetry.lock's packages of the main group (every package, in a lock that names no groups)."""
    packages = lock.get("package", [])
    return [package for package in packages if "main" in package.get("groups", ["main"])]


def main_tables(pyproject: dict) -> dict:
    """The parts of pyproject.toml that the image's requirements are derived from."""
    tables = {}
    for path, keys in MAIN_TABLES.items():
        table = pyproject
        for name in path:
            table = table.get(name, {})
        chosen = table if keys is None else {key: table[key] for key in keys if key in table}
        tables[".".join(path)] = chosen
    return tables


def source_digests(project: Path, requirements: str) -> list[str]:
    """The digests of SOURCES, as the files are now."""
    lock = tomllib.loads((project / "poetry.lock").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return [digest(main_packages(lock)), digest(main_tables(pyproject)), digest(requirements)]


def requirement_lines(text: str) -> str:
    """The file's requirements, without its comments (the header and the digests)."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def sources_block(digests: list[str]) -> str:
    lines = zip(SOURCES, digests, strict=True)
    return "".join(f"# sha256 of {source}: {value}\n" for source, value in lines)


def exported(project: Path) -> str:
    """What the file must hold now: the header, its sources' digests, then the requirements."""
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
    digests = source_digests(project, requirement_lines(result.stdout))
    return HEADER + sources_block(digests) + result.stdout


def check_sources(project: Path, text: str) -> None:
    """Fail, naming what changed, unless the file's recorded digests are its sources' now."""
    recorded = [
        line.rpartition(": ")[2] for line in text.splitlines() if line.startswith("# sha256 of ")
    ]
    if len(recorded) != len(SOURCES):
        fail(f"{OUTPUT} does not record the poetry.lock it was written from: {RELOCK}")
    now = source_digests(project, requirement_lines(text))
    lock, tables, own = [current != then for current, then in zip(now, recorded, strict=True)]
    if tables:
        fail(f"pyproject.toml's main dependencies changed since {OUTPUT} was written: {RELOCK}")
    if lock:
        fail(f"{OUTPUT} is stale (poetry.lock's main packages changed since): {RELOCK}")
    if own:
        fail(f"{OUTPUT} is stale (edited since `poe lock` wrote it): {RELOCK}")


def main() -> None:
    arguments = sys.argv[1:]
    modes = ("--check", "--check-sources")
    mode = next((argument for argument in arguments if argument in modes), None)
    folders = [argument for argument in arguments if argument != mode]
    project = Path(folders[0] if folders else ".")
    path = project / OUTPUT
    if mode is not None and not path.is_file():
        fail(f"{OUTPUT} is missing: {RELOCK}")
    if mode == "--check-sources":
        check_sources(project, path.read_text(encoding="utf-8"))
        return
    wanted = exported(project)
    if mode is None:
        path.write_text(wanted, encoding="utf-8")
        print(f"{OUTPUT}: written from poetry.lock")
    elif path.read_text(encoding="utf-8") != wanted:
        fail(f"{OUTPUT} is stale (poetry.lock or the image's extras changed since): {RELOCK}")


if __name__ == "__main__":
    main()
