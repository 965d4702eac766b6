"""One template, two renderers: copier gives the bytes cookiecutter gives, from the same question list, the
same answer check and the same manifest of conditional files; the record of the answers is data.

Real cookiecutter and copier, in this process (fast tier); the update path is tests/test_update.py.
"""

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier as copier_api
import pytest
import yaml
from cookiecutter.main import cookiecutter

from template_harness import (
    COOKIECUTTER_JSON,
    FAST_ANSWERS,
    TEMPLATE_DIR,
    bake,
    copier,
    load_hook,
    read_answers_file,
    run_checked,
)

post_gen = load_hook("post_gen_project")
# Every answer with choices that shapes the files, with every value (validate_build and init_git only choose
# hook steps; lock_dependencies=yes, which also changes a README line, locks: the slow test below renders it).
SHAPING_CHOICES = ("python_version", "app_type", "ci_provider", "license")
EVERY_COMBINATION = [
    dict(zip(SHAPING_CHOICES, values, strict=True))
    for values in itertools.product(*(COOKIECUTTER_JSON[question] for question in SHAPING_CHOICES))
]
# The fast tier's share: every app_type x ci_provider, with each python_version and license among them.
EVERY_VALUE = [
    {**combination, "python_version": python, "license": licence}
    for combination, python, licence in zip(
        (
            {"app_type": a, "ci_provider": c}
            for a in COOKIECUTTER_JSON["app_type"]
            for c in COOKIECUTTER_JSON["ci_provider"]
        ),
        itertools.cycle(COOKIECUTTER_JSON["python_version"]),
        itertools.cycle(COOKIECUTTER_JSON["license"][::-1]),
        strict=False,
    )
]


@pytest.fixture(scope="module")
def template_copy(tmp_path_factory) -> Path:
    """The template's files without git: both tools render the working tree as it is, without a clone."""
    copy = tmp_path_factory.mktemp("template-copy") / "poetry-service-template"
    listed = run_checked(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], TEMPLATE_DIR).stdout
    for name in filter(None, listed.split("\0")):
        if (TEMPLATE_DIR / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE_DIR / name, copy / name)
    return copy


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under folder: its bytes and mode (folders: empty bytes)."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes() if path.is_file() else b"", path.stat().st_mode)
        for path in sorted(folder.rglob("*"))
    }


def render_both(template: Path, destination: Path, answers: dict) -> tuple[Path, Path]:
    """The same answers rendered by cookiecutter and by copier (each with its hooks or tasks)."""
    config = destination / "cookiecutter.yaml"
    destination.mkdir(parents=True)
    config.write_text(yaml.safe_dump({"cookiecutters_dir": str(destination), "replay_dir": str(destination)}))
    by_cookiecutter = cookiecutter(
        str(template),
        no_input=True,
        extra_context=answers,
        output_dir=str(destination / "cookiecutter"),
        config_file=str(config),
    )
    by_copier = destination / "copier" / "my-service"
    copier_api.run_copy(str(template), by_copier, data=answers, defaults=True, unsafe=True, quiet=True)
    return Path(by_cookiecutter), by_copier


def test_copier_yml_is_generated_from_cookiecutter_json_and_the_migrations():
    checked = subprocess.run(
        [sys.executable, "scripts/copier_yml.py", "--check"], cwd=TEMPLATE_DIR, capture_output=True, text=True
    )

    assert checked.returncode == 0, checked.stderr
    copier_yml = yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text(encoding="utf-8"))
    questions = [key for key in copier_yml if not key.startswith("_")]
    assert questions == [key for key in COOKIECUTTER_JSON if not key.startswith("_")]
    migrations = sorted(path.stem for path in (TEMPLATE_DIR / "migrations").glob("v*.py"))
    assert [migration["version"] for migration in copier_yml["_migrations"]] == migrations


def assert_same_bytes(template: Path, destination: Path, combinations: list[dict]):
    for number, options in enumerate(combinations):
        by_cookiecutter, by_copier = render_both(template, destination / str(number), {**FAST_ANSWERS, **options})

        assert tree(by_copier) == tree(by_cookiecutter), options


def test_each_value_of_each_choice_renders_the_same_bytes_with_both_tools(template_copy, tmp_path):
    assert_same_bytes(template_copy, tmp_path, EVERY_VALUE)


@pytest.mark.slow
def test_every_option_combination_renders_the_same_bytes_with_both_tools(template_copy, tmp_path):
    assert_same_bytes(template_copy, tmp_path, EVERY_COMBINATION)


@pytest.mark.slow
def test_a_locked_project_has_the_same_files_from_both_tools_but_its_lock(template_copy, tmp_path):
    """lock_dependencies=yes: both lock (the lock is PyPI's resolution of the moment, and Poetry may make .venv
    to lock in); the rest is equal."""
    by_cookiecutter, by_copier = render_both(
        template_copy, tmp_path / "out", {**FAST_ANSWERS, "lock_dependencies": "yes"}
    )

    for project in (by_cookiecutter, by_copier):
        assert (project / "poetry.lock").is_file()
        (project / "poetry.lock").unlink()
        shutil.rmtree(project / ".venv", ignore_errors=True)
    assert tree(by_copier) == tree(by_cookiecutter)


def test_the_answers_record_is_the_same_from_both_tools_and_holds_no_machine_paths(template_copy, tmp_path):
    by_cookiecutter, by_copier = render_both(template_copy, tmp_path / "out", {**FAST_ANSWERS, "app_type": "cli"})

    record = read_answers_file(by_copier)
    assert (by_copier / ".copier-answers.yml").read_bytes() == (by_cookiecutter / ".copier-answers.yml").read_bytes()
    assert record["app_type"] == "cli"
    assert [key for key in record if not key.startswith("_")] == [k for k in COOKIECUTTER_JSON if not k.startswith("_")]
    assert not {"_output_dir", "_repo_dir", "_checkout", "_template", "_extensions"} & set(record)
    assert record["docker_base_image"] == ""


def test_the_manifest_of_conditional_files_is_copiers_exclusion_list():
    """copier's _exclude asks the hook's UNSELECTED_PATHS; folders that hold only left-out files go too."""
    extensions = load_hook("post_gen_project")  # the manifest's owner
    answers = {
        "app_type": "cli",
        "database": "none",
        "ci_provider": "none",
        "license": "Proprietary",
        "package_name": "pkg",
    }
    shared = _template_extensions()

    excluded = shared.unselected_paths(answers).splitlines()

    assert excluded[: len(extensions.unselected_paths(answers))] == extensions.unselected_paths(answers)
    assert {"src/pkg/app.py", ".github/workflows/ci.yml", "LICENSE", ".github"} <= set(excluded)
    assert {"src/pkg/database.py", "src/pkg/migrations", "src/pkg/migrations/versions"} <= set(excluded)
    assert "src/pkg" not in excluded


def _template_extensions():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "template_extensions_under_test", TEMPLATE_DIR / "template_extensions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Answers the pre-generation hook refuses, all at once: each is named, in the order of the questions.
BAD_ANSWERS = {
    "author_email": "Jane <jane@example.com>",
    "project_slug": "My Service!",
    "version": "one",
    "docker_base_image": "Python:3.13",
    "package_index_url": "https://user:token@pypi.example.com/simple/",
}


def test_bad_answers_get_the_same_messages_from_both_tools_and_no_traceback(template_copy, tmp_path):
    by_cookiecutter = bake(tmp_path / "cookiecutter", template=template_copy, **BAD_ANSWERS)
    data = [f"--data={key}={value}" for key, value in {**FAST_ANSWERS, **BAD_ANSWERS}.items()]
    by_copier = copier(
        "copy", "--trust", "--defaults", *data, str(template_copy), str(tmp_path / "copier"), cwd=tmp_path
    )

    def errors(text):
        return [line for line in text.splitlines() if line.startswith("error: ")]

    assert by_cookiecutter.returncode != 0
    assert by_copier.returncode != 0
    assert len(errors(by_copier.stderr)) >= len(BAD_ANSWERS)
    assert errors(by_copier.stderr) == errors(by_cookiecutter.stderr)
    assert "Traceback" not in by_copier.stderr
    assert "Nothing was generated" in by_copier.stderr
    assert "token" not in by_copier.stderr.replace("user:password@ or user@", "")
    assert not (tmp_path / "copier").exists()


def test_a_choice_given_to_copier_that_is_not_offered_is_refused_by_name(template_copy, tmp_path):
    refused = copier(
        "copy", "--trust", "--defaults", "--data=app_type=django", str(template_copy), str(tmp_path / "p"), cwd=tmp_path
    )

    assert refused.returncode != 0
    assert "error: app_type 'django' is not one of the choices: fastapi, cli." in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "p").exists()


def test_copier_derives_the_slug_and_package_from_the_name_as_cookiecutter_does(template_copy, tmp_path):
    answers = {**FAST_ANSWERS, "project_name": "Ünïcode Billing Service"}
    by_cookiecutter, by_copier = render_both(template_copy, tmp_path / "out", answers)

    assert by_cookiecutter.name == "unicode-billing-service"
    assert read_answers_file(by_copier)["package_name"] == "unicode_billing_service"
    assert tree(by_copier) == tree(by_cookiecutter)


# Answers that hold Jinja: typed at cookiecutter's prompts they need nothing, and from then on they are data.
JINJA_TEXT = {
    "project_name": "Ops {{ team }} {% raw %}",
    "description": "Renders {{ 6 * 7 }} and {# not a comment #} as typed",
    "author_name": "{{ cycler.__init__.__globals__ }}",
}


def test_answers_holding_jinja_are_recorded_as_typed_and_copier_renders_them_as_data(template_copy, tmp_path):
    typed = bake(tmp_path / "typed", template=template_copy, typed={**JINJA_TEXT, "project_slug": "ops-team"})
    assert typed.returncode == 0, typed.output
    project = tmp_path / "typed" / "ops-team"
    record = read_answers_file(project)
    assert {key: record[key] for key in JINJA_TEXT} == JINJA_TEXT

    # copier renders the same project from that record: the answers reach every file as the same text.
    data_file = tmp_path / "answers.yml"
    data_file.write_text(yaml.safe_dump({k: v for k, v in record.items() if not k.startswith("_")}))
    again = copier(
        "copy",
        "--trust",
        "--defaults",
        f"--data-file={data_file}",
        str(template_copy),
        str(tmp_path / "c"),
        cwd=tmp_path,
    )

    assert again.returncode == 0, again.stderr
    assert tree(tmp_path / "c") == tree(project)
    assert "42" not in (project / "README.md").read_text(encoding="utf-8")
    assert "Renders \\{\\{ 6 \\* 7 \\}\\}" in (project / "README.md").read_text(encoding="utf-8") or "{{ 6 * 7 }}" in (
        project / "pyproject.toml"
    ).read_text(encoding="utf-8")


def test_an_empty_base_image_follows_the_python_version(template_copy, tmp_path):
    for version in COOKIECUTTER_JSON["python_version"]:
        project = tmp_path / version
        answers = {**FAST_ANSWERS, "python_version": version}
        copier_api.run_copy(
            str(template_copy), project, data=answers, defaults=True, unsafe=True, quiet=True, skip_tasks=True
        )

        assert f"ARG PYTHON_IMAGE=python:{version}-slim-trixie\n" in (project / "Dockerfile").read_text()
        assert read_answers_file(project)["docker_base_image"] == ""


def test_copier_runs_the_generation_steps_on_copy_only(template_copy, tmp_path):
    created = copier(
        "copy", "--trust", "--defaults", *(f"--data={k}={v}" for k, v in {**FAST_ANSWERS, "init_git": "yes"}.items()),
        str(template_copy), str(tmp_path / "p"), cwd=tmp_path,
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    assert "template record" in created.stdout + created.stderr
    assert (tmp_path / "p" / ".git").is_dir()


def test_the_template_holds_no_line_that_reads_as_a_conflict_marker():
    """finish-template-update names a file whose marker lines the update added: the template must add none."""
    marker = re.compile(rb"^(<<<<<<<|\|\|\|\|\|\|\||=======|>>>>>>>)( |\r?$)", re.MULTILINE)
    project_folder = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    offenders = [
        str(path.relative_to(project_folder))
        for path in project_folder.rglob("*")
        if path.is_file() and marker.search(path.read_bytes())
    ]

    assert offenders == []
