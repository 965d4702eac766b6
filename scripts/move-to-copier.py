"""Move a project made by an earlier release of this template (with .cruft.json, or none) to copier.

Run it in the project's root folder, a git repository with everything committed, from a clone of the
template (docs/updates.md, "Move an existing project to copier"):

    python3 ../poetry-service-template/scripts/move-to-copier.py [--from REF] [--to REF] [--data KEY=VALUE]...

copier cannot render a release without copier.yml, so this does the three-way merge copier would do:
the base is the release the project came from (`commit` in .cruft.json, or --from), rendered by cookiecutter
with the recorded answers (those of a project without a record are read from its files, and --data corrects
them) and nothing heavy (no lock, no validation, no git init); the other side is the target release (the
latest vX.Y.Z tag, or --to), rendered by copier after the release notes' migrations ran on the answers. Each
file takes the template's change and keeps yours: where both changed the same lines it holds conflict
markers; a file you edited that the template dropped stays; a file you deleted that the template changed
stays deleted; each is marked unmerged in git's index and named. .cruft.json gives way to
.copier-answers.yml. Then `poetry run poe finish-template-update` (relock, poetry check --lock, install)
runs, as after any update.

It needs copier, copier-template-extensions and cookiecutter: without them, it installs the pinned versions
into a virtual environment of its own under ~/.cache/poetry-service-template/ and runs there.
"""

import argparse
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
TOOLS = ("copier==9.19.1", "copier-template-extensions==0.3.4", "cookiecutter==2.7.1")
ANSWERS_FILE = ".copier-answers.yml"
CRUFT_FILE = ".cruft.json"
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
# A render for the base runs the old release's hooks: these answers keep them from locking, validating and
# running git init (releases from 0.2.0 on also read SERVICE_TEMPLATE_RENDER=update and only render files).
QUIET_ANSWERS = {"lock_dependencies": "no", "validate_build": "none", "init_git": "no"}
NO_BLOB = "0" * 40


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def without_credentials(url):
    return re.sub(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@", r"\1", str(url))


def run_with_tools():
    """Re-run this script with the pinned tools, installed once into a cached virtual environment."""
    try:
        import cookiecutter  # noqa: F401
        import copier  # noqa: F401
        import copier_template_extensions  # noqa: F401
    except ImportError:
        pass
    else:
        return
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "poetry-service-template"
    venv = cache / ("move-to-copier-" + hashlib.sha256(" ".join(TOOLS).encode()).hexdigest()[:12])
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"==> installing {', '.join(TOOLS)} into {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *TOOLS], check=True)
    os.execv(python, [str(python), __file__, *sys.argv[1:]])


def git(*arguments, cwd=".", check=True, binary=False, stdin=None):
    completed = subprocess.run(
        ["git", *arguments], cwd=cwd, capture_output=True, text=not binary, input=stdin, check=False
    )
    if check and completed.returncode != 0:
        fail(f"git {' '.join(arguments[:2])} failed: {without_credentials(completed.stderr).strip()}")
    return completed.stdout


def version_of(description):
    """(x, y, z) of a `git describe` that starts with a release tag, else (-1,)."""
    found = re.match(r"^v(\d+)\.(\d+)\.(\d+)", description or "")
    return tuple(map(int, found.groups())) if found else (-1,)


def latest_release():
    tags = [tag for tag in git("tag", "--list", "v*", cwd=TEMPLATE).split() if RELEASE_TAG.match(tag)]
    return max(tags, key=version_of) if tags else "HEAD"


# -- the answers ----------------------------------------------------------------------------------------------


def recorded_answers():
    """(answers, template source, commit) from .cruft.json, or (None, None, None)."""
    path = Path(CRUFT_FILE)
    if not path.is_file():
        return None, None, None
    state = json.loads(path.read_text(encoding="utf-8"))
    answers = {key: value for key, value in state["context"]["cookiecutter"].items() if not key.startswith("_")}
    return answers, state.get("template"), state.get("commit")


def inferred_answers():
    """The answers a project without a record was generated with, read from its files."""
    pyproject = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    project, poetry = pyproject["project"], pyproject.get("tool", {}).get("poetry", {})
    package = poetry["packages"][0]["include"]
    title = Path("README.md").read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
    dockerfile = Path("Dockerfile").read_text(encoding="utf-8")
    python_version = re.match(r">=\s*(\d+\.\d+)", project["requires-python"])[1]
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)[1]
    poetry_pin = re.search(r"^ARG POETRY_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    licence = {"LicenseRef-Proprietary": "Proprietary"}.get(project.get("license"), project.get("license", "MIT"))
    ci = "github" if Path(".github/workflows/ci.yml").exists() else "none"
    readme = Path("README.md").read_text(encoding="utf-8")
    return {
        "project_name": html.unescape(re.sub(r"\\(.)", r"\1", title)),
        "project_slug": project["name"],
        "package_name": package,
        "description": project.get("description", ""),
        "author_name": project["authors"][0]["name"],
        "author_email": project["authors"][0]["email"],
        "version": project["version"],
        "python_version": python_version,
        "poetry_version": poetry_pin[1] if poetry_pin else "2.5.1",
        "app_type": "fastapi" if Path("src", package, "app.py").exists() else "cli",
        "ci_provider": "gitlab" if Path(".gitlab-ci.yml").exists() else ci,
        "license": licence,
        "repository_url": project.get("urls", {}).get("Repository", ""),
        "package_index_url": next((source["url"] for source in poetry.get("source", [])), ""),
        "docker_base_image": "" if image == f"python:{python_version}-slim-trixie" else image,
        "lock_dependencies": "no" if "generated without one" in readme else "yes",
        "validate_build": "auto",
        "init_git": "yes",
    }


def parse_data(items):
    data = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator:
            fail(f"--data {item!r}: give it as KEY=VALUE")
        data[key] = value
    return data


def migrated(answers, source, commit, target):
    """The answers after the target release's migrations (migrations/vX.Y.Z.py) newer than commit."""
    start = version_of(git("describe", "--tags", "--always", commit, cwd=TEMPLATE).strip())
    listed = git("ls-tree", "--name-only", target, "migrations/", cwd=TEMPLATE).split()
    names = sorted((version_of(Path(name).stem), name) for name in listed if RELEASE_TAG.match(Path(name).stem))
    with tempfile.TemporaryDirectory(prefix="move-to-copier-answers-") as folder:
        record = Path(folder, ANSWERS_FILE)
        import yaml

        record.write_text(yaml.safe_dump({"_commit": commit, "_src_path": source, **answers}, sort_keys=False))
        for version, name in names:
            if start < version <= version_of(target if target != "HEAD" else "v999.0.0"):
                script = Path(folder, Path(name).name)
                script.write_bytes(git("show", f"{target}:{name}", cwd=TEMPLATE, binary=True))
                subprocess.run([sys.executable, str(script)], cwd=folder, check=True)
        result = yaml.safe_load(record.read_text(encoding="utf-8"))
    return {key: value for key, value in result.items() if not key.startswith("_")}


# -- the renders ----------------------------------------------------------------------------------------------


def for_cookiecutter(value):
    """An answer as cookiecutter's no-input answers must be given: a template that renders to the value."""
    if isinstance(value, str) and re.search(r"[{}%#]", value):
        return "{{ " + json.dumps(value, ensure_ascii=False) + " }}"
    return value


def render_base(commit, answers, folder):
    """The release the project came from, rendered by cookiecutter with nothing heavy: path -> bytes."""
    from cookiecutter.main import cookiecutter

    source = folder / "template"
    source.mkdir(parents=True)
    archive = git("archive", "--format=tar", commit, cwd=TEMPLATE, binary=True)
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    questions = json.loads((source / "cookiecutter.json").read_text(encoding="utf-8"))
    quiet_hooks = "SERVICE_TEMPLATE_RENDER" in (source / "hooks" / "post_gen_project.py").read_text("utf-8")
    # Before 0.2.0 docker_base_image was the image itself: an empty answer stands for the default.
    image = answers.get("docker_base_image") or f"python:{answers['python_version']}-slim-trixie"
    given = {**answers, "docker_base_image": image, **({} if quiet_hooks else QUIET_ANSWERS)}
    choices = {key for key, value in questions.items() if isinstance(value, list)}
    context = {
        key: value if key in choices else for_cookiecutter(value) for key, value in given.items() if key in questions
    }
    config = folder / "cookiecutter.yaml"
    config.write_text(json.dumps({"cookiecutters_dir": str(folder / "c"), "replay_dir": str(folder / "r")}))
    os.environ["SERVICE_TEMPLATE_RENDER"] = "update"
    # cookiecutter writes each rendered hook to a temporary file, which an old release's hooks leave behind:
    # here, in this folder, which goes when the move ends.
    system_temporary, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        project = cookiecutter(
            str(source), no_input=True, extra_context=context, output_dir=str(folder / "out"), config_file=str(config)
        )
    except Exception as error:  # the hook printed what it refused; cookiecutter's own errors say what failed
        fail(f"cookiecutter could not render {commit} with these answers ({error}): correct them with --data")
    finally:
        tempfile.tempdir = system_temporary
    return files_of(Path(project))


def render_target(target, answers, folder):
    """The target release, rendered by copier with the migrated answers: path -> bytes."""
    import copier

    try:
        copier.run_copy(
            str(TEMPLATE), folder, data=answers, vcs_ref=target, defaults=True, unsafe=True, quiet=True, skip_tasks=True
        )
    except Exception as error:  # copier's UserMessageError holds the answer check's messages
        fail(f"copier could not render {target} with these answers:\n{without_credentials(error)}")
    return files_of(folder)


def files_of(folder):
    files = (path for path in folder.rglob("*") if path.is_file() and ".git" not in path.relative_to(folder).parts)
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in files}


# -- the merge ------------------------------------------------------------------------------------------------


def stored(content, executable=False):
    blob = git("hash-object", "-w", "--stdin", stdin=content, binary=True).decode().strip()
    return "100755" if executable else "100644", blob


def mark_unmerged(name, base=None, ours=None, theirs=None):
    entries = [f"0 {NO_BLOB}\t{name}"]
    for stage, content in ((1, base), (2, ours), (3, theirs)):
        if content is not None:
            mode, blob = stored(content, os.access(name, os.X_OK))
            entries.append(f"{mode} {blob} {stage}\t{name}")
    git("update-index", "--index-info", stdin="\n".join(entries) + "\n")


def merge_text(base, ours, theirs, release):
    """git merge-file of the three contents: (merged bytes, clean)."""
    with tempfile.TemporaryDirectory(prefix="move-to-copier-merge-") as folder:
        paths = [Path(folder, name) for name in ("ours", "base", "theirs")]
        for path, content in zip(paths, (ours, base or b"", theirs), strict=True):
            path.write_bytes(content)
        labels = ["-L", "yours", "-L", "the release you had", "-L", f"template {release}"]
        merged = subprocess.run(
            ["git", "merge-file", "-p", *labels, *map(str, paths)], capture_output=True, check=False
        )
    return merged.stdout, merged.returncode == 0


def merge(base, theirs, release):
    """Merge each file into the working tree; return the notes on what needs a person."""
    tracked = set(filter(None, git("ls-files", "-z").split("\0")))
    notes = []
    for name in sorted(set(base) | set(theirs) | tracked):
        path = Path(name)
        b, t = base.get(name), theirs.get(name)
        o = path.read_bytes() if name in tracked and path.is_file() else None
        if name == ANSWERS_FILE:
            path.write_bytes(t)
            continue
        if o is None and path.is_file() and t is not None and path.read_bytes() != t:  # yours, ignored by git
            mark_unmerged(name, theirs=t)
            notes.append(f"{name}: the template has a file where yours (ignored by git) is; yours is kept")
            continue
        if o == t or t == b:
            continue  # nothing to take, or the template did not change it: yours stays
        if o == b:  # you never changed it: the template's version (or its deletion)
            if t is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(t)
            continue
        if o is None and b is not None:
            mark_unmerged(name, base=b, theirs=t)
            notes.append(f"{name}: you had deleted it, the template changed it; it stays deleted")
        elif t is None:
            mark_unmerged(name, base=b, ours=o)
            notes.append(f"{name}: the template dropped it, you had edited it; yours is kept")
        else:
            merged, clean = merge_text(b, o, t, release)
            path.write_bytes(merged)
            if not clean:
                mark_unmerged(name, base=b, ours=o, theirs=t)
                notes.append(f"{name}: both changed the same lines: conflict markers")
    return notes


def main():
    parser = argparse.ArgumentParser(description="Move this project to copier (run it in the project's folder).")
    parser.add_argument("--from", dest="start", help="the release or commit the project was made from (no .cruft.json)")
    parser.add_argument("--to", dest="target", help="the release to move to (default: the latest vX.Y.Z tag)")
    parser.add_argument("--data", action="append", default=[], help="KEY=VALUE: an answer as it was given")
    parser.add_argument("--template-url", help="where updates fetch the template (default: the record, or origin)")
    arguments = parser.parse_args()
    if not Path(".git").exists() or git("status", "--porcelain"):
        fail("run it in the project's root folder, a git repository with everything committed")
    if Path(ANSWERS_FILE).exists():
        fail(f"{ANSWERS_FILE} is here: the project is on copier already (poetry run poe update-template)")
    answers, source, commit = recorded_answers()
    if answers is None:
        if not arguments.start:
            fail(f"no {CRUFT_FILE}: name the release the project was made from, e.g. --from v0.1.0")
        answers = inferred_answers()
        print("answers read from the project's files (correct any with --data KEY=VALUE):")
        for key, value in answers.items():
            print(f"    {key}: {value!r}")
    commit = arguments.start or commit
    answers.update(parse_data(arguments.data))
    origin = git("remote", "get-url", "origin", cwd=TEMPLATE, check=False).strip()
    remote = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://(?!/)|^[\w.-]+@[\w.-]+:", origin)
    source = arguments.template_url or source or (origin if remote else str(TEMPLATE))
    if without_credentials(source) != source:
        print(f"note: the template's URL held credentials; {ANSWERS_FILE} records it without them")
    source = without_credentials(source)
    target = arguments.target or latest_release()
    print(f"moving to copier: {commit} -> {target} ({source})", flush=True)
    with tempfile.TemporaryDirectory(prefix="move-to-copier-") as folder:
        base = render_base(commit, answers, Path(folder, "base"))
        theirs = render_target(target, migrated(answers, source, commit, target), Path(folder, "target"))
    import yaml

    recorded_source = yaml.safe_dump({"_src_path": source}, width=1 << 30).strip()
    text = re.sub(r"^_src_path: .*$", lambda _: recorded_source, theirs[ANSWERS_FILE].decode(), flags=re.MULTILINE)
    theirs[ANSWERS_FILE] = text.encode()
    notes = merge(base, theirs, target)
    if Path(CRUFT_FILE).exists():
        Path(CRUFT_FILE).unlink()
        notes.insert(0, f"{CRUFT_FILE}: removed ({ANSWERS_FILE} records the template and the answers now)")
    for note in notes:
        print(f"    {note}")
    finished = subprocess.run([sys.executable, "scripts/template-update.py", "finish"], check=False)
    return finished.returncode


if __name__ == "__main__":
    run_with_tools()
    sys.exit(main())
