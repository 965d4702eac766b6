"""Names that shadow what the project runs: a slug that is a command (its console script comes first on PATH in
`poetry run`, poe's tasks and the image), a package that is a module of the chosen Python's standard library (not
of the Python running cookiecutter), a dunder name, or a module Python or pytest import by name."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from template_harness import COOKIECUTTER_JSON, STANDIN_PYTHON_VERSIONS, bake, load_hook

pre_gen = load_hook("pre_gen_project")
PYTHON_VERSIONS = COOKIECUTTER_JSON["python_version"]


@pytest.mark.parametrize("slug", ["sh", "bash", "docker", "find", "git", "python", "env", "make", "curl", "sudo", "gh"])
def test_a_slug_that_is_a_command_is_refused_with_the_reason(tmp_path, slug):
    result = bake(tmp_path, project_slug=slug, package_name="svc")

    assert result.returncode != 0
    assert f"error: project_slug {slug!r} " in result.stderr
    assert "comes first on PATH" in result.stderr or "is the name of a package or command" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("test", "standard library"),
        ("__main__", "dunder"),
        ("__phello__", "dunder"),
        ("__init__", "dunder"),
        ("conftest", "pytest imports"),
        ("sitecustomize", "start-up"),
        ("usercustomize", "start-up"),
        ("dotenv", "is the name of a package"),
        ("pydantic_settings", "is the name of a package"),
    ],
)
def test_a_package_name_that_shadows_a_module_is_refused_with_the_reason(name, reason):
    problem = pre_gen.validate_package_name(name, "3.13")

    assert problem.startswith(f"package_name {name!r} ")
    assert reason in problem


# A module removed from the standard library in a later Python: shadowed on an older one only.
REMOVED = {"imp": "3.12", "asyncore": "3.12", "telnetlib": "3.13", "cgi": "3.13", "lib2to3": "3.13"}


@pytest.mark.parametrize(("module", "removed_in"), REMOVED.items())
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_the_standard_library_is_the_chosen_pythons_not_the_running_ones(module, removed_in, python_version):
    refused = pre_gen.validate_package_name(module, python_version)

    assert (refused is not None) == (pre_gen.version_key(python_version) < pre_gen.version_key(removed_in))


def standard_library_of_this_python() -> set[str]:
    """Every top-level module of the running Python's standard library, as Python itself lists and finds them."""
    return set(
        json.loads(
            subprocess.run(
                [sys.executable, "-c", STANDARD_LIBRARY_LISTING], capture_output=True, text=True, check=True
            ).stdout
        )
    )


# sys.stdlib_module_names leaves out the test modules; the standard library's folders have them.
STANDARD_LIBRARY_LISTING = r"""
import json, pkgutil, sys, sysconfig
folder = sysconfig.get_paths()["stdlib"]
found = {module.name for module in pkgutil.iter_modules([folder, folder + "/lib-dynload"])}
names = set(sys.stdlib_module_names) | set(sys.builtin_module_names) | found
print(json.dumps(sorted(name for name in names if not name.startswith("_sysconfigdata") and name != "sitecustomize")))
"""


def assert_refused_as_packages(names: set[str], python_version: str) -> None:
    candidates = {name for name in names if name.isidentifier() and name == name.lower() and not name.startswith("__")}
    accepted = sorted(name for name in candidates if pre_gen.validate_package_name(name, python_version) is None)
    assert accepted == [], f"add them to STANDARD_LIBRARY in hooks/pre_gen_project.py (Python {python_version})"


def test_every_module_of_the_running_pythons_standard_library_is_refused():
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert_refused_as_packages(standard_library_of_this_python(), running)


@pytest.mark.docker
@pytest.mark.parametrize("python_version", STANDIN_PYTHON_VERSIONS)
def test_every_module_of_each_base_images_standard_library_is_refused(docker, base_image, python_version):
    listed = subprocess.run(
        [docker, "run", "--rm", "--entrypoint", "python", base_image(python_version), "-c", STANDARD_LIBRARY_LISTING],
        capture_output=True,
        text=True,
        check=True,
    )

    assert_refused_as_packages(set(json.loads(listed.stdout)), python_version)


# Where a shell command starts: after these, or at the start of a line.
COMMAND_START = re.compile(r"\$\(|&&|\|\||[;&|(){}`\n]|\b(?:then|do|else|elif|if|while|until|exec|xargs|timeout|env)\b")
QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")


def shell_texts(project: Path):
    """Every shell text the project runs: its scripts, poe tasks, Dockerfile RUNs and entry points, CI steps."""
    for script in project.glob("scripts/*.sh"):
        yield script.read_text(encoding="utf-8")
    yield from strings_under(
        tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"], ("cmd", "shell")
    )
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    yield from re.findall(r"^RUN (.*)$", dockerfile, re.MULTILINE)
    yield from re.findall(r'^(?:HEALTHCHECK.*CMD|ENTRYPOINT) \["([^"]+)"', dockerfile, re.MULTILINE)
    for ci_file in [*project.glob(".github/workflows/*.yml"), *project.glob(".gitlab-ci.yml")]:
        yield from strings_under(
            yaml.safe_load(ci_file.read_text(encoding="utf-8")), ("run", "script", "before_script", "after_script")
        )


def strings_under(node, keys: tuple[str, ...]):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                yield from [value] if isinstance(value, str) else [item for item in value if isinstance(item, str)]
            else:
                yield from strings_under(value, keys)
    elif isinstance(node, list):
        for value in node:
            yield from strings_under(value, keys)


def commands_run_by(text: str) -> set[str]:
    """The first word of each simple command, without comments, quoted text, expansions or assignments."""
    text = re.sub(r"^\s*#.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"\$\(\(.*?\)\)|\$\{[^}]*\}", " _ ", text)
    text = re.sub(r"(?:^|\s)#.*$", "", QUOTED.sub(" _ ", text), flags=re.MULTILINE)
    found = set()
    for part in COMMAND_START.split(text):
        words = [word for word in part.split() if not ASSIGNMENT.match(word) and word != "!"]
        if words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
            found.add(words[0])
    return found


def test_every_command_the_generated_project_runs_is_refused_as_a_slug(tmp_path):
    found = set()
    for provider in ("github", "gitlab"):
        for app_type in COOKIECUTTER_JSON["app_type"]:
            result = bake(
                tmp_path / f"{provider}-{app_type}",
                ci_provider=provider,
                app_type=app_type,
                package_index_url="https://pypi.example.com/simple/",
            )
            assert result.returncode == 0, result.output
            found |= {command for text in shell_texts(result.project) for command in commands_run_by(text)}
    # What the heuristic reads as a command and this machine runs as one (the project's own excepted).
    commands = {name for name in found if shutil.which(name) or name in pre_gen.COMMAND_REASONS} - {"my-service"}

    assert {"sh", "docker", "git", "poetry", "python", "sed", "grep"} <= commands
    assert sorted(name for name in commands if pre_gen.validate_slug(name, name) is None) == []
