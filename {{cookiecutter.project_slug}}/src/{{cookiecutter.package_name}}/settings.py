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
{%- if cookiecutter.database == "postgresql" %}
# The schemes DATABASE_URL takes (platforms hand out the first two), and the one SQLAlchemy gets.
DATABASE_URL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
DATABASE_DRIVER = "postgresql+psycopg"
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
{%- if cookiecutter.database == "postgresql" %}

    # The database (database.py). Its URL as platforms hand it out (postgresql://, postgres://; the
    # driver, psycopg 3, is chosen here), from DATABASE_URL or the file /run/secrets/database_url.
    # Without it the app starts and answers /health; /ready and the database routes answer 503.
    database_url: SecretStr | None = None
    # Connections each process keeps open, and the extra ones it may open under load.
    database_pool_size: Annotated[int, Field(ge=1)] = 5
    database_max_overflow: Annotated[int, Field(ge=0)] = 10
    # Seconds a request waits for a free connection, and for the server to accept a new one.
    database_pool_timeout: Seconds = 30
    database_connect_timeout: Annotated[int, Field(ge=1)] = 5
{%- endif %}

    # Observability (observability.py, docs/observability.md). Log lines as JSON objects (the
    # image's ENV) or as readable text (the default, for a terminal).
    log_format: Literal["json", "console"] = "console"
{%- if cookiecutter.app_type == "fastapi" %}
    # OpenTelemetry's standard variables that decide whether traces are on: off unless an OTLP
    # endpoint or an exporter is named, and OTEL_SDK_DISABLED wins. The SDK reads the others itself.
    otel_sdk_disabled: bool = False
    otel_traces_exporter: Literal["otlp", "console", "none"] | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    # The exporter installed speaks OTLP over HTTP (gRPC: opentelemetry-exporter-otlp-proto-grpc).
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = "http/protobuf"
    otel_exporter_otlp_traces_protocol: Literal["http/protobuf"] = "http/protobuf"
    # The service's name in traces; the distribution's name by default.
    otel_service_name: str | None = None
{%- endif %}

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
{%- if cookiecutter.database == "postgresql" %}

    @field_validator("database_url")
    @classmethod
    def database_url_for_psycopg(cls, value: SecretStr | None) -> SecretStr | None:
        """The URL with the driver named: postgresql:// and postgres:// become postgresql+psycopg://."""
        if value is None:
            return None
        scheme, separator, rest = value.get_secret_value().strip().partition("://")
        if not separator or scheme.lower() not in DATABASE_URL_SCHEMES:
            # The value is a secret: the message never repeats it, not even its scheme.
            raise ValueError("must be a postgresql:// URL (postgresql://USER:PASSWORD@HOST/NAME)")
        return SecretStr(f"{DATABASE_DRIVER}://{rest}")
{%- endif %}
{%- if cookiecutter.app_type == "fastapi" %}

    @property
    def tracing_enabled(self) -> bool:
        if self.otel_sdk_disabled or self.otel_traces_exporter == "none":
            return False
        return bool(
            self.otel_traces_exporter
            or self.otel_exporter_otlp_endpoint
            or self.otel_exporter_otlp_traces_endpoint
        )
{%- endif %}
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
