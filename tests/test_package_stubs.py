"""scripts/package-stubs.py: the empty stand-ins the image's dependencies stage installs the project from.

The Dockerfile installs the project itself before any source is copied, from a stub for each package its
pyproject.toml declares and for its readme, so a code change never re-runs that layer. Each story runs the
generated script on a pyproject.toml a team might write (renamed, several, namespace packages, a module, a
readme table) and checks the stubs are where Poetry's build backend looks, then builds a wheel from them with
Poetry; and the stand-in of pyproject.toml itself (--build-metadata) keeps what building reads, intact, and
nothing that a tool's setting or a development group changes. No Docker, no index.
"""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from template_harness import tool_environment

SCRIPT = Path("scripts/package-stubs.py")
PROJECT = '[project]\nname = "my-service"\nversion = "0.1.0"\n'


@pytest.fixture(scope="module")
def script(baked_project) -> Path:
    return baked_project({}) / SCRIPT


def stubs_for(script: Path, project: Path, pyproject: str) -> list[str]:
    """Run the script on a project of this pyproject.toml; the files it leaves, relative to the project."""
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    subprocess.run([sys.executable, str(script), str(project)], check=True, capture_output=True, text=True)
    return sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())


def test_the_generated_project_gets_its_own_package_and_readme(baked_project, tmp_path):
    project = baked_project({})
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")

    assert stubs_for(project / SCRIPT, tmp_path / "p", pyproject) == [
        "README.md",
        "pyproject.toml",
        "src/my_service/__init__.py",
    ]


def test_a_project_without_packages_gets_the_one_named_after_it(script, tmp_path):
    assert stubs_for(script, tmp_path / "p", PROJECT) == [
        "pyproject.toml",
        "src/my_service/__init__.py",
    ]


def test_a_renamed_package_is_stubbed_under_its_new_name(script, tmp_path):
    pyproject = PROJECT + '[tool.poetry]\npackages = [{ include = "orders", from = "src" }]\n'

    assert stubs_for(script, tmp_path / "p", pyproject) == ["pyproject.toml", "src/orders/__init__.py"]


def test_several_packages_and_a_module_each_get_a_stub_where_they_live(script, tmp_path):
    pyproject = PROJECT + (
        "[tool.poetry]\npackages = [\n"
        '    { include = "orders", from = "src" },\n'
        '    { include = "billing", from = "lib" },\n'
        '    { include = "manage.py" },\n'
        "]\n"
    )

    assert stubs_for(script, tmp_path / "p", pyproject) == [
        "lib/billing/__init__.py",
        "manage.py",
        "pyproject.toml",
        "src/orders/__init__.py",
    ]


def test_a_namespace_package_gets_a_stub_in_its_leaf_only(script, tmp_path):
    pyproject = PROJECT + '[tool.poetry]\npackages = [{ include = "acme/orders", from = "src" }]\n'

    assert stubs_for(script, tmp_path / "p", pyproject) == ["pyproject.toml", "src/acme/orders/__init__.py"]
    assert not (tmp_path / "p" / "src" / "acme" / "__init__.py").exists()


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        ('readme = { file = "docs/README.rst", content-type = "text/x-rst" }\n', ["docs/README.rst"]),
        ('readme = { text = "A service.", content-type = "text/plain" }\n', []),
        ('readme = "README.md"\n', ["README.md"]),
    ],
    ids=["table-with-file", "table-with-text", "path"],
)
def test_the_readme_is_stubbed_where_the_project_table_names_it(script, tmp_path, readme, expected):
    pyproject = PROJECT + readme + '[tool.poetry]\npackages = [{ include = "orders" }]\n'

    assert stubs_for(script, tmp_path / "p", pyproject) == sorted([*expected, "orders/__init__.py", "pyproject.toml"])


def test_poetrys_own_readme_list_is_stubbed_file_by_file(script, tmp_path):
    pyproject = PROJECT + '[tool.poetry]\nreadme = ["README.md", "CHANGES.md"]\npackages = [{ include = "orders" }]\n'

    assert stubs_for(script, tmp_path / "p", pyproject) == [
        "CHANGES.md",
        "README.md",
        "orders/__init__.py",
        "pyproject.toml",
    ]


def test_an_existing_file_is_left_as_it_is(script, tmp_path):
    project = tmp_path / "p"
    (project / "src" / "my_service").mkdir(parents=True)
    (project / "src" / "my_service" / "__init__.py").write_text("VERSION = 1\n", encoding="utf-8")

    stubs_for(script, project, PROJECT)

    assert (project / "src" / "my_service" / "__init__.py").read_text(encoding="utf-8") == "VERSION = 1\n"


def test_poetry_builds_the_project_from_the_stubs_alone(script, poetry, tmp_path):
    """Poetry's build backend finds every declared package and the readme among the stubs."""
    pyproject = PROJECT + (
        'readme = { file = "docs/README.md", content-type = "text/markdown" }\n'
        "[tool.poetry]\npackages = [\n"
        '    { include = "acme/orders", from = "src" },\n'
        '    { include = "billing", from = "lib" },\n'
        "]\n"
    )
    project = tmp_path / "p"
    stubs_for(script, project, pyproject)

    built = subprocess.run(
        [poetry, "build", "--format", "wheel", "--output", str(tmp_path / "dist")],
        cwd=project,
        env=tool_environment(POETRY_VIRTUALENVS_CREATE="false"),
        capture_output=True,
        text=True,
        check=False,
    )

    assert built.returncode == 0, built.stdout + built.stderr
    with zipfile.ZipFile(next((tmp_path / "dist").glob("my_service-0.1.0-*.whl"))) as wheel:
        names = set(wheel.namelist())
    assert {"acme/orders/__init__.py", "billing/__init__.py"} <= names


def build_metadata(script: Path, pyproject: str, tmp_path: Path) -> str:
    """The script's --build-metadata output for this pyproject.toml."""
    source, output = tmp_path / "source.toml", tmp_path / "build-metadata.toml"
    source.write_text(pyproject, encoding="utf-8")
    command = [sys.executable, str(script), "--build-metadata", str(source), str(output)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output.read_text(encoding="utf-8")


def test_build_metadata_keeps_what_building_reads_and_nothing_a_tool_or_a_dev_group_changes(baked_project, tmp_path):
    project = baked_project({})
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    grown = pyproject.replace("[tool.ruff]\n", "[tool.ruff]\nfix = true\n", 1)
    grown = grown.replace("[tool.poetry.group.dev.dependencies]\n", '[tool.poetry.group.dev.dependencies]\nx = "1"\n')
    assert "fix = true" in grown
    assert '\nx = "1"' in grown

    written = build_metadata(project / SCRIPT, pyproject, tmp_path)
    full = tomllib.loads(pyproject)

    assert tomllib.loads(written) == {
        "project": full["project"],
        "build-system": full["build-system"],
        "tool": {
            "poetry": {
                key: value for key, value in full["tool"]["poetry"].items() if key not in ("group", "requires-plugins")
            }
        },
    }
    assert build_metadata(project / SCRIPT, grown, tmp_path) == written
    assert (
        build_metadata(project / SCRIPT, pyproject.replace('version = "0.1.0"', 'version = "0.2.0"'), tmp_path)
        != written
    )


def test_build_metadata_carries_any_text_intact(script, tmp_path):
    pyproject = PROJECT + (
        r'description = "quote \" back\\slash \u007f del \u0001 control, tab\t, é and 😀"'
        "\nn = 1.5\nwhen = 2026-12-03\n"
        '[tool.poetry]\n"dotted.key" = [1, { "a b" = true }]\n'
    )

    assert tomllib.loads(build_metadata(script, pyproject, tmp_path)) == tomllib.loads(pyproject)
