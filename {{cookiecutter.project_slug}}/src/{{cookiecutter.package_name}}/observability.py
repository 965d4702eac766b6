{%- set fastapi = cookiecutter.app_type == "fastapi" -%}
{%- set database = fastapi and cookiecutter.database == "postgresql" -%}
"""What every service shares for being watched: logs{% if fastapi %}, request ids, metrics and traces{% endif %}.

Logs: one JSON object per line (``LOG_FORMAT=json``, the image's default) or readable lines
(``console``, the default elsewhere), at ``LOG_LEVEL``, through the standard library's logging: log
with ``logging.getLogger(__name__)``; ``extra={...}`` fields become JSON fields.
{%- if fastapi %}
uvicorn's access and error lines go the same way (``log_config()`` is uvicorn's log_config).

The served app is wrapped in pure ASGI layers (server.py), outermost first:
``RequestIdMiddleware`` (``X-Request-ID`` in, out and on every log line), ``MetricsMiddleware``
(``GET /metrics``) and ``traced()``, which turns OpenTelemetry's traces on when the standard
``OTEL_*`` variables ask for them (FastAPI traces its requests itself).
{%- endif %}
{%- if database %}
``observed()`` puts the database's connection pool on ``/metrics`` and, with traces on, makes each
SQL statement a span of the request that runs it.
{%- endif %}
"""
{% if fastapi %}
import importlib
import importlib.util
{%- endif %}
import json
import logging
import logging.config
{%- if fastapi %}
import re
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, {% if database %}Iterator, {% endif %}MutableMapping
{%- if database %}
from contextlib import contextmanager
{%- endif %}
from contextvars import ContextVar
from dataclasses import dataclass
{%- endif %}
from datetime import UTC, datetime
from typing import{% if fastapi %} TYPE_CHECKING,{% endif %} Any{% if database %}, cast{% endif %}
{%- if fastapi %}

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
{%- if database %}
from prometheus_client.core import GaugeMetricFamily
{%- endif %}
from prometheus_client.exposition import choose_encoder
{%- if database %}
from prometheus_client.registry import Collector
{%- endif %}
{%- endif %}

from .settings import Settings
{%- if fastapi %}

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import TracerProvider
{%- if database %}
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import ExceptionContext
    from sqlalchemy.pool import QueuePool
{%- endif %}
{%- endif %}

# The attributes every LogRecord has (and uvicorn's colour copy of its messages): any other one came
# from `extra=`, and is a field of its own.
STANDARD_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
{%- if fastapi %}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
# A client's request id is kept when it is 1 to 128 of these characters, else replaced: it reaches
# log lines and response headers, where anything else could forge fields or split lines.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
METRICS_PATH = "/metrics"
# The instrumentation of the app's own httpx, when the app adds it (trace_http_client()).
HTTPX_INSTRUMENTATION = "opentelemetry.instrumentation.httpx"
# The route label of a request no route matched (a 404, or an app that names no routes): one value,
# so scanners probing random paths cannot grow the metrics without bound.
UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

# The request id of the request being served (each request runs in a task of its own).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def trace_ids() -> dict[str, str]:
    """The current span's trace and span ids; none until traced() turns tracing on."""
    return {}
{%- endif %}


def log_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one log line: timestamp, level, logger, message, context, extras, traceback."""
    fields: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage().rstrip(),
    }
{%- if fastapi %}
    if (current := request_id.get()) is not None:
        fields["request_id"] = current
    fields.update(trace_ids())
{%- endif %}
    for key, value in record.__dict__.items():
        if key not in STANDARD_RECORD_ATTRIBUTES and key not in fields:
            fields[key] = value
    return fields
{%- if fastapi %}


def access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """A uvicorn access line's client, method, path and status, as fields; none for other lines."""
    if record.name != "uvicorn.access" or not (
        isinstance(record.args, tuple) and len(record.args) == 5
    ):
        return {}
    client, method, path, _, status = record.args
    return {"client": client, "method": method, "path": path, "status": status}
{%- endif %}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback is the field `exception` of its record's line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = log_fields(record)
{%- if fastapi %}
        fields.update(access_fields(record))
{%- endif %}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return json.dumps(fields, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """A readable line for a terminal: time, level, logger, message, then the other fields."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        fields = log_fields(record)
        time_of_day = fields.pop("timestamp")[11:23]
        level, logger, message = fields.pop("level"), fields.pop("logger"), fields.pop("message")
        head = f"{time_of_day} {level:<8} {logger}: {message}"
        return " ".join([head, *(f"{key}={value}" for key, value in fields.items())])
{%- if fastapi %}


class QuietProbes(logging.Filter):
    """Keeps Prometheus's scrapes of /metrics off uvicorn's access log, and the health path's
    successful answers (Docker's HEALTHCHECK, an orchestrator's probes); a failing one (>= 400)
    stays."""

    def __init__(self, health_path: str) -> None:
        super().__init__()
        self.health_path = health_path

    def filter(self, record: logging.LogRecord) -> bool:
        fields = access_fields(record)
        path = str(fields.get("path", "")).partition("?")[0]
        if path == METRICS_PATH:
            return False
        return path != self.health_path or int(fields["status"]) >= 400
{%- endif %}


def log_config(settings: Settings) -> dict[str, Any]:
    """The logging configuration (dictConfig's schema{% if fastapi %}, uvicorn's log_config{% endif %}): every logger
    through one handler on {% if fastapi %}stdout{% else %}stderr (stdout is the commands' output){% endif %}, in LOG_FORMAT, at LOG_LEVEL."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
{%- if fastapi %}
        "filters": {"quiet_probes": {"()": QuietProbes, "health_path": settings.health_path}},
{%- endif %}
        "formatters": {"json": {"()": JsonFormatter}, "console": {"()": ConsoleFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.{% if fastapi %}stdout{% else %}stderr{% endif %}",
                "formatter": settings.log_format,
            }
        },
{%- if fastapi %}
        # uvicorn's own loggers lose their handlers and formats, and reach the root's.
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": level, "filters": ["quiet_probes"]},
        },
{%- endif %}
        "root": {"handlers": ["default"], "level": level},
    }


def configure_logging(settings: Settings) -> None:
    """Send every log record of this process through log_config(settings)."""
    logging.config.dictConfig(log_config(settings))
{%- if fastapi %}


def accepted_request_id(scope: Scope) -> str:
    """The request's X-Request-ID when it is well-formed, else a new random id."""
    for name, value in scope.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER:
            given: str = value.decode("latin-1")
            if ACCEPTED_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id: the client's X-Request-ID when acceptable, else a new one. The
    app sees it as the request's X-Request-ID header, the response carries it, and every log line
    written while the request is served has it as `request_id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        current = accepted_request_id(scope)
        header = (REQUEST_ID_HEADER, current.encode("latin-1"))
        others = [item for item in scope["headers"] if item[0].lower() != REQUEST_ID_HEADER]
        # Not reset afterwards: uvicorn logs a request's unhandled exception after the app returned,
        # in the same task, and that line must carry the id too. Each request has a task of its own.
        request_id.set(current)

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                kept = [item for item in headers if item[0].lower() != REQUEST_ID_HEADER]
                message = {**message, "headers": [*kept, header]}
            await send(message)

        await self.app({**scope, "headers": [*others, header]}, receive, send_with_request_id)


def route_template(scope: Scope) -> str | None:
    """The template of the route that served the request (`/hello/{name}`), never its path; None
    when no route matched. Starlette and FastAPI record the route in the scope."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return f"{scope.get('root_path', '')}{template}" if isinstance(template, str) else None


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    duration: Histogram
    in_flight: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> "HttpMetrics":
        labels = ["method", "route"]
        return cls(
            Counter(
                "http_requests",
                "HTTP requests answered, by method, route template and status code.",
                [*labels, "status"],
                registry=registry,
            ),
            Histogram(
                "http_request_duration_seconds",
                "Seconds from a request's arrival to its answer, by method and route template.",
                labels,
                registry=registry,
            ),
            Gauge("http_requests_in_flight", "HTTP requests being answered.", registry=registry),
        )


# One set of metrics for each registry (the default one holds the process collectors already).
_registered: weakref.WeakKeyDictionary[CollectorRegistry, HttpMetrics] = weakref.WeakKeyDictionary()


class MetricsMiddleware:
    """Counts and times each HTTP request by method, route template and status; answers
    `GET /metrics` with every metric of the registry (the process's own, the app's) in Prometheus's
    text format, or OpenMetrics when the scraper asks for it."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry = REGISTRY) -> None:
        self.app = app
        self.registry = registry
        if registry not in _registered:
            _registered[registry] = HttpMetrics.register(registry)
        self.metrics = _registered[registry]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == METRICS_PATH:
            await self.expose(scope, send)
        else:
            await self.observe(scope, receive, send)

    async def observe(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.metrics.in_flight.dec()
            route = route_template(scope) or UNMATCHED_ROUTE
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, route, str(status)).inc()

    async def expose(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD")]
            await respond(send, 405, b"text/plain", b"Method Not Allowed", allow)
            return
        accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body = encoder(self.registry) if scope["method"] == "GET" else b""
        await respond(send, 200, content_type.encode("latin-1"), body)


async def respond(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    length = str(len(body)).encode()
    start = [(b"content-type", content_type), (b"content-length", length), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def fastapi_version() -> str:
    from importlib.metadata import version

    return version("fastapi")


def fastapi_traces_itself() -> bool:
    """Whether the installed FastAPI makes its own spans (0.142 and later; an adopted app may keep
    an older one, which the template's floor allows)."""
    major, minor = (int(part) for part in fastapi_version().split(".")[:2])
    return (major, minor) >= (0, 142)


def traced(app: ASGIApp, settings: Settings, processor: "SpanProcessor | None" = None) -> ASGIApp:
    """The app as it is, unless the OTEL_* variables ask for traces: then the SDK's tracer provider
    exports them by OTLP over HTTP (or to the console: OTEL_TRACES_EXPORTER=console), log lines
    carry the trace ids, the app's httpx calls are spans once it adds their instrumentation
    (trace_http_client()), and the app's lifespan shutdown exports the spans still pending
    (uvicorn ends on SIGTERM by re-raising it, so no exit handler would run)."""
    # FastAPI traces each request itself once a tracer provider is set: a server span named by its
    # route template, and spans for its dependencies, endpoint and serialization. The SDK reads the
    # other OTEL_* variables (service name, headers, sampler, resource). A span processor given here
    # replaces the exporter the variables choose (tests give the SDK's in-memory one).
    if not settings.tracing_enabled:
        return app
    if not fastapi_traces_itself():
        logging.getLogger(__name__).warning(
            "OTEL_* ask for traces, but FastAPI %s makes no spans (0.142 or later does): no traces",
            fastapi_version(),
        )
        return app
    # Replaced once, at start-up: while tracing is off, log lines pay nothing for it.
    global trace_ids

    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from . import __distribution__, __version__

    if processor is None and settings.otel_traces_exporter == "console":
        processor = BatchSpanProcessor(ConsoleSpanExporter())
    elif processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
    service = settings.otel_service_name or __distribution__
    resource = Resource.create({SERVICE_NAME: service, SERVICE_VERSION: __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    trace_http_client(provider)

    def current_trace_ids() -> dict[str, str]:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}

    trace_ids = current_trace_ids

    async def exporting_at_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_after_export(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                provider.shutdown()
            await send(message)

        await app(scope, receive, send_after_export if scope["type"] == "lifespan" else send)

    return exporting_at_shutdown


def installed(module: str) -> bool:
    """Whether a module can be imported (found without importing it; its parent packages are)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def trace_http_client(provider: "TracerProvider") -> None:
    """The app's outgoing httpx calls (Client and AsyncClient) as client spans that send their
    traceparent, when the app installed httpx and opentelemetry-instrumentation-httpx (the
    README's "Operating the service"); with httpx alone, one line saying so."""
    # The template has no HTTP client of its own (an adopted app's httpx must resolve), so the
    # instrumentation is the app's to add; found here rather than listed, it costs nothing without.
    if not installed("httpx"):
        return
    if not installed(HTTPX_INSTRUMENTATION):
        logging.getLogger(__name__).info(
            "httpx's calls are not traced: add opentelemetry-instrumentation-httpx to trace them "
            "(README: Operating the service)"
        )
        return
    # Once a process, as the tracer provider is set: a second call warns and changes nothing.
    instrumentor = importlib.import_module(HTTPX_INSTRUMENTATION).HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
{%- if database %}


class PoolCollector(Collector):
    """The engine's connection pool, read at each scrape."""

    def __init__(self, pool: "QueuePool") -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.pool
        yield GaugeMetricFamily(
            "db_pool_size", "Connections the pool keeps (DATABASE_POOL_SIZE).", pool.size()
        )
        yield GaugeMetricFamily(
            "db_pool_checked_out", "Connections in use by a request.", pool.checkedout()
        )
        yield GaugeMetricFamily(
            "db_pool_checked_in", "Open connections waiting in the pool.", pool.checkedin()
        )
        # SQLAlchemy's count is negative while the pool has room (-size before any connection).
        yield GaugeMetricFamily(
            "db_pool_overflow",
            "Connections open beyond the pool's size (at most DATABASE_MAX_OVERFLOW).",
            max(pool.overflow(), 0),
        )


@contextmanager
def observed(
    engine: "Engine",
    settings: Settings,
    registry: CollectorRegistry = REGISTRY,
    tracer_provider: "TracerProvider | None" = None,
) -> Iterator[None]:
    """The engine's pool in the registry while the app's lifespan holds the engine (one engine a
    registry at a time: the names are the same), its statements as spans when traces are on."""
    # create_engine_from's pool_size and max_overflow make SQLAlchemy's QueuePool.
    collector = PoolCollector(cast("QueuePool", engine.pool))
    registry.register(collector)
    try:
        if settings.tracing_enabled:
            trace_statements(engine, tracer_provider)
        yield
    finally:
        registry.unregister(collector)


# Where a statement's span waits for its end: the connection's info, as a connection runs one
# statement at a time.
STATEMENT_SPAN = "observability.statement_span"


def trace_statements(engine: "Engine", tracer_provider: "TracerProvider | None" = None) -> None:
    """Make each statement the engine runs a client span (OpenTelemetry's database conventions),
    a child of the span current when it runs (in a request, FastAPI's endpoint's). The span holds
    the SQL as the driver gets it, with placeholders, and never a parameter's value, nor a
    failure's message (the database's messages quote values): only its type, as error.type."""
    # SQLAlchemy's own events, not opentelemetry-instrumentation-sqlalchemy: that package is only
    # published as 0.x pre-releases, in lockstep with the SDK, for what these three hooks do.
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from sqlalchemy import event

    tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
    url = engine.url
    # What every statement's span says of the database (a URL may name no database or host).
    described = {
        "db.system": "postgresql",
        "db.name": url.database,
        "server.address": url.host,
        # PostgreSQL's own port when the URL names none.
        "server.port": url.port or 5432,
    }
    shared = {name: value for name, value in described.items() if value is not None}

    def start(
        connection: "Connection",
        cursor: object,
        statement: str,
        parameters: object,
        context: object,
        executemany: bool,
    ) -> None:
        words = statement.split(maxsplit=1)
        operation = words[0].upper() if words else ""
        span = tracer.start_span(
            " ".join(part for part in (operation, url.database) if part) or "postgresql",
            kind=SpanKind.CLIENT,
            attributes={**shared, "db.operation": operation, "db.statement": statement},
        )
        connection.info[STATEMENT_SPAN] = span

    def end(connection: "Connection", *_: object) -> None:
        if (span := connection.info.pop(STATEMENT_SPAN, None)) is not None:
            span.end()

    def fail(context: "ExceptionContext") -> None:
        if context.connection is None:
            return
        if (span := context.connection.info.pop(STATEMENT_SPAN, None)) is not None:
            span.set_attribute("error.type", type(context.original_exception).__qualname__)
            span.set_status(Status(StatusCode.ERROR))
            span.end()

    event.listen(engine, "before_cursor_execute", start)
    event.listen(engine, "after_cursor_execute", end)
    event.listen(engine, "handle_error", fail)
{%- endif %}
{%- endif %}
