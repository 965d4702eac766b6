"""Write poetry-requirements.txt: the Dockerfile's Poetry and its dependencies, with hashes.

CI installs Poetry from it with `pip install --require-hashes`, so a file changed or substituted
on the index fails the install. Run it (`poetry run poe lock-poetry`) after changing
ARG POETRY_VERSION in the Dockerfile, the one place the version is written. Poetry locks a
throwaway project that needs only that Poetry, for every platform and every Python this project
supports, from this project's package sources.
usage: python scripts/lock-poetry.py [PROJECT_DIR]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

OUTPUT = "poetry-requirements.txt"
VERSION_LINE = re.compile(r"^ARG POETRY_VERSION=(\d[\w.!+-]*)$", re.MULTILINE)


def pinned_poetry_version(project: Path) -> str:
    found = VERSION_LINE.search((project / "Dockerfile").read_text(encoding="utf-8"))
    if found is None:
        sys.exit("error: the Dockerfile has no ARG POETRY_VERSION=x.y.z line to read")
    return found[1]


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lowest_python(pyproject: dict) -> str:
    """The older of this project's lowest Python and the running one: Poetry then locks under the
    running one without making an environment, and the lock covers every Python the project has."""
    found = re.match(r"^>=\s*(\d+)\.(\d+)", pyproject["project"]["requires-python"])
    project_lowest = (int(found[1]), int(found[2])) if found else sys.version_info[:2]
    major, minor = min(project_lowest, sys.version_info[:2])
    return f"{major}.{minor}"


def throwaway_project(project: Path, version: str) -> str:
    """pyproject.toml of a project that needs only that Poetry, with this project's sources."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    lines = [
        "[project]",
        'name = "poetry-pin"',
        'version = "0"',
        f'requires-python = ">={lowest_python(pyproject)},<4"',
        f'dependencies = ["poetry=={version}"]',
        "",
        "[tool.poetry]",
        "package-mode = false",
    ]
    for source in pyproject.get("tool", {}).get("poetry", {}).get("source", []):
        entries = (f"{key} = {toml_string(value)}" for key, value in source.items())
        lines += ["", "[[tool.poetry.source]]", *entries]
    return "\n".join(lines) + "\n"


def requirement_lines(lock: dict) -> list[str]:
    """name==version ; markers, then one --hash per file, for every locked package."""
    lines = []
    for package in sorted(lock["package"], key=lambda package: package["name"]):
        markers = package.get("markers")
        marker = f" ; {markers}" if isinstance(markers, str) else ""
        hashes = [f"    --hash={file['hash']}" for file in package["files"]]
        lines.append(f"{package['name']}=={package['version']}{marker} \\\n" + " \\\n".join(hashes))
    return lines


def lock_poetry(version: str, pyproject: str) -> dict:
    poetry = shutil.which("poetry")
    if poetry is None:
        sys.exit("error: no poetry on PATH: install the Poetry the Dockerfile pins first")
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        # Locking needs no environment: without this, Poetry would make one for the throwaway.
        env = {**os.environ, "POETRY_VIRTUALENVS_CREATE": "false"}
        locked = subprocess.run(  # noqa: S603 (Poetry from PATH, fixed arguments)
            [poetry, "lock"], cwd=workdir, env=env, capture_output=True, text=True, check=False
        )
        if locked.returncode != 0:
            sys.exit(f"error: poetry=={version} not lockable:\n{locked.stdout}{locked.stderr}")
        return tomllib.loads((Path(workdir) / "poetry.lock").read_text(encoding="utf-8"))


def main() -> None:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    version = pinned_poetry_version(project)
    lock = lock_poetry(version, throwaway_project(project, version))
    header = f"# Poetry {version} and its dependencies, with hashes (scripts/lock-poetry.py)\n"
    text = header + "\n".join(requirement_lines(lock)) + "\n"
    (project / OUTPUT).write_text(text, encoding="utf-8")
    print(f"{OUTPUT}: Poetry {version}, {len(lock['package'])} packages")


if __name__ == "__main__":
    main()
