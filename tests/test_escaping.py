"""The escaping filters of template_extensions.py, judged by the tools that read each format.

A Dockerfile LABEL quoted by dockerfile_string passes hadolint and reaches the image as typed (BuildKit
builds it FROM scratch, so no base image is needed); markdown_text, toml_string and yaml_string round-trip
through a CommonMark parser, tomllib and PyYAML.
"""

import importlib.util
import json
import subprocess
import tomllib

import pytest
import yaml
from markdown_it import MarkdownIt

from template_harness import HADOLINT, TEMPLATE_DIR, run_checked, tool_environment

spec = importlib.util.spec_from_file_location("template_extensions", TEMPLATE_DIR / "template_extensions.py")
template_extensions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(template_extensions)

# One line each (the hook refuses line breaks and control characters in free text).
HOSTILE_TEXTS = [
    "ends in a backslash \\",
    "\\",
    "\\\\",
    'a \\" b',
    '"quoted" \\"escaped\\"',
    "$HOME ${x} \\$y $(id) `id`",
    "'single' and \"double\"",
    "Ünïcødé, 中文, emoji 🐍",
    "#not a comment",
    "    four spaces in front",
    "trailing spaces   ",
    "1. not a list",
    "- not a list either",
    "> not a quote",
    "<b>not bold</b> &amp; *not em* _nor_ [a](link) | pipe ~~del~~ !",
    "{{ braces }} {% tag %} {# comment #}",
]
IDS = [f"text{index}" for index, _ in enumerate(HOSTILE_TEXTS)]


def labels_dockerfile(base: str) -> str:
    pairs = " \\\n      ".join(
        f"text{index}={template_extensions.dockerfile_string(text)}" for index, text in enumerate(HOSTILE_TEXTS)
    )
    return f"FROM {base}\nLABEL {pairs}\n"


def test_dockerfile_labels_pass_hadolint(tmp_path):
    (tmp_path / "Dockerfile").write_text(labels_dockerfile("python:3.13-slim") + "USER 10001\n", encoding="utf-8")

    linted = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.docker
def test_dockerfile_labels_reach_the_image_as_typed(docker, tmp_path):
    (tmp_path / "Dockerfile").write_text(labels_dockerfile("scratch"), encoding="utf-8")
    image = f"template-escaping-test:{tmp_path.name.lower()}"
    env = tool_environment(DOCKER_BUILDKIT="1")
    run_checked([docker, "build", "--quiet", "--tag", image, "."], cwd=tmp_path, env=env)
    try:
        inspected = run_checked(
            [docker, "image", "inspect", "--format", "{{json .Config.Labels}}", image], cwd=tmp_path
        )
    finally:
        subprocess.run([docker, "image", "rm", "--force", image], capture_output=True, check=False)

    labels = json.loads(inspected.stdout)

    assert [labels[f"text{index}"] for index in range(len(HOSTILE_TEXTS))] == HOSTILE_TEXTS


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=IDS)
def test_markdown_text_renders_as_one_paragraph_of_the_text(text):
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(template_extensions.markdown_text(text))

    assert [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    assert "".join(child.content for child in tokens[1].children if child.type == "text") == text


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=IDS)
def test_markdown_text_as_a_heading_keeps_the_text(text):
    tokens = MarkdownIt("commonmark").parse("# " + template_extensions.markdown_text(text))

    assert tokens[0].type == "heading_open"
    assert "".join(child.content for child in tokens[1].children if child.type == "text") == text


@pytest.mark.parametrize("text", [*HOSTILE_TEXTS, "tab\tand \x7f delete"], ids=[*IDS, "control"])
def test_toml_and_yaml_strings_round_trip(text):
    assert tomllib.loads(f"value = {template_extensions.toml_string(text)}")["value"] == text
    assert yaml.safe_load(f"value: {template_extensions.yaml_string(text)}")["value"] == text
