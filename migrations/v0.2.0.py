"""0.2.0: docker_base_image follows python_version when it is empty.

A project recorded before 0.2.0 holds the rendered default (python:3.12-slim-trixie for python_version
3.12), which would then stay on 3.12 when python_version moves: such an answer becomes empty again.
An image the team chose (a mirror, another tag) stays. copier runs this before it renders the new
release (copier.yml: _migrations), in the project's folder; so does scripts/move-to-copier.py.
"""

from pathlib import Path

import yaml

ANSWERS_FILE = Path(".copier-answers.yml")
RENDERED_DEFAULT = "python:{python_version}-slim-trixie"


def main():
    text = ANSWERS_FILE.read_text(encoding="utf-8")
    answers = yaml.safe_load(text)
    if answers.get("docker_base_image") != RENDERED_DEFAULT.format(python_version=answers.get("python_version")):
        return
    answers["docker_base_image"] = ""
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    dumped = yaml.safe_dump(answers, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 30)
    ANSWERS_FILE.write_text(header + dumped, encoding="utf-8")
    print(f"migration 0.2.0: {ANSWERS_FILE}: docker_base_image now follows python_version (empty)")


if __name__ == "__main__":
    main()
