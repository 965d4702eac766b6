"""A team's project takes the template's releases: `poe update-template` with real copier, git and Poetry.

One locked, installed project is made per module, from a clone of the template whose HEAD is tagged as the
next release; each test copies it (its .venv too), gives it a template clone of its own, commits a template
change there and tags it as the release after, then updates as the generated README says. Its answers hold
Jinja as typed text: every update must keep them as data.
"""

import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from template_harness import (
    COOKIECUTTER_JSON,
    GIT_IDENTITY,
    HOST_PYTHON,
    PACKAGE_INDEX_URL,
    bake,
    clone_template,
    commit_all,
    git,
    next_release_tag,
    read_answers_file,
    run_checked,
    run_unchecked,
    tool_environment,
)

pytestmark = pytest.mark.slow

PROJECT_TEMPLATE = "{{cookiecutter.project_slug}}"
LOCKED_ANSWERS = {
    "python_version": HOST_PYTHON,
    "package_index_url": PACKAGE_INDEX_URL,
    "lock_dependencies": "yes",
    "init_git": "yes",
}
# Typed at the prompts, as a person types them: text, never a template, at creation and on every update.
JINJA_ANSWERS = {"description": "Renders {{ 6 * 7 }} and {% raw %} as typed", "author_name": "Ops {# team #}"}
NEXT_RELEASE = "v9.0.0"
NEEDS_A_PERSON = "error: the template update needs a person for these files:"
CONFLICT = re.compile(r"^(<<<<<<<|=======|>>>>>>>)( |$)", re.MULTILINE)
NO_VENV = {"POETRY_VIRTUALENVS_CREATE": "false"}


@pytest.fixture(scope="module")
def released_project(tmp_path_factory, poetry) -> Path:
    """A locked project made by cookiecutter from the template's next release, committed and installed."""
    folder = tmp_path_factory.mktemp("released")
    template = clone_template(folder / "template")
    result = bake(folder, template=template, typed=JINJA_ANSWERS, **LOCKED_ANSWERS)
    assert result.returncode == 0, result.output
    commit_all(result.project, "Generated from the template")
    run_checked([poetry, "install", "--with", "template"], result.project)
    return result.project


@pytest.fixture
def template(released_project, tmp_path) -> Path:
    """This test's clone of the template the project was made from, to commit and tag releases in."""
    clone = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(released_project.parent / "template"), str(clone))
    return clone


@pytest.fixture
def project(released_project, template, tmp_path) -> Path:
    """A copy of the project (its .venv too) whose record points at this test's template clone."""
    copy = tmp_path / "project"
    shutil.copytree(released_project, copy, symlinks=True)
    point_at(copy, str(template))
    return copy


def point_at(project: Path, source: str):
    """The template moved (the test's own clone): the record says where, committed."""
    answers = project / ".copier-answers.yml"
    text = re.sub(r"^_src_path: .*$", f"_src_path: {source}", answers.read_text(encoding="utf-8"), flags=re.MULTILINE)
    answers.write_text(text, encoding="utf-8")
    commit_all(project, "The template's shared location")


def template_file(template: Path, name: str) -> Path:
    return template / PROJECT_TEMPLATE / name


def edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer holds {old!r}: update this test's edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def release(template: Path, message: str, tag: str = NEXT_RELEASE) -> str:
    commit = commit_all(template, message)
    git(template, "tag", tag)
    return commit


def team_commits(project: Path, message: str = "The team's own changes"):
    commit_all(project, message)


def poe(project: Path, poetry: str, *arguments: str):
    """`poetry run poe ...` in the project, as its README says; the caller checks the exit code."""
    started = time.monotonic()
    completed = run_unchecked([poetry, "run", "poe", *arguments], project)
    print(f"poe {' '.join(arguments)}: {time.monotonic() - started:.1f} s")
    return completed


def needing_a_person(output: str) -> dict[str, str]:
    """name -> reason, from the list finish-template-update prints."""
    listed = output.split(NEEDS_A_PERSON, 1)[1].split("Resolve each")[0] if NEEDS_A_PERSON in output else ""
    return dict(line.strip().split(": ", 1) for line in listed.strip().splitlines())


def unmerged(project: Path) -> set[str]:
    return set(filter(None, git(project, "diff", "--name-only", "--diff-filter=U").splitlines()))


def commit_update(project: Path):
    """The documented commit after an update."""
    documented = 'git add --all && git commit --quiet -m "Update from the template"'
    run_checked(["bash", "-c", documented], project, env=tool_environment(**GIT_IDENTITY))


def assert_committed_tree_is_locked(project: Path, poetry: str, tmp_path: Path):
    """A fresh clone of what was committed passes poetry check --lock, and holds no conflict marker."""
    clone = tmp_path / "committed"
    git(tmp_path, "clone", "--quiet", str(project), str(clone))
    run_checked([poetry, "check", "--lock"], clone, env=tool_environment(**NO_VENV))
    assert git(project, "status", "--porcelain") == ""
    for path in clone.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert not CONFLICT.search(path.read_text(encoding="utf-8", errors="replace")), path


def test_a_clean_update_takes_the_release_keeps_the_teams_edits_and_commits_a_locked_tree(
    project, template, poetry, tmp_path
):
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nOur runbook lives in the team wiki.\n", "utf-8")
    (project / "src" / "my_service" / "greetings.py").write_text('"""Greetings."""\n', encoding="utf-8")
    team_commits(project)
    dockerfile = template_file(template, "Dockerfile")
    dockerfile.write_text(dockerfile.read_text(encoding="utf-8") + "# A line the template added.\n", "utf-8")
    template_file(template, "CONTRIBUTING.md").write_text("# Contributing\n", encoding="utf-8")
    release(template, "Template: a Dockerfile line, a new file")
    behind = poe(project, poetry, "template-check")

    updated = poe(project, poetry, "update-template")

    assert behind.returncode == 1
    assert behind.stdout.strip().splitlines()[-1].startswith("behind by 1 release:")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / "Dockerfile").read_text(encoding="utf-8").endswith("# A line the template added.\n")
    assert (project / "CONTRIBUTING.md").read_text(encoding="utf-8") == "# Contributing\n"
    assert readme.read_text(encoding="utf-8").endswith("\nOur runbook lives in the team wiki.\n")
    assert (project / "src" / "my_service" / "greetings.py").is_file()
    assert read_answers_file(project)["_commit"] == NEXT_RELEASE
    seconds = float(re.search(r"copier update and the files that need a person: ([\d.]+) s", updated.stdout)[1])
    print(f"update without conflicts, before the checks: {seconds:.1f} s")
    assert seconds < 120
    commit_update(project)
    assert_committed_tree_is_locked(project, poetry, tmp_path)
    assert poe(project, poetry, "template-check").stdout.strip().splitlines()[-1] == (
        f"up to date with the latest release ({NEXT_RELEASE})"
    )
    again = poe(project, poetry, "update-template")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"up to date with the latest release ({NEXT_RELEASE}): nothing to update" in again.stdout
    assert git(project, "status", "--porcelain") == ""


def test_an_edited_file_the_template_deletes_stays_and_is_named(project, template, poetry):
    example = project / ".env.example"
    example.write_text(example.read_text(encoding="utf-8") + "OUR_SETTING=1\n", encoding="utf-8")
    team_commits(project)
    ours = example.read_bytes()
    git(template, "rm", "--quiet", f"{PROJECT_TEMPLATE}/.env.example")
    release(template, "Template: no .env.example")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert "the template dropped it" in needing_a_person(updated.stderr)[".env.example"]
    assert example.read_bytes() == ours
    assert unmerged(project) == {".env.example"}
    # Kept, as the list says: git add keeps it, and the update finishes.
    git(project, "add", ".env.example")
    finished = poe(project, poetry, "finish-template-update")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert example.read_bytes() == ours


def test_a_template_file_where_the_team_has_one_is_a_conflict_with_both_texts(project, template, poetry):
    (project / "CONTRIBUTING.md").write_text("# How the payments team works\n", encoding="utf-8")
    team_commits(project)
    template_file(template, "CONTRIBUTING.md").write_text("# Contributing to this service\n", encoding="utf-8")
    release(template, "Template: CONTRIBUTING.md")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert "conflict markers" in needing_a_person(updated.stderr)["CONTRIBUTING.md"]
    text = (project / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "# How the payments team works\n" in text
    assert "# Contributing to this service\n" in text


def test_the_same_line_changed_on_both_sides_stops_until_resolved(project, template, poetry, tmp_path):
    readme = project / "README.md"
    edit(readme, "# My Service\n", "# My Service, run by the payments team\n")
    team_commits(project)
    edit(
        template_file(template, "README.md"),
        "# {{ c.project_name | markdown_text }}\n",
        "# {{ c.project_name | markdown_text }}: a service\n",
    )
    release(template, "Template: a new title line")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert list(needing_a_person(updated.stderr)) == ["README.md"]
    text = readme.read_text(encoding="utf-8")
    assert "# My Service, run by the payments team\n" in text
    assert "# My Service: a service\n" in text
    # Resolved as the README says: keep a side, delete the markers, finish, commit.
    resolved = re.sub(r"<<<<<<< .*?\n(.*?)=======\n.*?>>>>>>> .*?\n", r"\1", text, flags=re.DOTALL)
    readme.write_text(resolved, encoding="utf-8")
    finished = poe(project, poetry, "finish-template-update")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert readme.read_text(encoding="utf-8").startswith("# My Service, run by the payments team\n")
    commit_update(project)
    assert_committed_tree_is_locked(project, poetry, tmp_path)


def test_a_deletion_a_collision_and_a_conflict_in_one_update_are_all_named(project, template, poetry):
    example = project / ".env.example"
    example.write_text(example.read_text(encoding="utf-8") + "OUR_SETTING=1\n", encoding="utf-8")
    (project / "CONTRIBUTING.md").write_text("# How the payments team works\n", encoding="utf-8")
    edit(project / "README.md", "# My Service\n", "# My Service, run by the payments team\n")
    team_commits(project)
    git(template, "rm", "--quiet", f"{PROJECT_TEMPLATE}/.env.example")
    template_file(template, "CONTRIBUTING.md").write_text("# Contributing to this service\n", encoding="utf-8")
    edit(
        template_file(template, "README.md"),
        "# {{ c.project_name | markdown_text }}\n",
        "# {{ c.project_name | markdown_text }}: a service\n",
    )
    release(template, "Template: three changes")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert set(needing_a_person(updated.stderr)) == {".env.example", "CONTRIBUTING.md", "README.md"}
    assert "OUR_SETTING=1\n" in example.read_text(encoding="utf-8")


def test_a_lone_separator_left_from_a_conflict_is_named(project, template, poetry):
    dockerfile = project / "Dockerfile"
    edit(dockerfile, "ARG RUNTIME_PACKAGES=", "ARG RUNTIME_PACKAGES=libpq5")
    team_commits(project)
    edit(template_file(template, "Dockerfile"), "ARG RUNTIME_PACKAGES=", "ARG RUNTIME_PACKAGES=tzdata")
    release(template, "Template: tzdata at runtime")
    assert poe(project, poetry, "update-template").returncode == 1

    # Half resolved: the <<<<<<< and >>>>>>> lines deleted, the ======= line forgotten.
    text = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(re.sub(r"^(<<<<<<<|>>>>>>>) .*\n", "", text, flags=re.MULTILINE), encoding="utf-8")
    finished = poe(project, poetry, "finish-template-update")

    assert finished.returncode == 1
    assert list(needing_a_person(finished.stderr)) == ["Dockerfile"]


def test_a_template_dependency_merges_with_the_teams_poetry_add(project, template, poetry, tmp_path):
    run_checked([poetry, "add", "--lock", "structlog>=24"], project)
    team_commits(project, "The team adds structlog")
    edit(template_file(template, "pyproject.toml"), '    "uvicorn>=0.22",\n', '    "uvicorn>=0.22",\n    "anyio>=4",\n')
    release(template, "Template: anyio")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert '"anyio>=4",' in pyproject
    assert '"structlog (>=24)"' in pyproject
    assert pyproject.index('"anyio>=4"') < pyproject.index("# The template's dependencies end here")
    lock = (project / "poetry.lock").read_text(encoding="utf-8")
    assert 'name = "structlog"' in lock
    commit_update(project)
    assert_committed_tree_is_locked(project, poetry, tmp_path)


def test_an_option_switch_keeps_the_old_options_edited_file_and_names_it(project, template, poetry):
    ci = project / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text(encoding="utf-8") + "# Our deploy job comes here.\n", encoding="utf-8")
    team_commits(project)
    ours = ci.read_bytes()

    updated = poe(project, poetry, "update-template", "--data", "ci_provider=gitlab")

    assert updated.returncode == 1
    assert list(needing_a_person(updated.stderr)) == [".github/workflows/ci.yml"]
    assert ci.read_bytes() == ours
    assert (project / ".gitlab-ci.yml").is_file()
    assert not (project / ".github" / "workflows" / "template-update.yml").exists()
    assert read_answers_file(project)["ci_provider"] == "gitlab"


def test_turning_the_database_on_brings_it_in_as_a_merge(project, poetry, host_postgres, tmp_path):
    """A project made without a database takes database=postgresql: the package's database code, its
    migrations and tests arrive, the lock gains the drivers, and the new tests pass on a real server."""
    updated = poe(project, poetry, "update-template", "--data", "database=postgresql")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert read_answers_file(project)["database"] == "postgresql"
    assert (project / "src" / "my_service" / "migrations" / "env.py").is_file()
    lock = (project / "poetry.lock").read_text(encoding="utf-8")
    assert 'name = "sqlalchemy"' in lock
    assert 'name = "psycopg-binary"' in lock
    env = tool_environment(TEST_DATABASE_URL=host_postgres.create_database("updated_project"), CI="true")
    # python -m: the copied .venv's scripts still name the original project's interpreter.
    tested = run_unchecked(
        [poetry, "run", "python", "-m", "pytest", "-q", "tests/template/test_database.py"], project, env=env
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    commit_update(project)
    assert_committed_tree_is_locked(project, poetry, tmp_path)


def test_a_project_at_the_latest_release_is_up_to_date_while_main_moves(project, template, poetry):
    readme = template_file(template, "README.md")
    readme.write_text(readme.read_text(encoding="utf-8") + "\nOn main, not released.\n", encoding="utf-8")
    commit_all(template, "Template: unreleased work on main")

    checked = poe(project, poetry, "template-check")

    assert checked.returncode == 0
    assert checked.stdout.strip().splitlines()[-1] == f"up to date with the latest release ({next_release_tag()})"
    # A release, then more work on main: the update takes the release, not main.
    template_file(template, "CONTRIBUTING.md").write_text("# Contributing\n", encoding="utf-8")
    release(template, "Template: CONTRIBUTING.md")
    readme.write_text(readme.read_text(encoding="utf-8") + "\nStill unreleased.\n", encoding="utf-8")
    commit_all(template, "Template: more unreleased work")
    assert poe(project, poetry, "template-check").returncode == 1

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / "CONTRIBUTING.md").is_file()
    assert "Still unreleased" not in (project / "README.md").read_text(encoding="utf-8")
    assert read_answers_file(project)["_commit"] == NEXT_RELEASE


def test_an_unreachable_template_is_said_in_one_line(project, poetry, tmp_path):
    point_at(project, str(tmp_path / "gone"))

    checked = poe(project, poetry, "template-check")
    updated = poe(project, poetry, "update-template")

    assert checked.returncode == 2
    assert checked.stdout.strip().splitlines()[-1].startswith(f"cannot reach the template at {tmp_path / 'gone'}: ")
    assert "Traceback" not in checked.stdout + checked.stderr
    assert updated.returncode == 2
    assert "cannot reach the template" in updated.stdout
    assert "Traceback" not in updated.stdout + updated.stderr
    assert git(project, "status", "--porcelain") == ""


def test_a_template_url_with_credentials_is_never_shown(project, template, poetry):
    """A record holding a token (as cruft recorded a clone's URL) never has it printed by an update."""
    url = "https://ci-bot:s3cret-token@git.example.com/org/poetry-service-template.git"
    point_at(project, url)
    template_file(template, "CONTRIBUTING.md").write_text("# Contributing\n", encoding="utf-8")
    release(template, "Template: CONTRIBUTING.md")
    # git reaches the template through this URL (as a credential helper or a mirror would).
    redirect = {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"url.{template}.insteadOf",
        "GIT_CONFIG_VALUE_0": url,
        "GIT_CONFIG_KEY_1": f"url.{template}.insteadOf",
        "GIT_CONFIG_VALUE_1": "https://git.example.com/org/poetry-service-template.git",
    }
    environment = tool_environment(**redirect)

    checked = run_unchecked([poetry, "run", "poe", "template-check"], project, env=environment)
    updated = run_unchecked([poetry, "run", "poe", "update-template"], project, env=environment)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "s3cret-token" not in checked.stdout + checked.stderr + updated.stdout + updated.stderr
    assert (project / "CONTRIBUTING.md").is_file()


def test_answers_are_data_through_every_update_and_an_expression_in_the_record_never_runs(project, template, poetry):
    answers = project / ".copier-answers.yml"
    record = yaml.safe_load(answers.read_text(encoding="utf-8"))
    assert {key: record[key] for key in JINJA_ANSWERS} == JINJA_ANSWERS
    # Someone puts an expression into the record: an update (the CI job's too) must not evaluate it.
    edit(
        answers,
        "Renders {{ 6 * 7 }}",
        "Renders {{ 7 * 191 }} {{ cycler.__init__.__globals__.os.system('touch pwned') }}",
    )
    team_commits(project, "An expression in the answers")
    edit(
        template_file(template, "README.md"),
        "# {{ c.project_name | markdown_text }}\n",
        "# {{ c.project_name | markdown_text }} (service)\n",
    )
    release(template, "Template: a title")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    recorded = read_answers_file(project)
    assert recorded["description"].startswith("Renders {{ 7 * 191 }} {{ cycler.__init__")
    assert recorded["author_name"] == JINJA_ANSWERS["author_name"]
    for rendered in ("pyproject.toml", "README.md", "Dockerfile"):  # where the description is rendered
        assert "1337" not in (project / rendered).read_text(encoding="utf-8")
    assert not (project / "pwned").exists()
    # What the team rendered stays (an edit of the record is no answer change: --data is).
    assert 'description = "Renders {{ 6 * 7 }} and {% raw %} as typed"' in (project / "pyproject.toml").read_text()
    assert (project / "README.md").read_text(encoding="utf-8").startswith("# My Service (service)\n")


def test_a_file_the_team_deleted_that_the_template_changed_stays_deleted_and_is_named(project, template, poetry):
    git(project, "rm", "--quiet", "tests/template/test_settings.py")
    team_commits(project, "The team drops a test")
    test_settings = template_file(template, "tests/template/test_settings.py")
    test_settings.write_text(test_settings.read_text(encoding="utf-8") + "\n# The template's new line.\n", "utf-8")
    release(template, "Template: a settings test line")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert "you had deleted it" in needing_a_person(updated.stderr)["tests/template/test_settings.py"]
    assert not (project / "tests" / "template" / "test_settings.py").exists()


def test_an_ignored_file_of_the_team_is_never_overwritten_by_a_new_template_file(project, template, poetry):
    (project / ".env").write_text("DATABASE_PASSWORD=ours\n", encoding="utf-8")  # ignored by .gitignore
    template_file(template, ".env").write_text("LOG_LEVEL=info\n", encoding="utf-8")
    git(template, "add", "--force", f"{PROJECT_TEMPLATE}/.env")
    release(template, "Template: a .env")

    updated = poe(project, poetry, "update-template")

    assert updated.returncode == 1
    assert ".env" in needing_a_person(updated.stderr)
    assert (project / ".env").read_text(encoding="utf-8") == "DATABASE_PASSWORD=ours\n"


def test_an_answer_change_moves_the_derived_base_image_and_a_migration_frees_a_recorded_one(template, tmp_path):
    """A record from before 0.2.0 holds the rendered image (python:3.12-slim-trixie); 0.2.0's migration
    empties it, so --data python_version=3.11 moves ARG PYTHON_IMAGE too.

    The project is made for Python 3.12, which this machine may lack: copier runs from the template's dev
    environment (what `poe update-template` runs, `python scripts/template-update.py update`, under another
    Python), and the update moves it to this machine's Python, which the relock then uses.
    """
    # An older release with the same files, then the next release on a commit of its own.
    git(template, "tag", "v0.1.9", next_release_tag())
    git(template, "commit", "--quiet", "--allow-empty", "--message", "The next release")
    git(template, "tag", "--force", next_release_tag())
    other = next(version for version in COOKIECUTTER_JSON["python_version"] if version != HOST_PYTHON)
    answers = {**LOCKED_ANSWERS, "python_version": other, "lock_dependencies": "no", "init_git": "yes"}
    result = bake(tmp_path / "old", template=template, docker_base_image=f"python:{other}-slim-trixie", **answers)
    assert result.returncode == 0, result.output
    project = result.project
    record = project / ".copier-answers.yml"
    text = record.read_text(encoding="utf-8").replace(f"_commit: {next_release_tag()}", "_commit: v0.1.9")
    record.write_text(text, encoding="utf-8")
    commit_all(project, "Generated before 0.2.0")
    assert f"ARG PYTHON_IMAGE=python:{other}-slim-trixie\n" in (project / "Dockerfile").read_text(encoding="utf-8")
    command = [sys.executable, "scripts/template-update.py", "update", "--vcs-ref", next_release_tag()]

    updated = run_unchecked([*command, "--data", f"python_version={HOST_PYTHON}"], project)

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert f"ARG PYTHON_IMAGE=python:{HOST_PYTHON}-slim-trixie\n" in (project / "Dockerfile").read_text()
    recorded = read_answers_file(project)
    assert (recorded["python_version"], recorded["docker_base_image"]) == (HOST_PYTHON, "")
    assert f'requires-python = ">={HOST_PYTHON}"' in (project / "pyproject.toml").read_text(encoding="utf-8")
