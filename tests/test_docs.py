"""The documentation tells the truth: what the code can say is generated and current, links lead somewhere,
the README stays a first screen, and a generated project's README lists exactly the tasks it has."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from template_harness import TEMPLATE_DIR, poe_tasks, tool_environment

REFRESH_COMMAND = "poetry run poe docs"
README_MAX_LINES = 150
DOCUMENTS = [TEMPLATE_DIR / "README.md", TEMPLATE_DIR / "CHANGELOG.md", *sorted((TEMPLATE_DIR / "docs").glob("*.md"))]
# A Markdown link to a path of this repository, with an optional #anchor.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:)(?P<path>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)")
TREE_ENTRY = re.compile(r"^[├└]── (\S+)", re.MULTILINE)


def generate_docs(root: Path, *args: str) -> subprocess.CompletedProcess:
    """scripts/generate-docs.py of the template at root, as `poe docs` runs it."""
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "generate-docs.py"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=tool_environment(),
    )


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lowercase, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.fixture
def template_copy(tmp_path) -> Path:
    """The template's files, to edit a source of the generated docs without touching the real ones."""
    ignored = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", ".ruff_cache")
    return Path(shutil.copytree(TEMPLATE_DIR, tmp_path / "template", ignore=ignored))


def test_generated_blocks_are_current():
    checked = generate_docs(TEMPLATE_DIR, "--check")

    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("source", "old", "new", "stale"),
    [
        ("docs/answers.toml", '"one line"', '"one line, in the metadata"', "docs/answers.md: answers"),
        ("cookiecutter.json", '"Author name"', '"Who wrote it"', "docs/answers.md: answers"),
        ("cookiecutter.json", '"init_git": ["yes", "no"]', '"init_git": ["no", "yes"]', "README.md: answers-summary"),
        ("pyproject.toml", '"The Docker end-to-end tier"', '"The Docker tier"', "docs/contributing.md: template-tasks"),
    ],
    ids=["a-meaning", "a-prompt", "a-default", "a-task"],
)
def test_a_changed_source_leaves_its_block_stale_until_the_docs_are_regenerated(template_copy, source, old, new, stale):
    path = template_copy / source
    assert path.read_text(encoding="utf-8").count(old) == 1
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    stale_check = generate_docs(template_copy, "--check")
    rewritten = generate_docs(template_copy)
    fresh_check = generate_docs(template_copy, "--check")

    assert stale_check.returncode == 1
    assert stale in stale_check.stderr
    assert f"Run `{REFRESH_COMMAND}`" in stale_check.stderr
    assert rewritten.returncode == 0, rewritten.stderr
    assert fresh_check.returncode == 0, fresh_check.stderr


def test_an_answer_without_a_meaning_is_named(template_copy):
    meanings = template_copy / "docs" / "answers.toml"
    text = meanings.read_text(encoding="utf-8")
    meanings.write_text(re.sub(r"\[init_git\]\nmeaning = .*\n", "", text), encoding="utf-8")

    checked = generate_docs(template_copy, "--check")

    assert checked.returncode == 2
    assert "docs/answers.toml has no meaning for init_git" in checked.stderr


def test_a_block_no_generator_writes_is_refused(template_copy):
    readme = template_copy / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "<!-- BEGIN generated: answer -->\n<!-- END generated: answer -->\n",
        encoding="utf-8",
    )

    checked = generate_docs(template_copy, "--check")

    assert checked.returncode == 2
    assert "README.md: no generator for the block 'answer'" in checked.stderr


def test_the_readme_is_a_first_screen():
    lines = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8").splitlines()

    assert len(lines) <= README_MAX_LINES, "move the detail into docs/ and link to it"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(TEMPLATE_DIR)))
def test_every_link_to_this_repository_resolves(document):
    broken = []
    for link in RELATIVE_LINK.finditer(document.read_text(encoding="utf-8")):
        target = (document.parent / link["path"]).resolve() if link["path"] else document
        if not target.exists():
            broken.append(f"{link[0]}: no such file")
        elif link["anchor"] and link["anchor"] not in heading_anchors(target.read_text(encoding="utf-8")):
            broken.append(f"{link[0]}: no such heading")

    assert broken == []


def test_the_readme_tree_names_what_a_bake_writes(baked_project):
    readme = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    tree = {entry.split("/")[0] for entry in TREE_ENTRY.findall(readme)}
    bakes = [baked_project({"ci_provider": provider}) for provider in ("github", "gitlab")]
    written = {path.name for project in bakes for path in project.iterdir()}

    # poetry.lock only with lock_dependencies=yes, which the shared bakes leave out.
    assert tree - {"poetry.lock"} == written


@pytest.mark.parametrize("app_type", ["fastapi", "cli"])
@pytest.mark.parametrize("database", ["none", "postgresql"])
def test_the_generated_readme_lists_every_task_of_the_project(baked_project, app_type, database):
    project = baked_project({"app_type": app_type, "database": database})
    readme = (project / "README.md").read_text(encoding="utf-8")
    tasks_section = readme[readme.index("## Tasks\n") : readme.index("\n## ", readme.index("## Tasks\n"))]

    listed = re.findall(r"^\| `([a-z][a-z-]*)` \|", tasks_section, re.MULTILINE)

    assert sorted(listed) == sorted(poe_tasks(project / "pyproject.toml"))
