"""The app's settings, read from the environment: one object, to extend with the app's own.

Each field comes from the environment variable of its name in capitals (``log_level`` from
``LOG_LEVEL``), converted to the field's type; a field without a variable keeps its default.
Add a setting by adding a field; ``.env.example`` lists them for local runs and containers.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


@dataclass(frozen=True)
class Settings:
{%- if cookiecutter.app_type == "fastapi" %}
    host: str = "127.0.0.1"
    port: int = 8000
    health_path: str = "/health"
{%- endif %}
    log_level: str = "info"
    data_dir: Path = Path("data")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Self:
        values: dict[str, Any] = {
            field.name: convert(field.name.upper(), environ[field.name.upper()], field.type)
            for field in fields(cls)
            if field.name.upper() in environ
        }
        return cls(**values)


def convert(variable: str, text: str, kind: object) -> object:
    """The environment variable's text as a value of its setting's type."""
    if kind is bool:
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            words = sorted(TRUE_WORDS | FALSE_WORDS)
            raise SettingsError(f"{variable}={text!r}: use one of {words}")
        return word in TRUE_WORDS
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{variable}={text!r}: use a whole number") from None
    if kind is Path:
        return Path(text)
    return text
