"""Finish the generated project: prune, check its template record, lock, validate, git init, and report.

Runs in the new project directory, in whatever Python runs cookiecutter (or copier, whose task runs it
after `copier copy` with the answers as its argument): standard library only (PyYAML, a dependency of
cookiecutter and copier, reads the record and the CI files).

Only a creation runs it: copier updates render the template without it, so an update never locks,
installs, builds, runs containers or runs git init.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

# The one manifest of conditional files: (answer, value) -> paths that value leaves out. cookiecutter
# renders them and this hook removes them (only files this generation wrote, then folders it left empty,
# so the user's files survive); copier never writes them (its _exclude is unselected_paths, through
# template_extensions.py). A new answer's files are one entry here.
UNSELECTED_PATHS = {
    ("app_type", "fastapi"): ["src/{package_name}/cli.py", "tests/template/test_cli.py"],
    ("app_type", "cli"): [
        "src/{package_name}/app.py",
        "src/{package_name}/server.py",
        "tests/template/asgi.py",
        "tests/template/test_app.py",
        "tests/template/test_database_observability.py",
    ],
    ("ci_provider", "github"): [".gitlab-ci.yml"],
    ("ci_provider", "gitlab"): [
        ".github/workflows/ci.yml",
        ".github/workflows/template-update.yml",
        ".github/dependabot.yml",
    ],
    ("ci_provider", "none"): [
        ".gitlab-ci.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/template-update.yml",
        ".github/dependabot.yml",
    ],
    ("database", "none"): [
        "src/{package_name}/database.py",
        "src/{package_name}/models.py",
        "src/{package_name}/migrations/__init__.py",
        "src/{package_name}/migrations/__main__.py",
        "src/{package_name}/migrations/env.py",
        "src/{package_name}/migrations/script.py.mako",
        "src/{package_name}/migrations/versions/2026_12_02_1200-6f3a1c2b9d0e_create_items.py",
        "scripts/docker-database-test.sh",
        "scripts/stack-test-database.py",
        "tests/template/conftest.py",
        "tests/template/test_database.py",
        "tests/template/test_database_observability.py",
    ],
    ("license", "Proprietary"): ["LICENSE"],
}
DOCKERFILE_STAGES = (
    "build-tools",
    "uv",
    "lock-check",
    "build-metadata",
    "dependencies",
    "app-files",
    "poetry",
    "test",
    "runtime",
)
DOCKER_BUILD_IMAGE_TAG = "{project_slug}:dev"
SMOKE_TEST_SCRIPT = "scripts/docker-smoke-test.sh"
IMAGE_REQUIREMENTS_SCRIPT = "scripts/image-requirements.py"
SMOKE_TEST_TIMEOUT_SECONDS = 120
# Where the pre-generation hook keeps the user's files when generating into an existing project
# (its BACKUP_FOLDER: tests/test_regeneration.py checks they agree).
BACKUP_FOLDER = Path(".cookiecutter-backup")
TAIL_LINES = 25
# Checking the lock needs no environment: without this, Poetry would create one.
NO_VENV = {"POETRY_VIRTUALENVS_CREATE": "false"}
# The record of the template and the answers, written by the template itself (template_extensions.answers_record).
ANSWERS_FILE = Path(".copier-answers.yml")
# CI keys whose values come from answers and must read as text (YAML turns unquoted 3.10, yes or 2024-01-01
# into a number, a boolean or a date).
TEXT_KEYS = ("image", "python-version", "IMAGE", "prefix", "PACKAGE_INDEX_NETRC")


class StepFailed(Exception):
    """A step failed: its last output lines and the command that reproduces it."""

    def __init__(self, message, output="", command=None):
        super().__init__(message)
        self.output = output
        self.command = command


class StepSkipped(Exception):
    """A step cannot run on this machine; the message says why."""


class Report:
    """Runs the steps one after another and keeps a row per step for the summary."""

    def __init__(self):
        self.rows = []

    def step(self, name, action, *args):
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        try:
            note = action(*args) or ""
            result = "ok"
        except StepSkipped as skipped:
            note, result = str(skipped), "skipped"
            print(f"    skipped: {note}", flush=True)
        except StepFailed:
            self.rows.append((name, "FAILED", time.monotonic() - started, ""))
            raise
        self.rows.append((name, result, time.monotonic() - started, note))

    def not_run(self, name, reason):
        self.rows.append((name, "not run", 0.0, reason))

    def print_summary(self):
        width = max(len(row[0]) for row in self.rows)
        print(f"\n{'step'.ljust(width)}  {'result':8} {'seconds':>7}  note")
        for name, result, seconds, note in self.rows:
            print(f"{name.ljust(width)}  {result:8} {seconds:7.1f}  {note}")


def tail(text, lines=TAIL_LINES):
    return "\n".join(text.strip().splitlines()[-lines:])


def tool_environment(extra):
    """The environment for Poetry and Docker, without an activated virtualenv of the caller's.

    Poetry installs into an activated virtualenv; the project's tools belong in its own .venv.
    """
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["DOCKER_BUILDKIT"] = "1"
    env.update(extra or {})
    return env


def run(command, *, timeout=None, env=None):
    """Run a command in the project; raise StepFailed with its output when it fails."""
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, env=tool_environment(env), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as expired:
        raise StepFailed(f"{command[0]} took longer than {timeout} s", str(expired.output or ""), command) from None
    if completed.returncode != 0:
        raise StepFailed(
            f"{' '.join(command[:3])} exited with {completed.returncode}",
            completed.stdout + completed.stderr,
            command,
        )
    return completed.stdout


def restore_user_files(project=Path(), owner=None, generation_failed=False):
    """Move back each entry the pre-generation hook set aside from the user's tree; return the paths that were there.

    With -f or -s, cookiecutter wrote the template's files where the user's were: each is replaced by the user's
    own again (the same file, so every byte, mode and link comes back). owner, when given, is the cookiecutter
    process that must have made the backup (an older one, left by a generation that was killed, is the user's to
    sort out). After a failed generation, the files it added are removed too, leaving the tree as it was.
    """
    backup = project / BACKUP_FOLDER
    if not backup.is_dir():
        return frozenset()
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    if owner is not None and manifest.get("owner") != owner:
        return frozenset()
    if generation_failed:
        remove_added_files(project, manifest)
    for path in manifest["files"]:
        os.replace(backup / "files" / path, project / path)
    shutil.rmtree(backup)
    return frozenset(manifest["files"] + manifest["folders"])


def unselected_paths(answers):
    """The paths (relative to the project) of the options these answers did not choose."""
    return [
        pattern.format(**answers)
        for (question, value), patterns in UNSELECTED_PATHS.items()
        if answers[question] == value
        for pattern in patterns
    ]


def remove_added_files(project, manifest):
    """Remove what a failed generation added: files first, then the folders it left empty."""
    added = sorted(manifest["added"], key=lambda path: path.count("/"), reverse=True)
    for path in added:
        entry = project / path
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
        elif entry.is_dir() and not any(entry.iterdir()):
            entry.rmdir()


def prune_unselected_files(answers, present_before=frozenset()):
    """Remove the files of the options not chosen, then the folders that left empty.

    A path in present_before was the user's before this generation: it stays.
    """
    for name in unselected_paths(answers):
        path = Path(name)
        if str(path) in present_before:
            continue
        path.unlink(missing_ok=True)
        for folder in path.parents[:-1]:
            if str(folder) not in present_before and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def read_record():
    """What .copier-answers.yml records ({} when it is missing or is not a record)."""
    import yaml

    try:
        record = yaml.safe_load(ANSWERS_FILE.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # none, or a file of the user's kept by -f
        return {}
    return record if isinstance(record, dict) else {}


def check_template_record(answers):
    """Say what .copier-answers.yml records, and what makes it weaker than it looks."""
    record = read_record()
    source, commit = record.get("_src_path"), record.get("_commit")
    if not source:
        raise StepSkipped(f"{ANSWERS_FILE} names no template: updates need one (see the template's docs/updates.md)")
    template = str(answers.get("_template", ""))
    if "@" in urlsplit(template).netloc:
        print(
            f"note: the template's URL held credentials; {ANSWERS_FILE} records it without them ({source}). "
            "Updates fetch it with git, which reads credentials from its credential helper (or CI's token).",
            file=sys.stderr,
        )
    if Path(source).is_absolute():
        print(
            f"note: {ANSWERS_FILE} records the template as the folder {source}, which only this machine has. "
            f"Once the project is shared, set _src_path in {ANSWERS_FILE} to the template's URL, and commit it.",
            file=sys.stderr,
        )
    if not commit:
        raise StepSkipped(
            f"the template at {source} is not a git repository: {ANSWERS_FILE} records no commit to update from"
        )
    warn_about_the_template_folder(answers, commit)
    return f"{ANSWERS_FILE}: {source} at {commit}"


def warn_about_the_template_folder(answers, commit):
    """Say when the files rendered are not the recorded commit's: uncommitted changes, or a --checkout
    that cookiecutter ignored (it renders a local folder as it is)."""
    folder = answers.get("_repo_dir")
    git = shutil.which("git")
    if not folder or git is None:
        return
    folder = Path(os.environ.get("PWD", "")) / folder
    checkout = answers.get("_checkout")
    if checkout and git_output(git, folder, "rev-parse", checkout + "^{commit}") != git_output(
        git, folder, "rev-parse", "HEAD"
    ):
        print(
            f"warning: cookiecutter rendered the folder {folder.resolve()} as it is, not --checkout {checkout}; "
            f"{ANSWERS_FILE} records what was rendered ({commit}). For {checkout}, run cookiecutter on the "
            f"template's URL, or: copier copy --trust --vcs-ref {checkout} {folder.resolve()} DESTINATION",
            file=sys.stderr,
        )
    if git_output(git, folder, "status", "--porcelain"):
        print(
            f"warning: the template at {folder.resolve()} has uncommitted changes, which this project was generated "
            f"with; {ANSWERS_FILE} records {commit}, which lacks them. Commit them in the template, then generate "
            "again.",
            file=sys.stderr,
        )


def git_output(git, folder, *arguments):
    """A git command's output in folder, or None when it fails."""
    completed = subprocess.run([git, "-C", str(folder), *arguments], capture_output=True, text=True, check=False)
    return completed.stdout.strip() if completed.returncode == 0 else None


@functools.cache
def find_poetry():
    """Return the path of a Poetry 2 on PATH, or raise StepFailed naming the way out (asked once a run)."""
    poetry = shutil.which("poetry")
    if poetry is None:
        raise StepFailed(
            "Poetry was not found on PATH. Install Poetry 2 (https://python-poetry.org/docs/#installation), "
            "or answer lock_dependencies=no and validate_build=none, then run 'poetry lock' later."
        )
    version = run([poetry, "--version"])
    match = re.search(r"(\d+)\.\d+", version)
    if not match or match[1] != "2":
        raise StepFailed(
            f"{version.strip()} is on PATH; this project needs Poetry 2. Upgrade with 'poetry self update'."
        )
    return poetry


def lock_dependencies(answers):
    """Resolve the dependencies into poetry.lock with the project's package index.

    Poetry 2 locks only under a Python that requires-python allows: it finds one on PATH and makes
    the project's .venv with it, the environment 'poetry install' then uses. A poetry.lock already
    here was the user's (the template writes none): it stays as it is.
    """
    if Path("poetry.lock").exists():
        raise StepSkipped("poetry.lock was here before: kept as it is (run 'poetry run poe lock' to update it)")
    poetry = find_poetry()
    try:
        run([poetry, "lock"])
    except StepFailed as failure:
        version = answers["python_version"]
        if "unable to find a compatible version" in failure.output:
            failure.args = (
                f"poetry lock needs a Python {version} on PATH and found none. Install Python {version} "
                f"(for example 'pyenv install {version}' or your package manager), or answer python_version with "
                "a version you have, or generate with lock_dependencies=no and lock later.",
            )
        else:
            failure.args = (
                f"poetry lock failed against {answers['package_index_url'] or 'PyPI'}. Check that the index is "
                "reachable (or fix package_index_url), or generate with lock_dependencies=no and lock later.",
            )
        raise
    write_image_requirements(poetry, answers["package_index_url"] or "PyPI")
    return f"poetry.lock and image-requirements.txt written ({answers['package_index_url'] or 'PyPI'})"


def write_image_requirements(poetry, index):
    """image-requirements.txt from the new lock, as `poe lock` writes it.

    Its `poetry export` is the plugin pyproject.toml requires, which Poetry fetches into the project's
    .poetry/ on install: a dry run of the project alone installs only that.
    """
    try:
        run([poetry, "install", "--dry-run", "--only-root"])
    except StepFailed as failure:
        failure.args = (
            f"Poetry could not add poetry-plugin-export, which pyproject.toml's [tool.poetry.requires-plugins] "
            f"names, from {index}: Poetry resolves it together with the packages of its own environment, which "
            "the index must serve too. Fix the index, or generate with lock_dependencies=no, then run "
            "'poetry install' and 'poetry run poe lock'.",
        )
        raise
    run([sys.executable, IMAGE_REQUIREMENTS_SCRIPT])


def require_lock():
    if not Path("poetry.lock").exists():
        raise StepSkipped("no poetry.lock (lock_dependencies=no): run 'poetry lock'")


def check_lock(_answers):
    require_lock()
    run([find_poetry(), "check", "--lock"], env=NO_VENV)
    return "pyproject.toml and poetry.lock agree"


def dockerfile_base_image():
    """The Dockerfile's default base image (docker_base_image, or the default for python_version), or None."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", Path("Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    return found[1] if found else None


def check_dockerfile(answers):
    """The Dockerfile has the expected stages, the pinned Poetry and the chosen base image."""
    text = Path("Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    problems = []
    if tuple(stages) != DOCKERFILE_STAGES:
        problems.append(f"stages are {stages}, expected {list(DOCKERFILE_STAGES)}")
    if not re.search(r"^ARG POETRY_VERSION=\d+\.\d+\.\d+$", text, re.MULTILINE):
        problems.append("ARG POETRY_VERSION is not pinned to an exact x.y.z version")
    image = dockerfile_base_image()
    if image is None:
        problems.append("no ARG PYTHON_IMAGE=<image> line")
    elif answers["docker_base_image"] and image != answers["docker_base_image"]:
        problems.append(f"ARG PYTHON_IMAGE does not default to {answers['docker_base_image']}")
    elif not answers["docker_base_image"] and f"python:{answers['python_version']}-" not in image:
        problems.append(f"ARG PYTHON_IMAGE ({image}) is not a Python {answers['python_version']} image")
    if problems:
        raise StepFailed("Dockerfile: " + "; ".join(problems))
    return "stages " + ", ".join(stages) + "; Poetry pinned"


def check_ci_files(answers):
    files = sorted(Path(".github").rglob("*.yml")) + sorted(Path(".").glob(".gitlab-ci.yml"))
    if not files:
        return "no CI files (ci_provider=none)"
    import yaml

    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise StepFailed(f"{path} is not valid YAML", str(error)) from None
        mistyped = [
            f"{key}: {value!r}"
            for key, value in keyed_values(document)
            if key in TEXT_KEYS and not isinstance(value, str | dict | list)
        ]
        if mistyped:
            raise StepFailed(f"{path} reads as other than text: {', '.join(mistyped)} (an answer reached it unquoted)")
    return ", ".join(str(path) for path in files) + " parse, every image and Python version as text"


def keyed_values(node):
    """Every (key, value) pair of a parsed YAML document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from keyed_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from keyed_values(item)


def install_project(answers):
    """Install the project and its dev group into .venv, under a Python that Poetry finds for it."""
    require_lock()
    try:
        run([find_poetry(), "install"])
    except StepFailed as failure:
        if "unable to find a compatible version" in failure.output:
            raise StepSkipped(f"no Python {answers['python_version']} on PATH to create .venv with") from None
        raise
    return ".venv created with the dev group"


def run_project_checks(_answers):
    if not Path(".venv/bin/poe").exists():
        raise StepSkipped("the project's dev tools are not installed")
    run([find_poetry(), "run", "poe", "check"])
    return "poe check: lint, typecheck, tests"


@functools.cache
def docker_engine_answers():
    """The docker CLI if its engine answers `docker info`, else None (asked once a run)."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        run([docker, "info"], timeout=20)
    except StepFailed:
        return None
    return docker


def require_docker():
    docker = docker_engine_answers()
    if docker is None:
        raise StepSkipped(
            "no Docker engine answers (docker info failed): start Docker, or point DOCKER_HOST at a running engine"
        )
    return docker


def base_image_present(docker, image):
    try:
        run([docker, "image", "inspect", image])
        return True
    except StepFailed:
        return False


def ensure_base_image(answers):
    """The engine has docker_base_image, or can pull it; a machine that can do neither skips the image."""
    require_lock()
    docker, image = require_docker(), dockerfile_base_image()
    if base_image_present(docker, image):
        return f"{image} is present"
    try:
        run([docker, "pull", image])
    except StepFailed:
        raise StepSkipped(
            f"the base image {image} is not on this Docker engine and cannot be pulled. Pull or load it, "
            "or generate with docker_base_image set to an image your engine has or can pull (a registry mirror)"
        ) from None
    return f"{image} pulled"


def require_base_image(answers):
    docker, image = require_docker(), dockerfile_base_image()
    if not base_image_present(docker, image):
        raise StepSkipped(f"no base image {image} (see 'base image')")
    return docker


def build_image(answers):
    require_lock()
    docker = require_base_image(answers)
    tag = DOCKER_BUILD_IMAGE_TAG.format(**answers)
    run([docker, "build", "--tag", tag, "."])
    return f"image {tag}"


def smoke_run_image(answers):
    """The project's own smoke test, as `poe docker-smoke` and CI run it."""
    require_lock()
    require_base_image(answers)
    image = DOCKER_BUILD_IMAGE_TAG.format(**answers)
    output = run(["sh", SMOKE_TEST_SCRIPT, image], timeout=SMOKE_TEST_TIMEOUT_SECONDS)
    return output.strip().splitlines()[-1].removeprefix("ok: ")


STATIC_STEPS = (("poetry check --lock", check_lock), ("Dockerfile", check_dockerfile), ("CI files", check_ci_files))
INSTALL_STEPS = (("poetry install", install_project), ("poe check", run_project_checks))
IMAGE_STEPS = (("base image", ensure_base_image), ("docker build", build_image), ("docker run", smoke_run_image))


def validate_build(answers, report):
    """Run the validation steps of the chosen level; 'full' turns every skip into a failure."""
    level = answers["validate_build"]
    if level == "none":
        report.not_run("validation", "validate_build=none")
        return
    steps = STATIC_STEPS if level == "static" else STATIC_STEPS + INSTALL_STEPS + IMAGE_STEPS
    for name, action in steps:
        if level == "full":
            report.step(name, require_step, name, action, answers)
        else:
            report.step(name, action, answers)
    if level == "static":
        report.not_run("install, poe check, image", "validate_build=static")


def require_step(name, action, answers):
    try:
        return action(answers)
    except StepSkipped as skipped:
        raise StepFailed(
            f"validate_build=full needs the '{name}' step, which cannot run here: {skipped}. "
            "Fix that, or choose validate_build=auto (runs what this machine can) or static."
        ) from None


def init_git_repository(answers):
    if answers["init_git"] != "yes":
        raise StepSkipped("init_git=no")
    if Path(".git").exists():
        raise StepSkipped("already a git repository")
    git = shutil.which("git")
    if git is None:
        raise StepSkipped("git is not on PATH")
    run([git, "init", "--quiet", "--initial-branch=main"])
    return "git init (branch main); nothing committed"


def print_failure(failure):
    print(f"\nerror: {failure}", file=sys.stderr)
    if failure.output:
        print(f"--- last lines of its output ---\n{tail(failure.output)}\n---", file=sys.stderr)
    if failure.command:
        print(
            "to reproduce: generate again with --keep-project-on-failure, then in the project run:\n  "
            + " ".join(failure.command),
            file=sys.stderr,
        )


def run_generation_steps(answers):
    """Check the template record, lock, validate and git init a new project; print the summary table."""
    report = Report()
    try:
        report.step("template record", check_template_record, answers)
        if answers["lock_dependencies"] == "yes":
            report.step("poetry lock", lock_dependencies, answers)
        else:
            report.not_run("poetry lock", "lock_dependencies=no: run 'poetry lock' before building")
        validate_build(answers, report)
        report.step("git init", init_git_repository, answers)
    except StepFailed as failure:
        report.print_summary()
        print_failure(failure)
        return 1
    report.print_summary()
    print(f"\n{answers['project_name']} is ready in {Path.cwd()}")
    return 0


def main(answers):
    """Put back the user's files, prune, then the generation steps."""
    present_before = restore_user_files()
    prune_unselected_files(answers, present_before)
    return run_generation_steps(answers)


def forget_rendered_copy(script):
    """Delete cookiecutter's rendered copy of this hook (it holds every answer), never the template's own file."""
    if Path(script).resolve().parent == Path(tempfile.gettempdir()).resolve():
        Path(script).unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy(__file__)
    # Cookiecutter renders its answers here as a JSON string literal; copier's task (copier.yml), which runs
    # this file as it is in the template, gives them as the argument instead.
    sys.exit(main(json.loads(sys.argv[1] if len(sys.argv) > 1 else {{cookiecutter | jsonify | tojson}})))  # noqa: F821
