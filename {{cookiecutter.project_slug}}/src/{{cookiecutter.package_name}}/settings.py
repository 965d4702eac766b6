"""The app's settings, read from the environment once: one object, to extend with the app's own.

Each field comes from the environment variable of its name in capitals (``log_level`` from
``LOG_LEVEL``), validated and converted to the field's type by pydantic-settings; a field without
a variable keeps its default. A secret also arrives as a file: Docker and Kubernetes mount secrets
in ``/run/secrets``, and a field reads ``/run/secrets/<its name>`` when there is no variable.
Add a setting by adding a field (a secret as ``SecretStr``, which never prints its value), and a
line to ``.env.example``.
"""

import functools
import typing
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, Secret, SecretBytes, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where Docker (compose, swarm) and Kubernetes (a volume of a Secret) put secrets, one file each.
SECRETS_DIR = Path("/run/secrets")
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
Seconds = Annotated[float, Field(gt=0)]
{%- if cookiecutter.app_type == "fastapi" %}
# module:attribute, as uvicorn names an app (dotted names on both sides).
AppReference = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")]
{%- endif %}


class SettingsError(ValueError):
    """The environment holds values the settings cannot take; the message names each variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None
    )
{%- if cookiecutter.app_type == "fastapi" %}

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    health_path: str = "/health"
    # /docs, /redoc and /openapi.json: on locally, off in the image (its ENV), which others reach.
    api_docs: bool = True
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated IPs or
    # networks, "*" for any): the client's address and scheme then come from them. Behind a load
    # balancer, set its address (or network); facing the clients, keep the loopback addresses, or
    # set it empty to trust none.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # A client must send a request's head within this time, or the connection is closed (a
    # half-sent request would hold it, and a file descriptor, forever).
    header_timeout: Seconds = 10
    # An idle keep-alive connection is closed after this time. Behind a load balancer that reuses
    # connections, make it longer than the balancer's idle timeout (AWS ALB: 60 s, so 65).
    keep_alive_timeout: Annotated[int, Field(ge=1)] = 5
    # The ASGI app the server runs, as module:attribute: this package's by default; an adopted
    # app's own (acme.main:app) once its package is under src/ (see "Adopting an existing
    # service"). The health route answers whichever app it is.
    asgi_app: AppReference = f"{__package__}.app:app"
{%- endif %}
    log_level: LogLevel = "info"
    data_dir: Path = Path("data")

    @field_validator("log_level", mode="before")
    @classmethod
    def lowercase_log_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
{%- if cookiecutter.app_type == "fastapi" %}

    @field_validator("health_path")
    @classmethod
    def health_path_is_a_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value
{%- endif %}

    @classmethod
    def from_environment(cls) -> Self:
        """The settings from this environment, or a SettingsError naming each wrong variable."""
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(describe(error, cls)) from None


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_environment()


def describe(error: ValidationError, settings: type[BaseSettings]) -> str:
    """One line per wrong value, naming its variable; a secret's value is never shown."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        variable = field.upper()
        info = settings.model_fields.get(field)
        shown = "" if info is None or is_secret(info.annotation) else f"={problem['input']!r}"
        lines.append(f"{variable}{shown}: {problem['msg']}")
    return "invalid settings: " + "; ".join(lines)


def is_secret(annotation: object) -> bool:
    """Whether a field's type is, or holds, one of pydantic's secret types."""
    if isinstance(annotation, type) and issubclass(annotation, (Secret, SecretStr, SecretBytes)):
        return True
    origin = typing.get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, Secret):
        return True
    return any(is_secret(argument) for argument in typing.get_args(annotation))
