"""The template repository's own contract: the README's two set-up commands, and the answers table in docs/."""

import re
import subprocess

import pytest

from template_harness import (
    COOKIECUTTER_JSON,
    HOST_PYTHON,
    PACKAGE_INDEX_URL,
    QUESTIONS,
    TEMPLATE_DIR,
    tool_environment,
)

README = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    """The commands of the README's first code block under 'Set up', without their comments."""
    section = README[README.index("## Set up") :]
    block = section[section.index("```sh\n") + 6 : section.index("```", section.index("```sh\n") + 6)]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    generate, test = setup_commands()

    assert "cookiecutter ." in generate
    assert test.endswith("poe test")
    assert test in (TEMPLATE_DIR / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_answers_table_lists_every_question():
    answers_doc = (TEMPLATE_DIR / "docs" / "answers.md").read_text(encoding="utf-8")
    answers_section = answers_doc[
        answers_doc.index("<!-- BEGIN generated: answers -->") : answers_doc.index("<!-- END generated: answers -->")
    ]
    rows = re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", answers_section, re.MULTILINE)

    assert {name for row in rows for name in row if name} == set(QUESTIONS)


@pytest.mark.slow
def test_readme_generate_command_works_from_a_clean_clone(tmp_path, poetry):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(TEMPLATE_DIR), str(clone)], check=True)
    generate, _ = setup_commands()
    choice_number = COOKIECUTTER_JSON["python_version"].index(HOST_PYTHON) + 1
    typed = {"python_version": str(choice_number), "package_index_url": PACKAGE_INDEX_URL, "validate_build": "3"}
    keystrokes = "".join(f"{typed.get(question, '')}\n" for question in QUESTIONS)

    completed = subprocess.run(
        generate, shell=True, cwd=clone, input=keystrokes, capture_output=True, text=True, env=tool_environment()
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    project = tmp_path / "my-service"
    assert (project / "poetry.lock").is_file()
    assert "poetry check --lock" in completed.stdout
