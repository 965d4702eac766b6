"""Bytes of the distributions a project has only because of some of its requirements (observability's).

usage: python exclusive_bytes.py PROJECT ROOT...      (the benchmark mounts this file into the image it measures)

ROOTs are requirements of the installed distribution PROJECT. Their distributions, and every one reachable from
them that no other requirement of PROJECT reaches, are theirs alone: the dependency closures come from the
installed distributions' metadata (Requires-Dist, with its markers evaluated here and the extras asked for).
Each one's bytes are the files its RECORD lists, plus the bytecode compiled after the install, which RECORD
does not list: __pycache__/NAME.TAG[.opt-N].pyc beside each .py file it lists. Prints JSON: the distributions
with their bytes (listed in RECORD, compiled after), and the totals. The standard library only, as in the image.
"""

import importlib.metadata
import json
import os
import platform
import re
import sys

VERSION_VARIABLES = ("python_version", "python_full_version", "implementation_version")
TOKEN = re.compile(r"""\s*(\(|\)|'[^']*'|"[^"]*"|===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b|and\b|or\b|[A-Za-z_.]+)""")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?[^;]*(?:;(.*))?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environment() -> dict[str, str]:
    """PEP 508's marker variables for this interpreter."""
    implementation = sys.implementation.version
    implementation_version = f"{implementation.major}.{implementation.minor}.{implementation.micro}"
    if implementation.releaselevel != "final":
        implementation_version += implementation.releaselevel[0] + str(implementation.serial)
    return {
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
    }


def version_key(text: str, length: int) -> tuple[int, ...] | None:
    """A release's numbers padded to length, then -1 for a pre-release; None when text is no version."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)([a-z]+\d*)?", text.strip())
    if not match:
        return None
    release = [int(part) for part in match[1].split(".")]
    return (*release, *[0] * (length - len(release)), -1 if match[2] else 0)


def compare(left: str, operator: str, right: str) -> bool:
    if operator in ("in", "not in"):
        return (left in right) == (operator == "in")
    if operator == "===":
        return left == right
    if operator in ("==", "!=") and right.endswith(".*"):
        prefix = right[:-2].split(".")
        return (left.split(".")[: len(prefix)] == prefix) == (operator == "==")
    length = max(left.count("."), right.count(".")) + 1
    a, b = version_key(left, length), version_key(right, length)
    if a is None or b is None:  # no versions: PEP 508 falls back to Python's comparison of the strings
        a, b = left, right
    if operator == "~=":
        prefix = right.split(".")[:-1]
        return a >= b and left.split(".")[: len(prefix)] == prefix
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


def marker_holds(marker: str, env: dict[str, str]) -> bool:
    """Evaluate a PEP 508 marker: comparisons of variables and strings, joined by and/or, in parentheses."""
    tokens, position = [], 0
    while position < len(marker.rstrip()):
        match = TOKEN.match(marker, position)
        if not match:
            raise ValueError(f"cannot read the marker {marker!r}")
        tokens.append(re.sub(r"\s+", " ", match[1]))
        position = match.end()
    tokens.append("")

    def take() -> str:
        return tokens.pop(0)

    def value() -> tuple[str, str | None]:  # the value, and the variable it names (None for a string)
        token = take()
        if token[:1] in ("'", '"'):
            return token[1:-1], None
        if token not in env:
            raise ValueError(f"unknown marker variable {token!r} in {marker!r}")
        return env[token], token

    def atom() -> bool:
        if tokens[0] == "(":
            take()
            result = either()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {marker!r}")
            return result
        (left, left_name), operator, (right, right_name) = value(), take(), value()
        if "extra" in (left_name, right_name):  # extras compare by their normalised names (PEP 685)
            left, right = canonical(left), canonical(right)
        return compare(left, operator, right)

    def both() -> bool:
        result = atom()
        while tokens[0] == "and":
            take()
            result = atom() and result
        return result

    def either() -> bool:
        result = both()
        while tokens[0] == "or":
            take()
            result = both() or result
        return result

    result = either()
    if tokens != [""]:
        raise ValueError(f"cannot read the marker {marker!r}")
    return result


def requirements(distribution, extras: frozenset[str], env: dict[str, str]) -> list[tuple[str, frozenset[str]]]:
    """The distribution's requirements (name and extras) whose markers hold, with any of the extras asked for."""
    found = []
    for line in distribution.requires or ():
        match = REQUIREMENT.match(line)
        if not match:
            raise ValueError(f"{distribution.metadata['Name']}: cannot read the requirement {line!r}")
        name, wanted, marker = match[1], match[2], match[3]
        if marker and not any(marker_holds(marker, {**env, "extra": extra}) for extra in {"", *extras}):
            continue
        found.append(
            (canonical(name), frozenset(canonical(extra) for extra in (wanted or "").split(",") if extra.strip()))
        )
    return found


def closure(installed: dict, start: list[tuple[str, frozenset[str]]], env: dict[str, str]) -> set[str]:
    """Every installed distribution reachable from the start requirements (those not installed are skipped)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(start)
    while pending:
        name, extras = pending.pop()
        if name not in installed or (name, extras) in seen:
            continue
        seen.add((name, extras))
        pending += requirements(installed[name], extras, env)
    return {name for name, _ in seen}


def exclusive(installed: dict, project: str, roots: list[str], env: dict[str, str]) -> list[str]:
    """The roots' distributions and those only they reach, among the project's requirements and its extras' (the
    image installs every extra unless told otherwise: those of extras not installed are skipped with them)."""
    if canonical(project) not in installed:
        raise SystemExit(f"no distribution {project} installed")
    distribution = installed[canonical(project)]
    provided = frozenset(canonical(extra) for extra in distribution.metadata.get_all("Provides-Extra") or ())
    direct = requirements(distribution, provided, env)
    wanted = {canonical(root) for root in roots}
    missing = wanted - {name for name, _ in direct if name in installed}
    if missing:
        raise SystemExit(f"{project} requires no installed {', '.join(sorted(missing))}")
    everything = closure(installed, direct, env)
    others = closure(installed, [(name, extras) for name, extras in direct if name not in wanted], env)
    return sorted(everything - others)


def bytecode(path: str) -> list[str]:
    """The bytecode files compiled from a .py file: __pycache__/NAME.TAG.pyc and its .opt-N.pyc."""
    folder, name = os.path.split(path)
    cache = os.path.join(folder, "__pycache__")
    prefix = f"{name[:-3]}.{sys.implementation.cache_tag}."
    if not os.path.isdir(cache):
        return []
    return [
        os.path.join(cache, entry)
        for entry in os.listdir(cache)
        if entry.startswith(prefix) and re.fullmatch(r"(opt-\d+\.)?pyc", entry[len(prefix) :])
    ]


def distribution_bytes(distribution, counted: set[str]) -> tuple[int, int]:
    """Bytes of the files RECORD lists, and of their bytecode; a file counted once, even if two list it."""
    if distribution.files is None:
        raise SystemExit(f"{distribution.metadata['Name']} has no RECORD: its files are unknown")
    sizes = [0, 0]
    for file in distribution.files:
        path = os.path.normpath(os.path.abspath(str(distribution.locate_file(file))))
        found = [(0, path)] if os.path.lexists(path) else []
        if path.endswith(".py"):
            found += [(1, compiled) for compiled in bytecode(path)]
        for kind, each in found:
            if each not in counted:
                counted.add(each)
                sizes[kind] += os.lstat(each).st_size
    return sizes[0], sizes[1]


def measure(project: str, roots: list[str], path: list[str] | None = None) -> dict:
    installed: dict = {}
    for distribution in importlib.metadata.distributions(**({"path": path} if path else {})):
        if name := distribution.metadata["Name"]:  # a broken dist-info folder has none
            installed.setdefault(canonical(name), distribution)  # the first found, as imports find it
    counted: set[str] = set()
    sizes = {
        name: distribution_bytes(installed[name], counted)
        for name in exclusive(installed, project, roots, environment())
    }
    return {
        "distributions": {name: {"listed": listed, "compiled": compiled} for name, (listed, compiled) in sizes.items()},
        "listed": sum(listed for listed, _ in sizes.values()),
        "compiled": sum(compiled for _, compiled in sizes.values()),
        "bytes": sum(listed + compiled for listed, compiled in sizes.values()),
    }


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    print(json.dumps(measure(sys.argv[1], sys.argv[2:])))


if __name__ == "__main__":
    main()
