"""Create an empty stand-in for each package pyproject.toml declares, and for its readme.

The Dockerfile's dependencies stage installs the project itself (editable: metadata, console
scripts, a .pth naming /app/src) before any source is copied, so that a code change never re-runs
that layer; the build backend only needs each declared package and the readme to exist. The
Dockerfile bind-mounts this script for that one RUN: it is in no layer.
Packages: [tool.poetry] packages (any name, several, namespace packages, single modules), else the
one named after the project under src/. Readme: [project] readme (a path, or a table with `file`),
else [tool.poetry] readme (a path or a list). Existing files are left as they are.
--build-metadata writes the stand-in of pyproject.toml itself: only the tables building the project
reads ([project], [build-system], [tool.poetry] but its groups and plugins), so that an edit to the
rest (a tool's settings, a development group) leaves the dependencies layer cached.
usage: python scripts/package-stubs.py [PROJECT_DIR]
       python scripts/package-stubs.py --build-metadata PYPROJECT OUTPUT
"""

import datetime
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

# [tool.poetry]'s keys that only Poetry itself reads, never the build backend.
NOT_BUILT = ("group", "requires-plugins")


def declared_packages(pyproject: dict) -> list[Path]:
    """Each package's or module's path in the project, where Poetry's build backend looks."""
    name = pyproject["project"]["name"].replace("-", "_").replace(".", "_")
    default = [{"include": name, "from": "src"}]
    packages = pyproject.get("tool", {}).get("poetry", {}).get("packages", default)
    return [Path(entry.get("from", "."), entry["include"]) for entry in packages]


def readme_files(pyproject: dict) -> list[Path]:
    """The readme files the build backend reads; none for a readme given as inline text."""
    readme = pyproject["project"].get("readme")
    if readme is None:
        readme = pyproject.get("tool", {}).get("poetry", {}).get("readme", [])
    if isinstance(readme, dict):
        readme = readme.get("file", [])
    return [Path(path) for path in ([readme] if isinstance(readme, str) else readme)]


def stub_files(pyproject: dict) -> list[Path]:
    """A module stands for itself; a package, namespace or not, is stood for by its __init__.py."""
    packages = declared_packages(pyproject)
    modules = [path if path.suffix == ".py" else path / "__init__.py" for path in packages]
    return modules + readme_files(pyproject)


def build_tables(pyproject: dict[str, Any]) -> dict[str, Any]:
    """pyproject.toml's tables that building the project reads."""
    tables = {key: pyproject[key] for key in ("project", "build-system") if key in pyproject}
    poetry = pyproject.get("tool", {}).get("poetry", {})
    built = {key: value for key, value in poetry.items() if key not in NOT_BUILT}
    if built:
        tables["tool"] = {"poetry": built}
    return tables


def toml(value: Any) -> str:
    """A value as TOML, inline: strings as JSON writes them (with DEL escaped, as TOML asks)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml(key)} = {toml(item)}" for key, item in value.items()) + "}"


def build_metadata(pyproject: dict[str, Any]) -> str:
    """The build tables as a pyproject.toml of their own, one inline table a line."""
    tables = build_tables(pyproject)
    return "".join(f"{toml(key)} = {toml(table)}\n" for key, table in tables.items())


def main() -> None:
    if sys.argv[1:2] == ["--build-metadata"]:
        source, output = map(Path, sys.argv[2:4])
        pyproject = tomllib.loads(source.read_text(encoding="utf-8"))
        output.write_text(build_metadata(pyproject), encoding="utf-8")
        return
    project = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    for stub in stub_files(pyproject):
        path = project / stub
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


if __name__ == "__main__":
    main()
