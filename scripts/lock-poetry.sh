#!/bin/sh
# Refresh {{cookiecutter.project_slug}}/poetry-requirements.txt, the hashed Poetry that generated CI (and
# this repository's CI) installs, after changing poetry_version in cookiecutter.json: bakes the default
# project on the lowest Python the template offers and runs its own scripts/lock-poetry.py.
# usage: scripts/lock-poetry.sh   (poetry run poe lock-poetry)
set -eu
cd "$(dirname "$0")/.."
lowest="$(python -c 'import json; versions = json.load(open("cookiecutter.json"))["python_version"]; print(min(versions, key=lambda v: tuple(map(int, v.split(".")))))')"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cookiecutter . --no-input --output-dir "$workdir" python_version="$lowest" \
    lock_dependencies=no validate_build=none init_git=no >/dev/null
python "$workdir/my-service/scripts/lock-poetry.py" "$workdir/my-service"
cp "$workdir/my-service/poetry-requirements.txt" "{{cookiecutter.project_slug}}/poetry-requirements.txt"
