"""Answers and their validation: bad input is refused before anything is written."""

import pytest
from conftest import COOKIECUTTER_JSON, load_hook

pre_gen = load_hook("pre_gen_project")

INVALID_ANSWERS = [
    ("project_slug", "1-service", "starting with a letter"),
    ("project_slug", "My_Service", "lowercase letters"),
    ("project_slug", "my--service", "single hyphens"),
    ("package_name", "my-service", "lowercase Python identifier"),
    ("package_name", "class", "keyword"),
    ("package_name", "match", "keyword"),
    ("package_name", "json", "standard library"),
    ("package_name", "MyService", "lowercase Python identifier"),
    ("author_email", "jane.example.com", "name@example.com"),
    ("author_email", "jane@localhost", "name@example.com"),
    ("version", "v1", "PEP 440"),
    ("package_index_url", "ftp://mirror.example.com/simple/", "leave it empty for PyPI"),
    ("package_index_url", "pypi.example.com/simple", "http(s) URL"),
    ("repository_url", "git@github.com:org/repo.git", "http(s) URL"),
    ("docker_base_image", "python 3.13", "image reference"),
]


@pytest.mark.parametrize(("field", "value", "hint"), INVALID_ANSWERS)
def test_invalid_answer_is_refused_with_its_field_and_nothing_is_written(baked, field, value, hint):
    result = baked(**{field: value})

    assert result.returncode != 0
    assert f"error: {field} " in result.stderr
    assert hint in result.stderr
    assert list(result.output_dir.iterdir()) == []


def test_every_problem_is_reported_at_once(baked):
    result = baked(project_slug="9lives", author_email="nobody", version="latest")

    for field in ("project_slug", "author_email", "version"):
        assert f"error: {field} " in result.stderr


@pytest.mark.parametrize(
    "field", ["project_name", "description", "author_name"], ids=["project_name", "description", "author_name"]
)
def test_line_breaks_in_free_text_are_refused(field):
    answers = {**valid_answers(), field: "first line\nsecond line"}

    problems = pre_gen.find_problems(answers)

    assert problems == [f"{field} holds a line break or control character: write it on one line."]


def test_blank_free_text_is_refused():
    problems = pre_gen.find_problems({**valid_answers(), "author_name": "  "})

    assert problems == ["author_name is empty: give it a value."]


def valid_answers() -> dict:
    return {
        "project_name": "My Service",
        "project_slug": "my-service",
        "package_name": "my_service",
        "description": "A service.",
        "author_name": "Jane Doe",
        "author_email": "jane.doe@example.com",
        "version": "0.1.0",
        "poetry_version": "2.5.1",
        "repository_url": "https://github.com/example/my-service",
        "package_index_url": "",
        "docker_base_image": "python:3.13-slim-trixie",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1.0.0rc1"),
        ("version", "2.1.post3.dev4"),
        ("package_index_url", "https://nexus.example.com/repository/pypi/simple/"),
        ("docker_base_image", "registry.example.com:5000/python:3.13-slim@sha256:abc123"),
        ("project_name", 'Café "Q" \\ {{x}} $HOME'),
    ],
)
def test_valid_unusual_answers_are_accepted(field, value):
    assert pre_gen.find_problems({**valid_answers(), field: value}) == []


def test_default_answers_are_valid(baked):
    result = baked()

    assert result.returncode == 0, result.output
    assert result.project.is_dir()


def test_slug_and_package_name_derive_from_the_project_name(baked):
    result = baked(project_name="Billing Ledger Ça Va")

    assert result.returncode == 0, result.output
    project = result.output_dir / "billing-ledger-ca-va"
    assert (project / "src" / "billing_ledger_ca_va" / "__init__.py").is_file()


def test_python_versions_are_offered_newest_first():
    versions = COOKIECUTTER_JSON["python_version"]

    assert versions[0] == "3.13"
    assert {"3.13", "3.12", "3.11"} <= set(versions)
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_every_question_has_a_prompt():
    questions = {key for key in COOKIECUTTER_JSON if not key.startswith("_")}

    assert questions == set(COOKIECUTTER_JSON["__prompts__"])
