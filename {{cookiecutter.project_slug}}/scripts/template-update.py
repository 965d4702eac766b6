"""Keep this project up to date with its template: copier merges, this names what needs a person.

    python scripts/template-update.py update [COPIER ARGUMENTS]   (poetry run poe update-template)
    python scripts/template-update.py finish                      (poe finish-template-update)
    python scripts/template-update.py check                       (poetry run poe template-check)

`update` installs the optional Poetry group `template` (copier) if needed, then runs `copier update`
to the template's latest release (or --vcs-ref REF; --data KEY=VALUE changes an answer) with inline
conflicts, from a clean git working tree. copier applies some changes without a word: it deletes a
file the template dropped even when you had edited it, keeps a file you deleted even when the
template changed it, and writes a template file over one of yours that git ignores. So `update`
renders the release you had and the new one, puts each such file of yours back byte for byte, and
marks it unmerged in git's index, as git marks a conflict. Then it runs `finish`.

`finish` names every file that needs a person, and exits 1: an unmerged file (`git status` says
what each side did), a conflict marker of any kind (<<<<<<<, |||||||, =======, >>>>>>>) that the
update brought into a file, a .rej file. When none is left it relocks (poetry lock), runs
poetry check --lock, installs, and writes image-requirements.txt from the new lock.

`check` says in one line whether the project is at the template's latest release (exit 0), behind
it (exit 1) or cannot reach it (exit 2).
"""

import contextlib
import difflib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ANSWERS_FILE = Path(".copier-answers.yml")
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
RECORDED_RELEASE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-\d+-g[0-9a-f]+)?$")
MARKERS = (b"<<<<<<<", b"|||||||", b"=======", b">>>>>>>")
CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
UP_TO_DATE, BEHIND, UNREACHABLE, NOT_LINKED = 0, 1, 2, 3
NO_BLOB = "0" * 40
FINISH = "poetry run poe finish-template-update"
COMMIT = 'git add --all && git commit -m "Update from the template"'


def fail(message, code=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def redact(text):
    """The text without the user:password@ (or token@) part of any URL in it."""
    return CREDENTIALS.sub(r"\1", str(text))


def git(*arguments, check=True, binary=False, stdin=None):
    completed = subprocess.run(  # noqa: S603 (git from PATH, fixed arguments)
        ["git", *arguments],  # noqa: S607
        capture_output=True,
        text=not binary,
        input=stdin,
        check=False,
    )
    if check and completed.returncode != 0:
        fail(f"git {' '.join(arguments[:2])} failed: {redact(completed.stderr).strip()}")
    return completed.stdout


def read_answers():
    """The record of the template and its answers (exits when there is none)."""
    answers = None
    if ANSWERS_FILE.is_file():
        answers = yaml.safe_load(ANSWERS_FILE.read_text(encoding="utf-8"))
    if not isinstance(answers, dict) or not answers.get("_src_path"):
        fail(
            f"{ANSWERS_FILE} names no template to update from: move the project to copier first "
            "(the template's docs/updates.md: 'Move an existing project to copier').",
            NOT_LINKED,
        )
    return answers


# -- check ---------------------------------------------------------------------------------------


def release_tags(source):
    """The template's release tags (vX.Y.Z) sorted; exits UNREACHABLE if git cannot list them."""
    listed = subprocess.run(  # noqa: S603 (git from PATH, fixed arguments)
        ["git", "ls-remote", "--tags", "--refs", source],  # noqa: S607
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        timeout=120,
        check=False,
    )
    if listed.returncode != 0:
        lines = listed.stderr.strip().splitlines() or ["git ls-remote failed"]
        print(f"cannot reach the template at {redact(source)}: {redact(lines[-1])}")
        sys.exit(UNREACHABLE)
    tags = (line.rpartition("refs/tags/")[2] for line in listed.stdout.splitlines())
    found = ((RELEASE_TAG.match(tag), tag) for tag in tags)
    return sorted((tuple(map(int, match.groups())), tag) for match, tag in found if match)


def check():
    answers = read_answers()
    recorded = str(answers.get("_commit", ""))
    releases = release_tags(answers["_src_path"])
    if not releases:
        print(f"up to date with the latest release: {redact(answers['_src_path'])} has none yet")
        return UP_TO_DATE
    match = RECORDED_RELEASE.match(recorded)
    version = tuple(map(int, match.groups())) if match else (-1,)
    newer = [tag for release, tag in releases if release > version]
    if not newer:
        print(f"up to date with the latest release ({releases[-1][1]})")
        return UP_TO_DATE
    count = f"{len(newer)} release{'s' if len(newer) > 1 else ''}"
    print(
        f"behind by {count}: this project records {recorded or 'no release'}, the latest is "
        f"{newer[-1]}. Apply it with: poetry run poe update-template"
    )
    return BEHIND


# -- update --------------------------------------------------------------------------------------


@contextlib.contextmanager
def shown_without_credentials():
    """Capture what copier prints, then print it with any URL's credentials left out."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            yield
    finally:
        if captured.getvalue().strip():
            print(redact(captured.getvalue()).rstrip(), file=sys.stderr)


def copier_update(arguments):
    """`copier update` in this process, with these command-line arguments; exits when it fails."""
    from copier._cli import CopierApp

    options = ["--trust", "--defaults", "--conflict", "inline"]
    try:
        with shown_without_credentials():
            _, code = CopierApp.run(["copier", "update", *options, *arguments], exit=False)
    except Exception as error:  # copier's own errors print without a traceback; so do the others
        fail(f"copier update failed: {redact(error)}")
    if code:
        fail("copier update failed (its message is above); the working tree may hold part of it")


def render(answers, folder):
    """The template at answers' commit, rendered with answers into folder: path -> file."""
    import copier

    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    try:
        with shown_without_credentials():
            copier.run_copy(
                answers["_src_path"],
                folder,
                data=data,
                vcs_ref=str(answers["_commit"]),
                defaults=True,
                unsafe=True,
                quiet=True,
                skip_tasks=True,
            )
    except Exception as error:
        fail(f"copier could not render the template at {answers['_commit']}: {redact(error)}")
    files = (path for path in folder.rglob("*") if path.is_file())
    return {
        path.relative_to(folder).as_posix(): path
        for path in files
        if path.name != ANSWERS_FILE.name
    }


def ignored_files():
    """The files git ignores here (not those inside wholly ignored folders such as .venv): bytes."""
    listed = git("ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z")
    names = (name for name in listed.split("\0") if name and not name.endswith("/"))
    return {name: Path(name).read_bytes() for name in names if Path(name).is_file()}


def head_blobs():
    """path -> (mode, blob) of each file in HEAD."""
    blobs = {}
    for entry in filter(None, git("ls-tree", "-r", "-z", "HEAD").split("\0")):
        info, _, path = entry.partition("\t")
        mode, kind, blob = info.split()
        if kind == "blob":
            blobs[path] = (mode, blob)
    return blobs


def stored(path):
    """(mode, blob) of a file, its bytes written into git's object store."""
    mode = "100755" if os.access(path, os.X_OK) else "100644"
    return mode, git("hash-object", "-w", "--no-filters", "--", str(path)).strip()


def mark_unmerged(path, base=None, ours=None, theirs=None):
    """Record path in git's index as a conflict: stage 1 the release you had, 2 yours, 3 the new."""
    entries = [f"0 {NO_BLOB}\t{path}"]
    for stage, side in ((1, base), (2, ours), (3, theirs)):
        if side is not None:
            entries.append(f"{side[0]} {side[1]} {stage}\t{path}")
    git("update-index", "--index-info", stdin="\n".join(entries) + "\n")


def likely_new_name(content, added):
    """The file the template added that looks most like the one it dropped (a rename), or None."""
    best, best_ratio = None, 0.6
    for name, path in added.items():
        ratio = difflib.SequenceMatcher(None, content, path.read_bytes()).quick_ratio()
        if ratio > best_ratio:
            best, best_ratio = name, ratio
    return best


def keep_dropped_edits(old, new, head):
    """Each file of yours copier deleted because the template dropped it: back, and unmerged."""
    notes = []
    added = {name: path for name, path in new.items() if name not in old}
    for name, path in sorted(old.items()):
        if name in new or name not in head or head[name][1] == stored(path)[1]:
            continue  # the template dropped a file you never changed (or had deleted): so be it
        if not Path(name).exists():
            git("checkout", "HEAD", "--", name)
        mark_unmerged(name, base=stored(path), ours=head[name])
        renamed = likely_new_name(path.read_bytes(), added)
        hint = f" (moved to {renamed}?)" if renamed else ""
        notes.append(f"{name}: the template dropped it{hint}; your edited copy is kept")
    return notes


def keep_deletions(old, new, head):
    """Each file you deleted that the template changed: it stays deleted, and unmerged."""
    notes = []
    for name, path in sorted(new.items()):
        deleted = name in old and name not in head and not Path(name).exists()
        if deleted and old[name].read_bytes() != path.read_bytes():
            mark_unmerged(name, base=stored(old[name]), theirs=stored(path))
            notes.append(f"{name}: you had deleted it, the template changed it; it stays deleted")
    return notes


def keep_ignored_files(old, new, before):
    """Each file git ignores that copier overwrote or deleted: back, byte for byte."""
    notes = []
    for name, content in sorted(before.items()):
        now = Path(name).read_bytes() if Path(name).is_file() else None
        if now == content or (name in old and content == old[name].read_bytes()):
            continue  # untouched, or the template's file that you never changed: its update stands
        Path(name).write_bytes(content)
        notes.append(f"{name}: the template wrote over your file (ignored by git); yours is kept")
        if name in new:
            mark_unmerged(name, theirs=stored(new[name]))
    return notes


def update(arguments):
    if not Path(".git").exists() or git("status", "--porcelain"):
        fail("update from the project's root folder, a git repository with everything committed")
    if importlib.util.find_spec("copier") is None:  # the optional group `template` is not installed
        poetry = ["poetry", "install", "--with", "template"]
        if subprocess.run(poetry, check=False).returncode != 0:  # noqa: S603
            fail("poetry install --with template failed (it installs copier)")
    started = time.monotonic()
    if not git(
        "config", "user.email", check=False
    ).strip():  # copier commits in its scratch repositories
        for role in ("AUTHOR", "COMMITTER"):
            os.environ.setdefault(f"GIT_{role}_NAME", "Template update")
            os.environ.setdefault(f"GIT_{role}_EMAIL", "template-update@localhost")
    before = read_answers()
    releases = release_tags(before["_src_path"])  # exits, saying so, when it cannot be reached
    if not arguments and releases and before.get("_commit") == releases[-1][1]:
        print(f"up to date with the latest release ({releases[-1][1]}): nothing to update")
        return UP_TO_DATE
    head, ignored = head_blobs(), ignored_files()
    print(f"copier update from {before.get('_commit')} ({redact(before['_src_path'])})", flush=True)
    copier_update(arguments)
    after = read_answers()
    with tempfile.TemporaryDirectory(prefix="template-renders-") as renders:
        old = render(before, Path(renders, "old"))
        new = render(after, Path(renders, "new"))
        notes = keep_dropped_edits(old, new, head) + keep_deletions(old, new, head)
        notes += keep_ignored_files(old, new, ignored)
    changed = git("status", "--porcelain", "--untracked-files=all").splitlines()
    print(
        f"template {before.get('_commit')} -> {after.get('_commit')}: {len(changed)} files changed"
    )
    for note in notes:
        print(f"    {note}")
    needs = needing_a_person()
    print(f"copier update and the files that need a person: {time.monotonic() - started:.1f} s")
    return finish(needs)


# -- finish --------------------------------------------------------------------------------------


def marker_count(content):
    """The conflict-marker lines in a file's bytes."""
    starts = tuple(marker + b" " for marker in MARKERS)
    lines = (line.rstrip(b"\r") for line in content.splitlines())
    return sum(1 for line in lines if line in MARKERS or line.startswith(starts))


def touched_files(head):
    """Files the update changed or added (the tree was clean before it): path -> bytes in HEAD."""
    listed = git("diff", "--name-only", "-z", "HEAD")
    listed += git("ls-files", "--others", "--exclude-standard", "-z")
    names = sorted({name for name in listed.split("\0") if name and Path(name).is_file()})
    return {
        name: git("show", f"HEAD:{name}", binary=True) if name in head else b"" for name in names
    }


def unmerged():
    """path -> the stages git's index holds for it (1: the release you had, 2: yours, 3: new)."""
    stages = {}
    for entry in filter(None, git("ls-files", "--unmerged", "-z").split("\0")):
        info, _, path = entry.partition("\t")
        stages.setdefault(path, set()).add(int(info.split()[2]))
    return stages


def what_unmerged_needs(name, stages):
    """What a person does about an unmerged file; None for a content conflict already resolved."""
    if stages == {3}:
        return (
            "the template added a file where yours (ignored by git) was; yours is kept: compare it "
            f"with the template's (git show :3:{name}), then git rm --cached {name}"
        )
    if 3 not in stages:
        return (
            "the template dropped it (deleted, renamed, or left out by a changed answer), you had "
            f"edited it; yours is kept: move what you need, then git add {name} to keep it or "
            f"git rm {name} to let it go"
        )
    if 2 not in stages:
        return (
            f"you had deleted it, and the template changed it: git rm {name} keeps it deleted, "
            f"git checkout --theirs {name} && git add {name} takes the template's"
        )
    return None


def needing_a_person():
    """name -> what happened and what to do, for each file an update left for a person."""
    needs = {}
    head = set(filter(None, git("ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0")))
    for name, previous in touched_files(head).items():
        if marker_count(Path(name).read_bytes()) > marker_count(previous):
            needs[name] = "conflict markers: keep what you need, delete the marker lines"
    for name, stages in unmerged().items():
        if name in needs:
            continue
        what = what_unmerged_needs(name, stages)
        if what is None:  # a conflict whose markers are gone: resolved
            git("add", "--all", "--", name)
            print(f"resolved: {name}")
        else:
            needs[name] = what
    for name in filter(
        None, git("ls-files", "--others", "-z", "--", ":(glob)**/*.rej").split("\0")
    ):
        needs[name] = "a change the update could not place: apply it by hand, then delete this file"
    return needs


def finish(needs=None):
    needs = needing_a_person() if needs is None else needs
    if needs:
        print("error: the template update needs a person for these files:", file=sys.stderr)
        for name, what in sorted(needs.items()):
            print(f"    {name}: {what}", file=sys.stderr)
        print(f"Resolve each, then run: {FINISH}", file=sys.stderr)
        return 1
    for command in (["poetry", "lock"], ["poetry", "check", "--lock"]):
        print(f"==> {' '.join(command)}", flush=True)
        if subprocess.run(command, check=False).returncode != 0:  # noqa: S603
            fail(f"{' '.join(command)} failed: fix it, then run: {FINISH}")
    print("==> poetry install --with template", flush=True)
    if subprocess.run(["poetry", "install", "--with", "template"], check=False).returncode != 0:  # noqa: S607
        fail(f"poetry install failed: fix it, then run: {FINISH}")
    print("==> python scripts/image-requirements.py", flush=True)
    if subprocess.run([sys.executable, "scripts/image-requirements.py"], check=False).returncode:
        fail(f"image-requirements.txt could not be written: fix it, then run: {FINISH}")
    print(
        "The update is complete. Review it (git status, git diff HEAD), run the checks "
        f"(poetry run poe check), then commit all it changed: {COMMIT}"
    )
    return 0


def main(arguments):
    commands = {"update": update, "finish": lambda: finish(), "check": check}
    if not arguments or arguments[0] not in commands:
        fail("usage: python scripts/template-update.py update [COPIER ARGUMENTS] | finish | check")
    if arguments[0] != "update" and arguments[1:]:
        fail(f"{arguments[0]} takes no arguments")
    return commands[arguments[0]](*([arguments[1:]] if arguments[0] == "update" else []))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
