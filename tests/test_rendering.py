"""Rendering of each option: the files each answer yields, and user text kept intact in every format."""

import re
import tomllib
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from template_harness import COOKIECUTTER_JSON, OPTION_MATRIX, POETRY_VERSION, TEMPLATE_DIR, bake, load_hook, matrix_id

UNRENDERED = re.compile(r"\{%|%\}|\{\{\s*cookiecutter|cookiecutter\.|(?<!\$)\{\{(?!\.)")
# Text with every character class that breaks naive templating: quotes, backslashes, braces, $ and non-ASCII.
# It is typed at the prompts, as a person would: cookiecutter renders --no-input answers as Jinja
# templates (its documented behaviour), so there `{{` must be written `{{ '{{' }}`.
TRICKY_TEXT = {
    "project_name": 'Café "Quoted" \\ {{ braces }} ${{ expr }} $HOME & <b>*ü*</b> #1 `tick`',
    "description": "Ünïcødé 'single' \"double\" \\n not a newline {% raw %} $PATH | [link](x) 1. not a list",
    "author_name": 'O\'Brien "Ace" \\ Zoë {single} }}',
}


@pytest.fixture(params=OPTION_MATRIX, ids=matrix_id)
def matrix_project(request, baked_project) -> tuple[dict, Path]:
    return request.param, baked_project(request.param)


def project_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file() and ".git" not in path.parts)


def test_no_template_syntax_is_left(matrix_project):
    _, project = matrix_project

    leftovers = {
        str(path.relative_to(project)): match.group(0)
        for path in project_files(project)
        for match in [UNRENDERED.search(path.read_text(encoding="utf-8"))]
        if match
    }

    assert leftovers == {}
    assert not [path for path in project.rglob("*") if "cookiecutter" in path.name]


def test_pyproject_parses_and_names_the_project(matrix_project):
    answers, project = matrix_project

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["project"]["name"] == "my-service"
    assert pyproject["tool"]["poetry"]["packages"] == [{"include": "my_service", "from": "src"}]
    expected_dependency = "fastapi" if answers["app_type"] == "fastapi" else "click"
    assert any(dep.startswith(expected_dependency) for dep in pyproject["project"]["dependencies"])


def test_files_of_the_chosen_app_type_only(matrix_project):
    answers, project = matrix_project
    package = project / "src" / "my_service"

    chosen, other = ("app.py", "cli.py") if answers["app_type"] == "fastapi" else ("cli.py", "app.py")

    assert (package / chosen).is_file()
    assert not (package / other).exists()
    assert (project / "tests" / "template" / f"test_{chosen}").is_file()
    assert not (project / "tests" / "template" / f"test_{other}").exists()


def test_ci_files_of_the_chosen_provider_only(matrix_project):
    answers, project = matrix_project

    present = {
        "github": (project / ".github" / "workflows" / "ci.yml").is_file(),
        "gitlab": (project / ".gitlab-ci.yml").is_file(),
    }

    assert present == {"github": answers["ci_provider"] == "github", "gitlab": answers["ci_provider"] == "gitlab"}
    if answers["ci_provider"] != "github":
        assert not (project / ".github").exists()


def test_license_file_and_metadata_match_the_choice(matrix_project):
    answers, project = matrix_project
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    license_file = project / "LICENSE"

    if answers["license"] == "Proprietary":
        assert not license_file.exists()
        assert pyproject["project"]["license"] == "LicenseRef-Proprietary"
        assert "Private :: Do Not Upload" in pyproject["project"]["classifiers"]
    else:
        heading = {"MIT": "MIT License", "Apache-2.0": "Apache License"}[answers["license"]]
        assert license_file.read_text(encoding="utf-8").lstrip().startswith(heading)
        assert pyproject["project"]["license"] == answers["license"]


def test_readme_names_only_tasks_that_exist(matrix_project):
    _, project = matrix_project
    tasks = set(tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"])
    readme = (project / "README.md").read_text(encoding="utf-8")

    mentioned = set(re.findall(r"poe ([a-z][a-z-]*)", readme)) | set(re.findall(r"^\| `([a-z-]+)` \|", readme, re.M))

    assert mentioned, "the README lists no tasks"
    assert mentioned <= tasks
    assert {"lint", "format", "typecheck", "test", "check", "lock", "docker-build", "docker-run"} <= mentioned


def test_manifest_names_only_files_the_template_has():
    manifest = load_hook("post_gen_project").UNSELECTED_PATHS
    template_project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"

    missing = [
        pattern
        for paths in manifest.values()
        for pattern in paths
        if not (template_project / pattern.format(package_name="{{cookiecutter.package_name}}")).is_file()
    ]

    assert missing == []
    assert {question for question, _ in manifest} <= set(COOKIECUTTER_JSON)


@pytest.fixture(scope="module")
def tricky_project(tmp_path_factory) -> Path:
    result = bake(tmp_path_factory.mktemp("tricky"), typed=TRICKY_TEXT)
    assert result.returncode == 0, result.output
    return result.output_dir / "cafe-quoted-braces-expr-home-b-u-b-1-tick"


def test_free_text_on_the_command_line_round_trips_without_double_braces(baked):
    author = 'O\'Brien "Ace" \\ Zoë {single} }} $HOME ${x}'
    project = baked(author_name=author).project
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["project"]["authors"][0]["name"] == author


def test_free_text_round_trips_through_toml(tricky_project):
    project = tomllib.loads((tricky_project / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert project["description"] == TRICKY_TEXT["description"]
    assert project["authors"] == [{"name": TRICKY_TEXT["author_name"], "email": "jane.doe@example.com"}]


def rendered_blocks(markdown: str) -> list[tuple[str, str]]:
    """(block type, its text as rendered) for each heading and paragraph."""
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    return [
        (
            tokens[i - 1].type,
            "".join(child.content for child in token.children if child.type in ("text", "code_inline")),
        )
        for i, token in enumerate(tokens)
        if token.type == "inline"
    ]


def test_free_text_renders_as_typed_in_the_readme(tricky_project):
    blocks = rendered_blocks((tricky_project / "README.md").read_text(encoding="utf-8"))

    assert blocks[0] == ("heading_open", TRICKY_TEXT["project_name"])
    assert blocks[1] == ("paragraph_open", TRICKY_TEXT["description"])


def test_license_names_the_author_as_typed(tricky_project):
    assert TRICKY_TEXT["author_name"] in (tricky_project / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize("python_version", COOKIECUTTER_JSON["python_version"])
def test_python_version_reaches_every_tool(baked, python_version):
    project = baked(python_version=python_version).project
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")

    assert pyproject["project"]["requires-python"] == f">={python_version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + python_version.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == python_version
    assert f"ARG PYTHON_IMAGE=python:{python_version}-slim-trixie\n" in dockerfile


def test_poetry_version_has_one_source(baked):
    dockerfile = (baked().project / "Dockerfile").read_text(encoding="utf-8")
    ci_script = (TEMPLATE_DIR / ".ci" / "run").read_text(encoding="utf-8")

    assert f"ARG POETRY_VERSION={POETRY_VERSION}\n" in dockerfile
    assert POETRY_VERSION not in ci_script, ".ci/run must read the version from cookiecutter.json"


def test_package_index_becomes_the_primary_source(baked):
    url = "https://nexus.example.com/repository/pypi/simple/"
    project = baked(package_index_url=url).project
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert pyproject["tool"]["poetry"]["source"] == [{"name": "package-index", "url": url, "priority": "primary"}]
    assert f"ARG PIP_INDEX_URL={url}\n" in (project / "Dockerfile").read_text(encoding="utf-8")


def test_no_package_index_means_pypi(baked):
    pyproject = tomllib.loads((baked().project / "pyproject.toml").read_text(encoding="utf-8"))

    assert "source" not in pyproject["tool"]["poetry"]


def test_base_image_override_is_the_dockerfile_default(baked):
    image = "registry.example.com/mirror/python:3.13-slim-trixie"
    dockerfile = (baked(docker_base_image=image).project / "Dockerfile").read_text(encoding="utf-8")

    stages = re.findall(r"^FROM (\S+) AS (\S+)$", dockerfile, re.MULTILINE)

    assert dockerfile.count(f"ARG PYTHON_IMAGE={image}\n") == 1
    assert dockerfile.index("ARG PYTHON_IMAGE=") < dockerfile.index("FROM ")
    # Every stage starts from the base image argument, an earlier stage, or nothing (a stage of files only).
    for position, (source, _) in enumerate(stages):
        assert source in ("${PYTHON_IMAGE}", "scratch") or source in [name for _, name in stages[:position]]


@pytest.mark.parametrize(("init_git", "has_repository"), [("yes", True), ("no", False)])
def test_git_repository_on_request(baked, init_git, has_repository):
    result = baked(init_git=init_git)

    assert result.returncode == 0, result.output
    assert (result.project / ".git").is_dir() == has_repository


def test_readme_setup_starts_with_a_lock_when_generated_without_one(baked):
    readme = (baked(lock_dependencies="no").project / "README.md").read_text(encoding="utf-8")

    setup = readme[readme.index("## Set up") : readme.index("## Tasks")]
    assert setup.index("poetry lock ") < setup.index("poetry install ")
