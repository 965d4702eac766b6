"""Finish the generated project: prune, link to the template, lock, validate, git init, and report.

Runs in the new project directory, in whatever Python runs cookiecutter: standard library only
(PyYAML, a dependency of cookiecutter itself, parses the CI files).

A creation runs every step; a re-render (cruft diff and cruft update render the template into temporary
folders) only prunes, so an update never locks, installs, builds, runs containers or runs git init.
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

# The one manifest of conditional files: (answer, value) -> paths that value leaves out.
# Only files this generation wrote are removed, then folders it left empty, so the user's files survive.
UNSELECTED_PATHS = {
    ("app_type", "fastapi"): ["src/{package_name}/cli.py", "tests/test_cli.py"],
    ("app_type", "cli"): ["src/{package_name}/app.py", "src/{package_name}/server.py", "tests/test_app.py"],
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
    ("license", "Proprietary"): ["LICENSE"],
}
DOCKERFILE_STAGES = ("build-tools", "poetry", "dependencies", "app-files", "test", "runtime")
DOCKER_BUILD_IMAGE_TAG = "{project_slug}:dev"
SMOKE_TEST_SCRIPT = "scripts/docker-smoke-test.sh"
SMOKE_TEST_TIMEOUT_SECONDS = 120
# Where the pre-generation hook keeps the user's files when generating into an existing project
# (its BACKUP_FOLDER: tests/test_regeneration.py checks they agree).
BACKUP_FOLDER = Path(".cookiecutter-backup")
TAIL_LINES = 25
# Checking the lock needs no environment: without this, Poetry would create one.
NO_VENV = {"POETRY_VIRTUALENVS_CREATE": "false"}
# The explicit signal: "create" or "update". Unset, only cookiecutter's own command creates: it adds
# these keys to the context, which cruft (create, diff, update: it calls generate_files) never does.
RENDER_MODE_VARIABLE = "SERVICE_TEMPLATE_RENDER"
RENDER_MODES = ("create", "update")
COOKIECUTTER_RUN_KEYS = ("_output_dir", "_repo_dir", "_checkout")
CRUFT_FILE = Path(".cruft.json")
# CI keys whose values come from answers and must read as text (YAML turns unquoted 3.10, yes or 2024-01-01
# into a number, a boolean or a date).
TEXT_KEYS = ("image", "python-version", "IMAGE", "prefix", "PACKAGE_INDEX_NETRC")
RERENDER_NOTE = (
    f"post-gen hook: rendering for cruft (diff, update or create; {RENDER_MODE_VARIABLE}=create runs the "
    "generation steps): files only, no lock, validation or git init."
)


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
    for (question, value), paths in UNSELECTED_PATHS.items():
        if answers[question] != value:
            continue
        for pattern in paths:
            path = Path(pattern.format(**answers))
            if str(path) in present_before:
                continue
            path.unlink(missing_ok=True)
            for folder in path.parents[:-1]:
                if str(folder) not in present_before and folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()


def render_mode(answers, environ=os.environ):
    """'create' or 'update': SERVICE_TEMPLATE_RENDER when set, else 'create' only under cookiecutter's command."""
    requested = environ.get(RENDER_MODE_VARIABLE, "")
    if requested and requested not in RENDER_MODES:
        raise StepFailed(
            f"{RENDER_MODE_VARIABLE}={requested!r} is neither 'create' nor 'update': set it to 'create' to run the "
            "generation steps, to 'update' to only render the files, or unset it."
        )
    if requested:
        return requested
    return "create" if "_output_dir" in answers else "update"


def git_output(git, folder, *arguments):
    """A git command's output in folder, or None when it fails."""
    completed = subprocess.run([git, "-C", str(folder), *arguments], capture_output=True, text=True, check=False)
    return completed.stdout.strip() if completed.returncode == 0 else None


def find_template_folder(answers):
    """The folder cookiecutter rendered from (relative paths are relative to the shell's working folder)."""
    folder = Path(answers["_repo_dir"])
    if not folder.is_absolute():
        folder = Path(os.environ.get("PWD", "")) / folder
    if not (folder / "cookiecutter.json").is_file():
        raise StepSkipped(
            f"cannot find the template folder {answers['_repo_dir']!r} from here: link the project with "
            "'cruft link TEMPLATE_URL --checkout COMMIT' (see the template's README)"
        )
    return folder.resolve()


def template_source(answers, root, git):
    """What cruft clones: the local clone's path, or the URL cookiecutter cloned the template from."""
    if answers["_repo_dir"].startswith(answers["_template"]):
        return str(root)
    url = git_output(git, root, "remote", "get-url", "origin")
    if not url:
        raise StepSkipped(f"the clone of {answers['_template']} at {root} has no origin URL to record")
    return url


def recorded_answers(answers, questions, source, commit):
    """The answers as cruft create records them: in the order of the questions, without this machine's
    paths, with the template and commit (the rendered answers arrive sorted)."""
    keys = [key for key in questions if key in answers] + sorted(set(answers) - set(questions))
    recorded = {key: answers[key] for key in keys if key not in COOKIECUTTER_RUN_KEYS}
    recorded["_template"] = source
    recorded["_commit"] = commit
    return recorded


def link_to_template(answers):
    """Write .cruft.json as cruft create does (template, exact commit, answers), so cruft can update."""
    if "_repo_dir" not in answers:
        raise StepSkipped("cruft writes .cruft.json itself")
    if CRUFT_FILE.exists():
        raise StepSkipped(f"{CRUFT_FILE} is already there: left as it is")
    git = shutil.which("git")
    if git is None:
        raise StepSkipped("git is not on PATH: link later with 'cruft link TEMPLATE_URL --checkout COMMIT'")
    folder = find_template_folder(answers)
    root = git_output(git, folder, "rev-parse", "--show-toplevel")
    # Tracked, not merely inside some repository (an unpacked zip under a home folder kept in git).
    if root is None or git_output(git, folder, "ls-files", "--error-unmatch", "cookiecutter.json") is None:
        raise StepSkipped(f"the template at {folder} is not a git repository, which cruft needs to update from")
    root = Path(root)
    commit = git_output(git, root, "rev-parse", "HEAD")
    source = template_source(answers, root, git)
    directory = folder.relative_to(root).as_posix() if folder != root else None
    questions = json.loads((folder / "cookiecutter.json").read_text(encoding="utf-8"))
    state = {
        "template": source,
        "commit": commit,
        "checkout": answers["_checkout"],
        "context": {"cookiecutter": recorded_answers(answers, questions, source, commit)},
        "directory": directory,
    }
    CRUFT_FILE.write_text(json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n", "utf-8")
    warn_about_the_link(git, root, source, commit)
    return f"{CRUFT_FILE}: {source} at {commit[:12]}"


def warn_about_the_link(git, root, source, commit):
    """Say what makes the recorded link weaker than it looks, and how to fix it."""
    if git_output(git, root, "status", "--porcelain"):
        print(
            f"warning: the template at {root} has uncommitted changes, which this project was generated with; "
            f"{CRUFT_FILE} records commit {commit[:12]}, so 'cruft diff' will show them. Commit them in the "
            f"template, then generate again.",
            file=sys.stderr,
        )
    if source == str(root):
        origin = git_output(git, root, "remote", "get-url", "origin")
        shared = f" (this clone's origin is {origin})" if origin else ""
        print(
            f"note: {CRUFT_FILE} records the template as the folder {source}, which only this machine has. "
            f'Once the project is shared, set "template" in {CRUFT_FILE} to the template\'s URL{shared}, '
            "and commit it.",
            file=sys.stderr,
        )


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
    return f"poetry.lock written ({answers['package_index_url'] or 'PyPI'})"


def require_lock():
    if not Path("poetry.lock").exists():
        raise StepSkipped("no poetry.lock (lock_dependencies=no): run 'poetry lock'")


def check_lock(_answers):
    require_lock()
    run([find_poetry(), "check", "--lock"], env=NO_VENV)
    return "pyproject.toml and poetry.lock agree"


def check_dockerfile(answers):
    """The Dockerfile has the expected stages, the pinned Poetry and the chosen base image."""
    text = Path("Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    problems = []
    if tuple(stages) != DOCKERFILE_STAGES:
        problems.append(f"stages are {stages}, expected {list(DOCKERFILE_STAGES)}")
    if not re.search(r"^ARG POETRY_VERSION=\d+\.\d+\.\d+$", text, re.MULTILINE):
        problems.append("ARG POETRY_VERSION is not pinned to an exact x.y.z version")
    if f"ARG PYTHON_IMAGE={answers['docker_base_image']}\n" not in text:
        problems.append(f"ARG PYTHON_IMAGE does not default to {answers['docker_base_image']}")
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
    docker, image = require_docker(), answers["docker_base_image"]
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
    docker, image = require_docker(), answers["docker_base_image"]
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
    """Link, lock, validate and git init a new project; print the summary table."""
    report = Report()
    try:
        report.step("cruft link", link_to_template, answers)
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
    """Put back the user's files, prune; then, only when a project is created, the generation steps."""
    present_before = restore_user_files()
    try:
        mode = render_mode(answers)
    except StepFailed as failure:
        print_failure(failure)
        return 1
    prune_unselected_files(answers, present_before)
    if mode == "update":
        print(RERENDER_NOTE, file=sys.stderr)
        return 0
    return run_generation_steps(answers)


def forget_rendered_copy(script):
    """Delete cookiecutter's rendered copy of this hook (it holds every answer), never the template's own file."""
    if Path(script).resolve().parent == Path(tempfile.gettempdir()).resolve():
        Path(script).unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy(__file__)
    # Cookiecutter renders its answers here as a JSON string literal.
    sys.exit(main(json.loads({{cookiecutter | jsonify | tojson}})))  # noqa: F821
