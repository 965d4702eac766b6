"""Shared fixtures: the option matrix from cookiecutter.json, baking, Poetry, and Docker."""

import hashlib
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
PYTHON_VERSIONS = COOKIECUTTER_JSON["python_version"]
POETRY_VERSION = COOKIECUTTER_JSON["poetry_version"]
MATRIX_QUESTIONS = ("app_type", "ci_provider", "license")
OPTION_MATRIX = [
    dict(zip(MATRIX_QUESTIONS, values, strict=True))
    for values in itertools.product(*(COOKIECUTTER_JSON[question] for question in MATRIX_QUESTIONS))
]
# The index the tests lock against: PyPI's PEP 503 simple index, which Poetry reads as a legacy source.
PACKAGE_INDEX_URL = os.environ.get("TEMPLATE_TEST_INDEX_URL", "https://pypi.org/simple/")
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Answers that keep a bake offline and fast; tests that lock or validate say so.
FAST_ANSWERS = {"lock_dependencies": "no", "validate_build": "none", "init_git": "no"}
# Debian suites that ship these Python versions, for the stand-in base images.
STANDIN_PYTHON_VERSIONS = ("3.11", "3.13")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A bake that validates at the full level locks, installs, builds and runs an image: minutes, not more.
BAKE_TIMEOUT_SECONDS = 900


@dataclass
class Bake:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path
    answers: dict

    @property
    def project(self) -> Path:
        return self.output_dir / self.answers.get("project_slug", "my-service")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def tool_environment(**extra: str) -> dict:
    """This environment without the template's activated virtualenv, as a user's shell would be."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env.update(extra)
    return env


QUESTIONS = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]


def bake(
    output_dir: Path,
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
    env: dict | None = None,
    typed: dict | None = None,
    template: Path | str = TEMPLATE_DIR,
    **answers: str,
) -> Bake:
    """Run the real cookiecutter CLI on the template (this folder, or a clone of it) with these answers.

    Without `typed`, with --no-input. With `typed`, the prompts are answered on standard input, as a
    person types: those answers for their questions, Enter (the default, or `answers`) for the rest.
    `overwrite` and `skip_existing` are cookiecutter's -f and -s.
    """
    answers = {**FAST_ANSWERS, **answers}
    command = [sys.executable, "-m", "cookiecutter", str(template), "--output-dir", str(output_dir)]
    command += [] if typed else ["--no-input"]
    if overwrite:
        command.append("--overwrite-if-exists")
    if skip_existing:
        command.append("--skip-if-file-exists")
    command += [f"{key}={value}" for key, value in answers.items()]
    keystrokes = "".join(f"{(typed or {}).get(question, '')}\n" for question in QUESTIONS) if typed else None
    completed = subprocess.run(
        command,
        input=keystrokes,
        capture_output=True,
        text=True,
        env=env or tool_environment(),
        timeout=BAKE_TIMEOUT_SECONDS,
        check=False,
    )
    return Bake(completed.returncode, completed.stdout, completed.stderr, output_dir, {**answers, **(typed or {})})


def hook_summary(output: str) -> list[dict]:
    """The step rows of the post-generation hook's closing table (name, result, seconds, note)."""
    rows, in_table = [], False
    for line in output.splitlines():
        if re.match(r"^step\s+result\s+seconds\s+note", line):
            in_table = True
            continue
        if in_table:
            match = re.match(r"^(.+?)\s{2,}(ok|skipped|not run|FAILED)\s+([\d.]+)\s*(.*)$", line)
            if not match:
                break
            rows.append({"name": match[1], "result": match[2], "seconds": float(match[3]), "note": match[4]})
    return rows


def load_hook(name: str):
    """Import a hook as a module; its rendered-answers line runs only as __main__."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(command, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it fails."""
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=kwargs.pop("env", tool_environment()), **kwargs
    )
    if completed.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
        )
    return completed


@pytest.fixture
def baked(tmp_path):
    """bake() into this test's temporary directory."""

    def _bake(env: dict | None = None, **answers: str) -> Bake:
        return bake(tmp_path, env=env, **answers)

    return _bake


def matrix_id(answers: dict) -> str:
    return "-".join(answers.values())


@pytest.fixture(scope="session")
def baked_project(tmp_path_factory):
    """baked_project(answers) -> the project baked (--no-input) with those answers, once a session.

    Shared between test modules: read the project, never change it (copy it into tmp_path first).
    """
    projects: dict[tuple, Path] = {}

    def _baked_project(answers: dict) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in projects:
            result = bake(tmp_path_factory.mktemp("baked"), **answers)
            assert result.returncode == 0, result.output
            projects[key] = result.project
        return projects[key]

    return _baked_project


@pytest.fixture(scope="session")
def poetry() -> str:
    path = shutil.which("poetry")
    if path is None:
        pytest.fail("Poetry 2 must be on PATH for the slow tests (see README: Set-up)")
    return path


def remove_images_named(prefix: str) -> None:
    """Remove every image whose name starts with prefix (a test module's own), when a docker CLI is there."""
    docker = shutil.which("docker")
    if docker is None:
        return
    listed = subprocess.run(
        [docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=False
    )
    ours = [name for name in listed.stdout.split() if name.startswith(prefix)]
    if ours:
        subprocess.run([docker, "image", "rm", "--force", *ours], capture_output=True, check=False)


def docker_engine_answers(docker: str) -> bool:
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def docker() -> str:
    """The docker CLI, with an engine that answers and builds with BuildKit.

    In CI a missing engine fails the test: .ci/run installs and starts one.
    """
    path = shutil.which("docker")
    if path is None or not docker_engine_answers(path):
        message = "no Docker engine answers `docker info`"
        if IN_CI:
            pytest.fail(f"{message}: .ci/run must start one")
        pytest.skip(f"{message}: start Docker to run this tier")
    return path


STANDIN_SCRIPT = TEMPLATE_DIR / "scripts" / "build-standin-base-image.sh"
STANDIN_LABEL = "poetry-service-template.standin-script-sha256"


def image_present(docker: str, image: str) -> bool:
    return subprocess.run([docker, "image", "inspect", image], capture_output=True, check=False).returncode == 0


def standin_is_current(docker: str, image: str, scripts: tuple[Path, ...] = (STANDIN_SCRIPT,)) -> bool:
    """The stand-in was built by this version of its scripts (an older one may lack what tests need)."""
    label = subprocess.run(
        [docker, "image", "inspect", "--format", '{{ index .Config.Labels "' + STANDIN_LABEL + '" }}', image],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return label == hashlib.sha256(b"".join(script.read_bytes() for script in scripts)).hexdigest()


def ensure_base_image(docker: str, python_version: str) -> str:
    """The official slim image if the engine has or can pull it, else a stand-in built from Debian packages."""
    official = COOKIECUTTER_JSON["docker_base_image"].replace("{{ cookiecutter.python_version }}", python_version)
    standin = f"localhost/python-standin:{python_version}"
    if image_present(docker, official):
        return official
    if image_present(docker, standin) and standin_is_current(docker, standin):
        return standin
    if subprocess.run([docker, "pull", official], capture_output=True, check=False).returncode == 0:
        return official
    if python_version not in STANDIN_PYTHON_VERSIONS:
        pytest.fail(f"{official} cannot be pulled and no Debian suite ships Python {python_version} for a stand-in")
    run([STANDIN_SCRIPT, python_version, standin], cwd=TEMPLATE_DIR)
    return standin


@pytest.fixture(scope="session")
def base_image(docker):
    """base_image(python_version) -> an image reference usable as docker_base_image."""
    cache: dict[str, str] = {}

    def _base_image(python_version: str) -> str:
        if python_version not in cache:
            cache[python_version] = ensure_base_image(docker, python_version)
        return cache[python_version]

    return _base_image


# PostgreSQL's major version in the stand-in of the official postgres image (Debian trixie ships 17).
POSTGRES_MAJOR = "17"
POSTGRES_STANDIN_SCRIPTS = (
    TEMPLATE_DIR / "scripts" / "build-standin-postgres-image.sh",
    TEMPLATE_DIR / "scripts" / "standin-postgres-entrypoint.sh",
)


def ensure_postgres_image(docker: str) -> str:
    """The official postgres image if the engine has or can pull it, else a stand-in built from Debian packages."""
    official, standin = f"postgres:{POSTGRES_MAJOR}", f"localhost/postgres-standin:{POSTGRES_MAJOR}"
    if image_present(docker, official):
        return official
    if image_present(docker, standin) and standin_is_current(docker, standin, POSTGRES_STANDIN_SCRIPTS):
        return standin
    if subprocess.run([docker, "pull", official], capture_output=True, check=False).returncode == 0:
        return official
    run([POSTGRES_STANDIN_SCRIPTS[0], POSTGRES_MAJOR, standin], cwd=TEMPLATE_DIR)
    return standin


@pytest.fixture(scope="session")
def postgres_image(docker) -> str:
    """An image with the official postgres image's interface, usable as POSTGRES_IMAGE."""
    return ensure_postgres_image(docker)


# Commits made by the tests, in clones of the template and in generated projects.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}
CRUFT = str(Path(sys.executable).with_name("cruft"))


def git(cwd: Path, *arguments: str) -> str:
    return run(["git", *arguments], cwd, env=tool_environment(**GIT_IDENTITY)).stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    """Commit every change in the working tree; return the new commit."""
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--no-verify", "--message", message)
    return git(repository, "rev-parse", "HEAD")


def clone_template(destination: Path) -> Path:
    """A git clone of the template with its whole history, plus the working tree as it is now (uncommitted
    edits included) as one commit on top: what the tests update to is what is being tested."""
    git(TEMPLATE_DIR.parent, "clone", "--quiet", "--no-hardlinks", str(TEMPLATE_DIR), str(destination))
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], TEMPLATE_DIR).stdout
    for name in filter(None, listed.split("\0")):
        source, target = TEMPLATE_DIR / name, destination / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            target.unlink(missing_ok=True)
    if git(destination, "status", "--porcelain"):
        commit_all(destination, "The template's working tree")
    return destination


@pytest.fixture(scope="session")
def template_clone(tmp_path_factory) -> Path:
    """A clone of the template shared by the session: generate from it, never commit to it."""
    return clone_template(tmp_path_factory.mktemp("template") / "poetry-service-template")


@pytest.fixture
def own_template_clone(template_clone, tmp_path) -> Path:
    """A clone of template_clone for this test, which it may commit template changes to."""
    destination = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(template_clone), str(destination))
    return destination


def cruft(*arguments: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The real cruft CLI (a dev dependency of the template); the caller checks the exit code."""
    return subprocess.run(
        [CRUFT, *arguments], cwd=cwd, capture_output=True, text=True, env=tool_environment(**GIT_IDENTITY, **env)
    )


def cruft_create(template: Path, output_dir: Path, **answers: str) -> Path:
    """cruft create with --no-input and these answers (over FAST_ANSWERS); returns the project."""
    answers = {**FAST_ANSWERS, **answers}
    output_dir.mkdir(parents=True, exist_ok=True)
    created = cruft(
        "create",
        str(template),
        "--no-input",
        "--output-dir",
        str(output_dir),
        "--extra-context",
        json.dumps(answers),
        cwd=output_dir,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    return output_dir / answers.get("project_slug", "my-service")
