"""Create an empty stand-in for each package pyproject.toml declares, and for its readme.

The Dockerfile's dependencies stage installs the project itself (editable: metadata, console
scripts, a .pth naming /app/src) before any source is copied, so that a code change never re-runs
that layer; the build backend only needs each declared package and the readme to exist. The
Dockerfile bind-mounts this script for that one RUN: it is in no layer.
Packages: [tool.poetry] packages (any name, several, namespace packages, single modules), else the
one named after the project under src/. Readme: [project] readme (a path, or a table with `file`),
else [tool.poetry] readme (a path or a list). Existing files are left as they are.
usage: python scripts/package-stubs.py [PROJECT_DIR]
"""

import sys
import tomllib
from pathlib import Path


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


def main() -> None:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    for stub in stub_files(pyproject):
        path = project / stub
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


if __name__ == "__main__":
    main()
