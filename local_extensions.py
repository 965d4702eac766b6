"""Jinja filters that escape user text for each file format the template writes.

Cookiecutter imports this module from the template root (``_extensions`` in cookiecutter.json).
It runs in whatever Python runs cookiecutter, so it uses the standard library only.
"""

import json
import re

from jinja2.ext import Extension

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# Characters that CommonMark (with GitHub's tables and strikethrough) can turn into markup anywhere,
# and the line starts that open a block (list item, quote, heading, setext underline).
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&|~#!])")
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)(\d+(?=[.)])|[-+=>])")


def toml_string(text: str) -> str:
    """Quote text as a TOML basic string."""
    escaped = "".join(
        _TOML_ESCAPES.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in str(text)
    )
    return f'"{escaped}"'


def yaml_string(text: str) -> str:
    """Quote text as a YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(text), ensure_ascii=False)


def markdown_text(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, so the text renders as typed."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", str(text))
    return _MARKDOWN_BLOCK_START.sub(lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), escaped)


def dockerfile_string(text: str) -> str:
    """Quote text as a double-quoted Dockerfile word, with no variable expansion."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


class EscapeExtension(Extension):
    """Registers the filters: toml_string, yaml_string, markdown_text, dockerfile_string."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(
            toml_string=toml_string,
            yaml_string=yaml_string,
            markdown_text=markdown_text,
            dockerfile_string=dockerfile_string,
        )
