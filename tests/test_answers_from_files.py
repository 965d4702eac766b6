"""Answers from a cookiecutter config file (default_context) or a replay file: YAML and JSON type unquoted values
(017 is the number 15, yes a boolean, ~ null, 2024-01-01 a date), and cookiecutter turns them into other text, a
traceback, or, for a choice it does not offer, drops them with every default_context value after them. Each is
refused by name, saying how to quote it, before anything is written; quoted, the text arrives as typed."""

import json
import subprocess
import sys
import tomllib

import pytest

from template_harness import FAST_ANSWERS, TEMPLATE_DIR, tool_environment

QUOTE_IT = "quote it"
# (default_context lines of a YAML config file, the field the error names, what it says of the value).
TYPED_BY_YAML = {
    "octal-version": ("version: 017", "version", "the number 15"),
    "float-version": ("version: 1.10", "version", "the number 1.1"),
    "sexagesimal-version": ("version: 1:30", "version", "the number 90"),
    "boolean-name": ("project_name: yes", "project_name", "the boolean true"),
    "boolean-author": ("author_name: off", "author_name", "the boolean false"),
    "null-description": ("description:", "description", "null"),
    "tilde-email": ("author_email: ~", "author_email", "null"),
    "date-image": ("docker_base_image: 2024-01-01", "docker_base_image", "the date 2024-01-01"),
    "float-python": ("python_version: 3.11", "python_version", "the number 3.11"),
    "boolean-choice": ("init_git: no", "init_git", "the boolean false"),
    "list-slug": ("project_slug: [a, b]", "project_slug", "a list"),
    "choice-not-offered": ('python_version: "3.10"', "python_version", "is not one of its choices"),
}


def cookiecutter(tmp_path, *arguments: str):
    output = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE_DIR), "--output-dir", str(output), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, env=tool_environment(), check=False)
    return completed, output


def config_file(tmp_path, *lines: str):
    path = tmp_path / "config.yaml"
    body = "".join(f"  {line}\n" for line in lines)
    fast = "".join(f'  {key}: "{value}"\n' for key, value in FAST_ANSWERS.items())
    path.write_text(f"default_context:\n{fast}{body}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "field", "seen"), TYPED_BY_YAML.values(), ids=TYPED_BY_YAML)
def test_a_config_value_yaml_typed_is_refused_by_name(tmp_path, line, field, seen):
    completed, output = cookiecutter(tmp_path, "--no-input", "--config-file", str(config_file(tmp_path, line)))

    assert completed.returncode != 0
    assert f"error: {field} " in completed.stderr, completed.stdout + completed.stderr
    assert seen in completed.stderr
    assert QUOTE_IT in completed.stderr or "choices" in completed.stderr
    assert "default_context of your cookiecutter config file" in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert not output.exists()


def test_every_typed_value_is_named_at_once_not_only_the_first(tmp_path):
    config = config_file(tmp_path, "lock_dependencies: no", "version: 017", "project_name: on")

    completed, _ = cookiecutter(tmp_path, "--no-input", "--config-file", str(config))

    for field in ("lock_dependencies", "version", "project_name"):
        assert f"error: {field} " in completed.stderr


def test_a_typed_value_is_refused_at_the_prompts_too(tmp_path):
    config = config_file(tmp_path, "version: 017")

    completed, output = cookiecutter(tmp_path, "--config-file", str(config))

    assert completed.returncode != 0
    assert "error: version is the number 15" in completed.stderr
    assert not output.exists()


def test_quoted_values_arrive_as_typed_and_other_templates_keys_are_ignored(tmp_path):
    config = config_file(tmp_path, 'version: "1.10"', 'project_name: "yes"', "full_name: no", "github_username: 017")

    completed, output = cookiecutter(tmp_path, "--no-input", "--config-file", str(config))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    project = tomllib.loads((output / "yes" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == "1.10"


def replay_file(tmp_path, **changes):
    """A replay file as cookiecutter writes it (every answer, as text), with these values in place."""
    questions = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    answers = {
        key: value[0] if isinstance(value, list) and not key.startswith("_") else value
        for key, value in questions.items()
        if key != "__prompts__"
    }
    answers.update(project_slug="my-service", package_name="my_service", **FAST_ANSWERS)
    answers["repository_url"] = "https://github.com/example/my-service"
    answers["docker_base_image"] = "python:3.13-slim-trixie"
    answers.update(changes)
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({"cookiecutter": answers}), encoding="utf-8")
    return path


REPLAYED = {
    "number-version": ({"version": 1.5}, "error: version is the number 1.5"),
    "boolean-git": ({"init_git": False}, "error: init_git is the boolean false"),
    "null-index": ({"package_index_url": None}, "error: package_index_url is null"),
    "choice-not-offered": ({"app_type": "django"}, "error: app_type 'django' is not one of its choices"),
}


@pytest.mark.parametrize(("changes", "message"), REPLAYED.values(), ids=REPLAYED)
def test_a_replay_file_value_that_is_not_a_text_answer_is_refused_by_name(tmp_path, changes, message):
    completed, output = cookiecutter(tmp_path, "--replay-file", str(replay_file(tmp_path, **changes)))

    assert completed.returncode != 0
    assert message in completed.stderr, completed.stdout + completed.stderr
    assert "(in the replay file)" in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert not output.exists()


def test_a_replay_file_of_text_answers_generates(tmp_path):
    completed, output = cookiecutter(tmp_path, "--replay-file", str(replay_file(tmp_path)))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (output / "my-service" / "pyproject.toml").is_file()
