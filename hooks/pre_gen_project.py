"""Validate the answers before cookiecutter writes any file of the project, and keep the user's files.

Every problem is reported at once, each naming its field and the fix; then the hook exits 1 and
cookiecutter removes the (still empty) project directory it created. The same checks run earlier too:
template_extensions.AnswerCheckExtension calls find_problems before cookiecutter creates the directory,
so an answer that would break that step (an empty or overlong slug) is refused by name as well.

Generating into an existing project (-f, with or without -s) must not change a file the user has, nor write
through a link out of the project: this hook refuses a tree the template cannot be written into (a file where
the template has a folder, a folder where it has a file, a link at a template folder that leads out of the
project), then moves each of the user's entries at a path the template writes (file, link, anything but a
folder) into BACKUP_FOLDER, so cookiecutter writes new files and never through the user's. The post-generation
hook moves them back before it does anything else; if the generation stops before it gets there,
template_extensions puts them back as cookiecutter exits (post_gen_project.restore_user_files).

Run as a hook, the script deletes itself first: cookiecutter leaves its rendered copy, which holds every
answer, in the temporary folder.
"""

import datetime
import ipaddress
import json
import keyword
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

MAX_NAME_LENGTH = 64
SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# C0 and C1 controls, and what YAML and Unicode read as a line break (NEL, LINE and PARAGRAPH SEPARATOR),
# and the bidirectional overrides that make text read otherwise than it is stored ("Trojan Source").
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Lengths at which a later tool breaks. PyPI refuses a summary (description) over 512 characters; the
# Dockerfile's LABEL and ARG lines carry the texts and URLs, and BuildKit refuses a line over 64 KiB; a
# release tag v<version> becomes an image tag, which Docker caps at 128 characters; RFC 5321 caps an
# address at 254.
MAX_TEXT_LENGTH = 512
MAX_URL_LENGTH = 2048
MAX_VERSION_LENGTH = 128
MAX_EMAIL_LENGTH = 254
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
# What Docker takes for an image ID, never a name.
IMAGE_ID = re.compile(r"[a-f0-9]{64}")
# An official python image (or a mirror of it): python:3.13-slim, registry.example.com/library/python:3.11.
OFFICIAL_PYTHON_TAG = re.compile(r"(?:.+/)?python:(?P<version>3\.\d+)(?:[.-][^@]*)?(?:@.*)?")

# What an index or repository URL may hold: RFC 3986's unreserved and reserved characters and '%',
# less the quote and '$', which no index URL needs and which the Dockerfile and shells would read.
URL_CHARACTER = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!&()*+,;=%]")
BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
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
        # app_type=fastapi, and what FastAPI and uvicorn bring
        "annotated-doc", "annotated-types", "anyio", "fastapi", "h11", "httpcore", "httpx", "idna",
        "opentelemetry", "opentelemetry-api", "pydantic", "pydantic-core", "sniffio", "starlette",
        "typing-extensions", "typing-inspection", "uvicorn",
        # app_type=fastapi's observability: prometheus-client, FastAPI's opentelemetry extra and what they bring
        "prometheus-client", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-exporter-otlp-proto-common", "opentelemetry-exporter-otlp-common",
        "opentelemetry-exporter-http-transport", "opentelemetry-proto", "opentelemetry-semantic-conventions",
        "protobuf", "google", "googleapis-common-protos", "requests", "urllib3", "certifi", "charset-normalizer",
        "normalizer",
        # app_type=cli
        "click", "colorama",
        # settings, for every app_type: pydantic-settings and what it brings
        "pydantic-settings", "python-dotenv", "dotenv",
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
        # the project's own test folder, and the package of the template's tests in it (tests/template/)
        "tests", "template",
    }
)  # fmt: skip

# Commands a project_slug must not be: its console script comes first on PATH wherever the project runs
# (`poetry run`, poe's tasks, the image's PATH starts with /app/.venv/bin), so `poe docker-build` would run
# the app instead of `sh`. Each group is a reason the message gives. tests/test_names_that_shadow.py checks the
# list covers every command the generated scripts, tasks, Dockerfile and CI files run.
SHADOWED_COMMANDS = {
    "is a command the generated project's scripts, tasks, Dockerfile or CI run": (
        "apt-get", "awk", "basename", "cat", "chmod", "cp", "cut", "dirname", "docker", "echo", "env", "false", "find",
        "gh", "git", "grep", "hadolint", "head", "id", "install", "kill", "ln", "ls", "mkdir", "mktemp", "mv", "pip",
        "poetry", "printf", "python", "python3", "rm", "sed", "seq", "sh", "sleep", "sort", "tail", "tar", "tee",
        "test", "timeout", "touch", "tr", "true", "uname", "uv", "wc", "xargs",
    ),
    "is a shell or a shell keyword or builtin": (
        "alias", "ash", "bash", "bg", "break", "busybox", "case", "cd", "command", "continue", "csh", "dash", "do",
        "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "fc", "fg", "fi", "fish", "for", "function",
        "getopts", "hash", "if", "in", "jobs", "ksh", "local", "read", "readonly", "return", "select", "set",
        "shift", "source", "tcsh", "then", "time", "times", "trap", "type", "ulimit", "umask", "unalias", "unset",
        "until", "wait", "while", "zsh",
    ),
    "is a command people expect on PATH in a shell or a container": (
        "apk", "apt", "bunzip2", "bzip2", "cc", "chgrp", "chown", "clear", "cmp", "compose", "curl", "date",
        "dd", "df", "diff", "dnf", "dpkg", "du", "expr", "file", "gawk", "gcc", "go", "gpg", "gunzip", "gzip",
        "helm", "hostname", "ip", "java", "jq", "kubectl", "less", "locale", "login", "make", "man", "more",
        "mount", "nano", "nc", "node", "npm", "npx", "nslookup", "openssl", "passwd", "patch", "pgrep", "pip3",
        "pipx", "pkill", "podman", "ps", "pwd", "readlink", "realpath", "rmdir", "rsync", "scp", "ssh", "stat",
        "strace", "su", "sudo", "terraform", "top", "unzip", "uptime", "vi", "vim", "watch", "wget",
        "which", "whoami", "xz", "yum", "zip",
    ),
}  # fmt: skip
# The standard library's top-level modules (sys.stdlib_module_names, plus the test modules it leaves out) of
# Python 3.13 and of 3.14 as announced (Debian's add _distutils_system_mod), and those an older supported Python
# has that a later one removed. A package
# of such a name shadows the module on the Python the project chose or on a later one it moves to, whichever
# Python runs cookiecutter. tests/test_answers.py checks them against every Python it can run.
STANDARD_LIBRARY = frozenset(
    {
        "__future__", "__hello__", "__phello__", "_abc", "_aix_support", "_android_support", "_apple_support",
        "_ast", "_asyncio", "_bisect", "_blake2", "_bz2", "_codecs", "_codecs_cn", "_codecs_hk", "_codecs_iso2022",
        "_codecs_jp", "_codecs_kr", "_codecs_tw", "_collections", "_collections_abc", "_colorize", "_compat_pickle",
        "_compression", "_contextvars", "_csv", "_ctypes", "_ctypes_test", "_curses", "_curses_panel", "_datetime",
        "_dbm", "_decimal", "_distutils_system_mod", "_elementtree", "_frozen_importlib", "_frozen_importlib_external",
        "_functools",
        "_gdbm", "_hashlib", "_heapq", "_hmac", "_imp", "_interpchannels", "_interpqueues", "_interpreters", "_io",
        "_ios_support", "_json", "_locale", "_lsprof", "_lzma", "_markupbase", "_md5", "_multibytecodec",
        "_multiprocessing", "_opcode", "_opcode_metadata", "_operator", "_osx_support", "_overlapped", "_pickle",
        "_posixshmem", "_posixsubprocess", "_py_abc", "_pydatetime", "_pydecimal", "_pyio", "_pylong", "_pyrepl",
        "_queue", "_random", "_remote_debugging", "_scproxy", "_sha1", "_sha2", "_sha3", "_signal", "_sitebuiltins",
        "_socket", "_sqlite3", "_sre", "_ssl", "_stat", "_statistics", "_string", "_strptime", "_struct",
        "_suggestions", "_symtable", "_sysconfig", "_testbuffer", "_testcapi", "_testclinic", "_testclinic_limited",
        "_testexternalinspection", "_testimportmultiple", "_testinternalcapi", "_testlimitedcapi",
        "_testmultiphase", "_testsinglephase", "_thread", "_threading_local", "_tkinter", "_tokenize",
        "_tracemalloc", "_typing", "_uuid", "_warnings", "_weakref", "_weakrefset", "_winapi", "_wmi",
        "_xxtestfuzz", "_zoneinfo", "_zstd", "abc", "annotationlib", "antigravity", "argparse", "array", "ast",
        "asyncio", "atexit", "base64", "bdb", "binascii", "bisect", "builtins", "bz2", "cProfile", "calendar",
        "cmath", "cmd", "code", "codecs", "codeop", "collections", "colorsys", "compileall", "compression",
        "concurrent", "configparser", "contextlib", "contextvars", "copy", "copyreg", "csv", "ctypes", "curses",
        "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "doctest", "email", "encodings", "ensurepip",
        "enum", "errno", "faulthandler", "fcntl", "filecmp", "fileinput", "fnmatch", "fractions", "ftplib",
        "functools", "gc", "genericpath", "getopt", "getpass", "gettext", "glob", "graphlib", "grp", "gzip",
        "hashlib", "heapq", "hmac", "html", "http", "idlelib", "imaplib", "importlib", "inspect", "io", "ipaddress",
        "itertools", "json", "keyword", "linecache", "locale", "logging", "lzma", "mailbox", "marshal", "math",
        "mimetypes", "mmap", "modulefinder", "msvcrt", "multiprocessing", "netrc", "nt", "ntpath", "nturl2path",
        "numbers", "opcode", "operator", "optparse", "os", "pathlib", "pdb", "pickle", "pickletools", "pkgutil",
        "platform", "plistlib", "poplib", "posix", "posixpath", "pprint", "profile", "pstats", "pty", "pwd",
        "py_compile", "pyclbr", "pydoc", "pydoc_data", "pyexpat", "queue", "quopri", "random", "re", "readline",
        "reprlib", "resource", "rlcompleter", "runpy", "sched", "secrets", "select", "selectors", "shelve", "shlex",
        "shutil", "signal", "site", "smtplib", "socket", "socketserver", "sqlite3", "sre_compile", "sre_constants",
        "sre_parse", "ssl", "stat", "statistics", "string", "stringprep", "struct", "subprocess", "symtable", "sys",
        "sysconfig", "syslog", "tabnanny", "tarfile", "tempfile", "termios", "test", "textwrap", "this",
        "threading", "time", "timeit", "tkinter", "token", "tokenize", "tomllib", "trace", "traceback",
        "tracemalloc", "tty", "turtle", "turtledemo", "types", "typing", "unicodedata", "unittest", "urllib",
        "uuid", "venv", "warnings", "wave", "weakref", "webbrowser", "winreg", "winsound", "wsgiref", "xml",
        "xmlrpc", "xxlimited", "xxlimited_35", "xxsubtype", "zipapp", "zipfile", "zipimport", "zlib", "zoneinfo"
    }
)  # fmt: skip
REMOVED_FROM_STANDARD_LIBRARY = {
    "3.12": frozenset({
        "_bootsubprocess", "_sha256", "_sha512", "asynchat", "asyncore", "distutils", "imp", "smtpd"
    }),
    "3.13": frozenset({
        "_crypt", "_msi", "_xxsubinterpreters", "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr",
        "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau",
        "telnetlib", "uu", "xdrlib"
    }),
}  # fmt: skip
# Import names a package_name must not be, besides the standard library's and the dependencies': each would be
# imported instead of, or as, something the project's tools need.
SHADOWED_MODULES = {
    "conftest": "pytest imports conftest.py files as the module conftest",
    "sitecustomize": "Python imports it at every start-up",
    "usercustomize": "Python imports it at every start-up",
}

BACKUP_FOLDER = Path(".cookiecutter-backup")


def normalized_name(name):
    """A name as Python packaging compares it (PEP 503), with '_' for import names."""
    return re.sub(r"[-_.]+", "_", name).lower()


RESERVED = frozenset(normalized_name(name) for name in DEPENDENCY_NAMES)
COMMAND_REASONS = {name: reason for reason, names in reversed(SHADOWED_COMMANDS.items()) for name in names}


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
    return validate_length(field, value, MAX_TEXT_LENGTH, "PyPI's limit for a description; the image's labels hold it")


def validate_length(field, value, limit, reason):
    if len(value) > limit:
        return f"{field} is {len(value)} characters long: keep it to {limit} or fewer ({reason})."
    return None


def describe_type(value):
    """What a YAML or JSON reader made of an unquoted value."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def validate_text(field, value):
    """Every answer is text; a config or replay file may have typed it as something else."""
    if isinstance(value, str):
        return None
    return (
        f'{field} is {describe_type(value)}, not text: quote it ({field}: "..." in YAML, "{field}": "..." in '
        "JSON). Unquoted, YAML reads yes, no, on and off as booleans, ~ and an empty value as null, 017 as the "
        "number 15 and 2024-01-01 as a date."
    )


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
    if slug in COMMAND_REASONS:
        return (
            f"project_slug {slug!r} {COMMAND_REASONS[slug]}: the project's console script of that name comes first on "
            f"PATH (poetry run, poe's tasks, the image) and would run instead. Choose another name (for example "
            f"{slug + '-service'!r})."
        )
    return validate_not_a_dependency("project_slug", slug)


def standard_library_names(python_version):
    """The standard library's top-level modules of this Python and of every later one it may run on."""
    chosen = version_key(python_version)
    later = [names for version, names in REMOVED_FROM_STANDARD_LIBRARY.items() if version_key(version) > chosen]
    return STANDARD_LIBRARY.union(*later)


def version_key(version):
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def validate_package_name(name, python_version):
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
    if name.startswith("__") and name.endswith("__"):
        return (
            f"package_name {name!r} is a dunder name, which Python reserves (__main__ is the running script): "
            f"choose another name (for example '{name.strip('_') or 'my'}_service')."
        )
    if name in standard_library_names(python_version):
        return (
            f"package_name {name!r} shadows the standard library module of that name (Python {python_version} "
            f"or later): choose another name (for example '{name}_app')."
        )
    if name in SHADOWED_MODULES:
        return (
            f"package_name {name!r} shadows a module ({SHADOWED_MODULES[name]}): choose another name (for example "
            f"'{name}_app')."
        )
    return validate_not_a_dependency("package_name", name)


def validate_email(email):
    if len(email) > MAX_EMAIL_LENGTH:
        return validate_length("author_email", email, MAX_EMAIL_LENGTH, "RFC 5321's limit for an address")
    if not EMAIL.fullmatch(email):
        return (
            f"author_email {email!r} is not an email address (an addr-spec, without a name, quotes, "
            "commas or angle brackets): use the form 'name@example.com'."
        )
    return None


def validate_version(version):
    if len(version) > MAX_VERSION_LENGTH:
        return validate_length("version", version, MAX_VERSION_LENGTH, "a release tag becomes an image tag")
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
    if len(url) > MAX_URL_LENGTH:
        return validate_length(field, url, MAX_URL_LENGTH, "the Dockerfile's lines hold it")
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
    if parts is not None and not is_host_name_or_address(parts.hostname):
        return (
            f"{field} {url!r} has the host {parts.hostname!r}, which is neither a host name (letters, digits, "
            f"hyphens and dots) nor an IP address: use the form '{example}'."
        )
    if parts is None:
        hint = " or leave it empty for PyPI" if not required else ""
        return f"{field} {url!r} is not an http(s) URL: use the form '{example}'{hint}."
    if "@" in parts.netloc:
        return validate_no_credentials(field, url, example)
    if field == "package_index_url" and parts.scheme == "http" and not is_loopback(parts.hostname):
        return (
            f"{field} {url!r} is plain http on a host other than this machine: pip and uv ignore such an index as "
            "untrusted inside the image build, and anyone on the way could change the packages. Serve it over "
            f"https (like '{example}'); plain http works only on 127.0.0.1, ::1 or localhost."
        )
    return None


def is_host_name_or_address(host):
    if HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    if match and IMAGE_ID.fullmatch(match["name"]):
        return (
            f"docker_base_image {image!r} is named by 64 hexadecimal digits, which Docker reads as an image ID and "
            "refuses as a name: name the image by repository and tag (or digest), e.g. 'python:3.13-slim-trixie'."
        )
    if match and len(match["name"]) <= IMAGE_NAME_MAX_LENGTH:
        return None
    return (
        f"docker_base_image {image!r} is not an image reference: lowercase repository path components "
        "(letters, digits, single '.', '_' or '-' between them), an optional registry host[:port]/ in front, "
        "then an optional :tag and @sha256:<64 hex digits>. For example 'python:3.13-slim-trixie' or "
        "'registry.example.com:5000/python:3.13-slim-trixie'."
    )


def validate_base_image_python(image, python_version):
    """An official python image's tag names its Python: it must be the one the project is locked for."""
    match = OFFICIAL_PYTHON_TAG.fullmatch(image)
    if match and match["version"] != python_version:
        return (
            f"docker_base_image {image!r} is Python {match['version']}, but python_version is {python_version}: the "
            f"lock and the image would disagree. Use 'python:{python_version}-slim-trixie' (or leave "
            "docker_base_image empty: it then follows python_version), or answer python_version to match."
        )
    return None


def find_problems(answers):
    """Return one message per invalid answer, in the order of the questions."""
    typed = [validate_text(field, value) for field, value in answers.items() if not field.startswith("_")]
    if any(typed):
        return [problem for problem in typed if problem]
    problems = [
        validate_single_line("project_name", answers["project_name"]),
        validate_slug(answers["project_slug"], answers["project_name"]),
        validate_package_name(answers["package_name"], answers["python_version"]),
        validate_single_line("description", answers["description"]),
        validate_single_line("author_name", answers["author_name"]),
        validate_email(answers["author_email"]),
        validate_version(answers["version"]),
        validate_poetry_version(answers["poetry_version"]),
        validate_url("repository_url", answers["repository_url"], required=True),
        validate_url("package_index_url", answers["package_index_url"], required=False),
        validate_docker_base_image(docker_base_image(answers))
        or validate_base_image_python(docker_base_image(answers), answers["python_version"]),
    ]
    return [problem for problem in problems if problem]


def find_answers_typed_by_a_file(source, values, questions):
    """One message per answer of this template that a config or replay file gave as other than text, or as a
    choice the question does not offer (cookiecutter would drop it, and every default_context value after it,
    with a warning only)."""
    problems = []
    for field, value in (values or {}).items():
        if field.startswith("_") or field not in questions:
            continue
        problem = validate_text(field, value)
        choices = questions[field]
        if problem is None and isinstance(choices, list) and value not in choices:
            problem = f"{field} {value!r} is not one of its choices: answer one of {', '.join(map(repr, choices))}."
        if problem:
            problems.append(f"{problem} (in {source})")
    return problems


NOTHING_GENERATED = "Nothing was generated. Run cookiecutter again with these answers fixed."
NOTHING_CHANGED = "Nothing was generated and no file of yours was changed."


def print_problems(problems):
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)


def template_folders(template_paths):
    """The template's paths that are folders: those another path lies inside."""
    return {str(parent) for path in template_paths for parent in Path(path).parents if str(parent) != "."}


def find_tree_problems(template_paths, project=Path()):
    """One message per path of the user's tree the template cannot be written into without a traceback, a lost
    file or a write out of the project."""
    root = project.resolve()
    folders = template_folders(template_paths)
    problems = []
    for path in sorted(template_paths):
        entry = project / path
        if not os.path.lexists(entry):
            continue
        if path in folders:
            if entry.is_symlink():
                try:
                    target = entry.resolve()
                except (OSError, RuntimeError):  # a loop of links
                    target = entry
                if not target.is_dir() or not target.is_relative_to(root):
                    problems.append(
                        f"{path} is a symbolic link to {os.readlink(entry)}, which is "
                        f"{'outside this project' if target.exists() else 'missing'}: the template writes files into "
                        f"the folder {path}, and would write through the link. Replace the link with a folder (or "
                        "generate elsewhere), then run cookiecutter again."
                    )
            elif not entry.is_dir():
                problems.append(
                    f"{path} is a file in your project where the template has a folder: rename or move it, then run "
                    "cookiecutter again."
                )
        elif entry.is_dir() and not entry.is_symlink():
            problems.append(
                f"{path} is a folder in your project where the template writes a file: rename or move it, then run "
                "cookiecutter again."
            )
    return problems


def set_user_files_aside(template_paths):
    """Move the user's entries at the template's file paths into BACKUP_FOLDER, with a manifest of what was here.

    A move keeps every byte, mode and link as it is, and cookiecutter then writes new files: never into the
    user's (a hard link), never through a symbolic link. The manifest names the cookiecutter process, whose exit
    puts the files back if the post-generation hook never did.
    """
    if not any(Path().iterdir()):
        return
    if os.path.lexists(BACKUP_FOLDER):
        raise SystemExit(
            f"error: {BACKUP_FOLDER}/ is here: a generation into this folder stopped before it finished, and that "
            "folder holds your files from before it. Copy back what you need, delete the folder, then run "
            "cookiecutter again."
        )
    folders = template_folders(template_paths)
    present = [path for path in template_paths if os.path.lexists(path)]
    manifest = {
        "owner": os.getppid(),
        "files": [path for path in present if path not in folders],
        "folders": [path for path in present if path in folders],
        "added": [path for path in template_paths if path not in present],
    }
    (BACKUP_FOLDER / "files").mkdir(parents=True)
    (BACKUP_FOLDER / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    moved = []
    try:
        for path in manifest["files"]:
            (BACKUP_FOLDER / "files" / path).parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, BACKUP_FOLDER / "files" / path)
            moved.append(path)
    except OSError as error:
        for path in reversed(moved):
            os.rename(BACKUP_FOLDER / "files" / path, path)
        shutil.rmtree(BACKUP_FOLDER)
        message = f"error: cannot set {error.filename} aside before generating ({error.strerror}). {NOTHING_CHANGED}"
        raise SystemExit(message) from None


def main(answers, template_paths):
    problems = find_problems(answers)
    if problems:
        print_problems(problems)
        print(NOTHING_GENERATED, file=sys.stderr)
        return 1
    problems = find_tree_problems(template_paths)
    if problems:
        print_problems(problems)
        print(NOTHING_CHANGED, file=sys.stderr)
        return 1
    set_user_files_aside(template_paths)
    return 0


def forget_rendered_copy(script):
    """Delete cookiecutter's rendered copy of this hook (it holds every answer), never the template's own file."""
    if Path(script).resolve().parent == Path(tempfile.gettempdir()).resolve():
        Path(script).unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy(__file__)
    # Cookiecutter renders here, as JSON string literals, its answers and the paths the template writes
    # with them (template_extensions.template_paths).
    answers = json.loads({{cookiecutter | jsonify | tojson}})  # noqa: F821
    template_paths = json.loads({{cookiecutter | template_paths | jsonify | tojson}})  # noqa: F821
    sys.exit(main(answers, template_paths))
