"""Validate the answers before cookiecutter writes any file of the project.

Every problem is reported at once, each naming its field and the fix; then the hook exits 1 and
cookiecutter removes the (still empty) project directory it created.
"""

import json
import keyword
import re
import sys
from urllib.parse import urlsplit

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# PEP 440 public versions: release, optional pre/post/dev segments.
VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
IMAGE_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
POETRY_2_RELEASE = re.compile(r"^2\.\d+\.\d+$")


def validate_single_line(field, value):
    if not value.strip():
        return f"{field} is empty: give it a value."
    if CONTROL_CHARACTERS.search(value):
        return f"{field} holds a line break or control character: write it on one line."
    return None


def validate_slug(slug):
    if not SLUG.match(slug):
        return (
            f"project_slug {slug!r} is not a valid distribution name: use lowercase letters, digits and "
            "single hyphens, starting with a letter (for example 'my-service')."
        )
    return None


def validate_package_name(name):
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
    return None


def validate_email(email):
    if not EMAIL.match(email):
        return f"author_email {email!r} is not an email address: use the form 'name@example.com'."
    return None


def validate_version(version):
    if not VERSION.match(version):
        return f"version {version!r} is not a PEP 440 version: use the form '0.1.0'."
    return None


def validate_poetry_version(version):
    if not POETRY_2_RELEASE.match(version):
        return f"poetry_version {version!r} is not a Poetry 2 release: use the form '2.5.1'."
    return None


def validate_url(field, url, *, required):
    if not url and not required:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        example = "https://pypi.example.com/simple/" if field == "package_index_url" else "https://github.com/org/repo"
        hint = " or leave it empty for PyPI" if not required else ""
        return f"{field} {url!r} is not an http(s) URL: use the form '{example}'{hint}."
    return None


def validate_docker_base_image(image):
    if not IMAGE_REFERENCE.match(image):
        return (
            f"docker_base_image {image!r} is not an image reference: use the form "
            "'python:3.13-slim-trixie' or 'registry.example.com/python:3.13-slim-trixie'."
        )
    return None


def find_problems(answers):
    """Return one message per invalid answer, in the order of the questions."""
    problems = [
        validate_single_line("project_name", answers["project_name"]),
        validate_slug(answers["project_slug"]),
        validate_package_name(answers["package_name"]),
        validate_single_line("description", answers["description"]),
        validate_single_line("author_name", answers["author_name"]),
        validate_email(answers["author_email"]),
        validate_version(answers["version"]),
        validate_poetry_version(answers["poetry_version"]),
        validate_url("repository_url", answers["repository_url"], required=True),
        validate_url("package_index_url", answers["package_index_url"], required=False),
        validate_docker_base_image(answers["docker_base_image"]),
    ]
    return [problem for problem in problems if problem]


def main(answers):
    problems = find_problems(answers)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("Nothing was generated. Run cookiecutter again with these answers fixed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Cookiecutter renders its answers here as a JSON string literal.
    sys.exit(main(json.loads({{cookiecutter | jsonify | tojson}})))  # noqa: F821
