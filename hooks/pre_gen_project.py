"""Validate the answers before cookiecutter writes any file of the project, and keep the user's files.

Every problem is reported at once, each naming its field and the fix; then the hook exits 1 and
cookiecutter removes the (still empty) project directory it created. The same checks run earlier too:
template_extensions.AnswerCheckExtension calls find_problems before cookiecutter creates the directory,
so an answer that would break that step (an empty or overlong slug) is refused by name as well.

Generating into an existing project (-f, with or without -s) must not change a file the user has: this
hook copies each of the user's files at a path the template writes into BACKUP_FOLDER, and the
post-generation hook puts them back, byte for byte, before it does anything else.
"""

import json
import keyword
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

MAX_NAME_LENGTH = 64
SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
POETRY_2_RELEASE = re.compile(r"^2\.\d+\.\d+$")

# RFC 5322 addr-spec in its dot-atom form, with a domain of host name labels.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_HOST_LABEL}(?:\.{_HOST_LABEL})+")

# PEP 440, Appendix B (the regular expression of `packaging`), without surrounding whitespace.
VERSION = re.compile(
    r"""v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
PRE_RELEASE_SPELLINGS = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}

# The image reference grammar of distribution/reference (what docker and every registry parse), without
# the [IPv6] hosts of its newest versions, which Debian's Docker 20.10 does not parse.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
IMAGE_REFERENCE = re.compile(
    rf"(?P<name>(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}))?"
)
IMAGE_NAME_MAX_LENGTH = 255
# The base image when docker_base_image is empty (the answer follows python_version): the official slim image.
DEFAULT_DOCKER_BASE_IMAGE = "python:{python_version}-slim-trixie"

# What an index or repository URL may hold: RFC 3986's unreserved and reserved characters and '%',
# less the quote and '$', which no index URL needs and which the Dockerfile and shells would read.
URL_CHARACTER = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!&()*+,;=%]")
BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The name of the package index source in the generated pyproject.toml, which names Poetry's variables.
PACKAGE_INDEX_SOURCE = "package-index"
PACKAGE_INDEX_CREDENTIALS = "POETRY_HTTP_BASIC_{0}_USERNAME and POETRY_HTTP_BASIC_{0}_PASSWORD".format(
    PACKAGE_INDEX_SOURCE.upper().replace("-", "_")
)

# Distribution, import and command names of what the generated project installs: its dependencies and
# theirs, the dev tools (and their commands: the project's own command is named after project_slug),
# and the build tools. A project or package of one of these names cannot be locked next to it, or
# shadows its import or its command. tests/test_answers.py checks that this covers the generated
# pyproject.toml for every app_type, and every package of a real lock.
DEPENDENCY_NAMES = frozenset(
    {
        # app_type=fastapi, and what FastAPI, uvicorn and httpx2 bring
        "annotated-doc", "annotated-types", "anyio", "fastapi", "h11", "httpcore", "httpcore2", "httpx",
        "httpx2", "httpx2-jsfetch", "idna", "opentelemetry", "opentelemetry-api", "pydantic", "pydantic-core",
        "sniffio", "starlette", "truststore", "typing-extensions", "typing-inspection", "uvicorn",
        # app_type=cli
        "click", "colorama",
        # the dev group and what it brings: pytest, ruff, mypy, poethepoet
        "ast-serialize", "dmypy", "iniconfig", "librt", "mypy", "mypy-extensions", "mypyc", "packaging",
        "pastel", "pathspec", "pluggy", "poe", "poethepoet", "py", "py.test", "_pytest", "pygments",
        "pygmentize", "pytest", "pyyaml", "yaml", "_yaml", "ruff", "stubgen", "stubtest",
        # the optional template group: copier and its extension loader, for template updates, and what they bring
        "copier", "copier-template-extensions", "copier-templates-extensions", "dunamai", "funcy", "jinja2",
        "jinja2-ansible-filters", "markupsafe", "platformdirs", "plumbum", "prompt-toolkit", "questionary",
        "wcwidth",
        # building and installing: the image's Poetry and uv, the build backend, the virtual environment's
        # own commands and modules
        "activate", "pip", "pip3", "poetry", "poetry-core", "python", "python3", "setuptools", "uv",
        "_virtualenv", "wheel",
        # the project's own test folder
        "tests",
    }
)  # fmt: skip

BACKUP_FOLDER = Path(".cookiecutter-backup")


def normalized_name(name):
    """A name as Python packaging compares it (PEP 503), with '_' for import names."""
    return re.sub(r"[-_.]+", "_", name).lower()


RESERVED = frozenset(normalized_name(name) for name in DEPENDENCY_NAMES)


def normalize_version(version):
    """The normalized form of a PEP 440 version (what Poetry writes into the package metadata)."""
    match = VERSION.fullmatch(version)
    epoch = f"{int(match['epoch'])}!" if match["epoch"] and int(match["epoch"]) else ""
    release = ".".join(str(int(part)) for part in match["release"].split("."))
    pre = ""
    if match["pre"]:
        label = match["pre_l"].lower()
        pre = f"{PRE_RELEASE_SPELLINGS.get(label, label)}{int(match['pre_n'] or 0)}"
    post = f".post{int(match['post_n1'] or match['post_n2'] or 0)}" if match["post"] else ""
    dev = f".dev{int(match['dev_n'] or 0)}" if match["dev"] else ""
    local = ""
    if match["local"]:
        parts = re.split(r"[-_.]", match["local"].lower())
        local = "+" + ".".join(str(int(part)) if part.isdigit() else part for part in parts)
    return f"{epoch}{release}{pre}{post}{dev}{local}"


def validate_single_line(field, value):
    if not value.strip():
        return f"{field} is empty: give it a value."
    if CONTROL_CHARACTERS.search(value):
        return f"{field} holds a line break or control character: write it on one line."
    return None


def validate_name_length(field, name, example):
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"{field} is {len(name)} characters long: keep it to {MAX_NAME_LENGTH} or fewer (for example {example!r})."
        )
    return None


def validate_not_a_dependency(field, name):
    if normalized_name(name) in RESERVED:
        return (
            f"{field} {name!r} is the name of a package or command the generated project installs: "
            f"the lock, its imports or its commands would collide. Choose another name (for example "
            f"{name + ('_app' if field == 'package_name' else '-app')!r})."
        )
    return None


def validate_slug(slug, project_name):
    if not slug:
        return (
            f"project_slug is empty: project_name {project_name!r} has no letters or digits to make one from. "
            "Answer project_slug (for example 'my-service'), or give project_name some letters."
        )
    problem = validate_name_length("project_slug", slug, "my-service")
    if problem:
        return problem
    if not SLUG.fullmatch(slug):
        return (
            f"project_slug {slug!r} is not a valid distribution name: use lowercase letters, digits and "
            "single hyphens, starting with a letter (for example 'my-service')."
        )
    return validate_not_a_dependency("project_slug", slug)


def validate_package_name(name):
    problem = validate_name_length("package_name", name, "my_service")
    if problem:
        return problem
    if not name.isidentifier() or not name.isascii() or name != name.lower():
        return (
            f"package_name {name!r} is not a lowercase Python identifier: use lowercase letters, "
            "digits and underscores, starting with a letter (for example 'my_service')."
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"package_name {name!r} is a Python keyword: choose another name (for example '{name}_app')."
    if name in sys.stdlib_module_names:
        return (
            f"package_name {name!r} shadows the standard library module of that name: "
            f"choose another name (for example '{name}_app')."
        )
    return validate_not_a_dependency("package_name", name)


def validate_email(email):
    if not EMAIL.fullmatch(email):
        return (
            f"author_email {email!r} is not an email address (an addr-spec, without a name, quotes, "
            "commas or angle brackets): use the form 'name@example.com'."
        )
    return None


def validate_version(version):
    if not VERSION.fullmatch(version):
        return f"version {version!r} is not a PEP 440 version: use a form like '0.1.0', '1.0.0rc1' or '2.1.post1'."
    return None


def validate_poetry_version(version):
    if not POETRY_2_RELEASE.match(version):
        return f"poetry_version {version!r} is not a Poetry 2 release: use the form '2.5.1'."
    return None


def validate_url(field, url, *, required):
    """An http(s) URL that every file can hold as written: refuse what needs quoting, and credentials."""
    if not url and not required:
        return None
    example = "https://pypi.example.com/simple/" if field == "package_index_url" else "https://github.com/org/repo"
    unusable = sorted({char for char in url if not URL_CHARACTER.fullmatch(char)})
    if unusable:
        encoded = ", ".join(f"{char!r} as {quote(char, safe='')}" for char in unusable)
        return (
            f"{field} {url!r} holds characters a URL does not need, which the generated files would have to "
            f"quote: percent-encode them ({encoded})."
        )
    if BAD_PERCENT_ESCAPE.search(url):
        return f"{field} {url!r} has a '%' not followed by two hex digits: write a literal '%' as %25."
    parts = http_url_parts(url)
    if parts is None:
        hint = " or leave it empty for PyPI" if not required else ""
        return f"{field} {url!r} is not an http(s) URL: use the form '{example}'{hint}."
    if "@" in parts.netloc:
        return validate_no_credentials(field, url, example)
    return None


def http_url_parts(url):
    """The parts of an http(s) URL with a host (and a numeric port, if any), else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading the port checks it: ValueError when it is not a number)
    except ValueError:  # a malformed [IPv6] host or port
        return None
    return parts if parts.scheme in ("http", "https") and parts.hostname else None


def validate_no_credentials(field, url, example):
    if field == "package_index_url":
        return (
            f"{field} holds credentials (user:password@ or user@): they would be written into pyproject.toml, "
            f"poetry.lock, the Dockerfile and the image. Give the URL without them (like '{example}') and pass "
            f"them to Poetry as {PACKAGE_INDEX_CREDENTIALS} (the source is named '{PACKAGE_INDEX_SOURCE}'), and "
            "to docker build as a BuildKit secret: see 'Private package index' in the generated README."
        )
    return (
        f"{field} holds credentials (user:password@ or user@): they would be published in the package metadata "
        f"and the image's labels. Give the URL without them (like '{example}')."
    )


def docker_base_image(answers):
    """The Dockerfile's base image: the answer, or when it is empty the default for python_version."""
    return answers["docker_base_image"] or DEFAULT_DOCKER_BASE_IMAGE.format(python_version=answers["python_version"])


def validate_docker_base_image(image):
    match = IMAGE_REFERENCE.fullmatch(image)
    if match and len(match["name"]) <= IMAGE_NAME_MAX_LENGTH:
        return None
    return (
        f"docker_base_image {image!r} is not an image reference: lowercase repository path components "
        "(letters, digits, single '.', '_' or '-' between them), an optional registry host[:port]/ in front, "
        "then an optional :tag and @sha256:<64 hex digits>. For example 'python:3.13-slim-trixie' or "
        "'registry.example.com:5000/python:3.13-slim-trixie'."
    )


def find_problems(answers):
    """Return one message per invalid answer, in the order of the questions."""
    problems = [
        validate_single_line("project_name", answers["project_name"]),
        validate_slug(answers["project_slug"], answers["project_name"]),
        validate_package_name(answers["package_name"]),
        validate_single_line("description", answers["description"]),
        validate_single_line("author_name", answers["author_name"]),
        validate_email(answers["author_email"]),
        validate_version(answers["version"]),
        validate_poetry_version(answers["poetry_version"]),
        validate_url("repository_url", answers["repository_url"], required=True),
        validate_url("package_index_url", answers["package_index_url"], required=False),
        validate_docker_base_image(docker_base_image(answers)),
    ]
    return [problem for problem in problems if problem]


NOTHING_GENERATED = "Nothing was generated. Run cookiecutter again with these answers fixed."


def print_problems(problems):
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)


def back_up_user_files(template_paths):
    """Copy the user's files at the template's paths into BACKUP_FOLDER, with a list of what was here."""
    if not any(Path().iterdir()):
        return
    if BACKUP_FOLDER.exists():
        raise SystemExit(
            f"error: {BACKUP_FOLDER}/ is here: a generation into this folder stopped before it finished, and that "
            "folder holds your files from before it. Copy back what you need, delete the folder, then run "
            "cookiecutter again."
        )
    present = [path for path in template_paths if os.path.lexists(path)]
    files = [path for path in present if Path(path).is_file()]
    for path in files:
        copy = BACKUP_FOLDER / "files" / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    BACKUP_FOLDER.mkdir(exist_ok=True)
    manifest = {"files": files, "folders": [path for path in present if Path(path).is_dir()]}
    (BACKUP_FOLDER / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def main(answers, template_paths):
    problems = find_problems(answers)
    if problems:
        print_problems(problems)
        print(NOTHING_GENERATED, file=sys.stderr)
        return 1
    back_up_user_files(template_paths)
    return 0


if __name__ == "__main__":
    # Cookiecutter renders here, as JSON string literals, its answers and the paths the template writes
    # with them (template_extensions.template_paths).
    answers = json.loads({{cookiecutter | jsonify | tojson}})  # noqa: F821
    template_paths = json.loads({{cookiecutter | template_paths | jsonify | tojson}})  # noqa: F821
    sys.exit(main(answers, template_paths))
