{%- set fastapi = cookiecutter.app_type == "fastapi" -%}
"""Logs{% if fastapi %}, request ids, metrics and traces{% endif %} (observability.py)."""

import io
import json
import logging
{%- if fastapi %}
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Literal

import pytest
from fastapi import FastAPI, Header
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }} import observability
from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.observability import (
    MetricsMiddleware,
    RequestIdMiddleware,
    configure_logging,
    fastapi_traces_itself,
    installed,
    trace_http_client,
    traced,
)
{%- else %}
import re
import sys
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import cli
from {{ cookiecutter.package_name }}.observability import configure_logging
{%- endif %}
{%- if fastapi %}
from {{ cookiecutter.package_name }}.server import HealthRoute
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError{% if not fastapi %}, get_settings{% endif %}
{%- if fastapi %}

from .asgi import Client, free_port
{%- endif %}

LINE_FIELDS = {"timestamp", "level", "logger", "message"}
{%- if fastapi %}
# The logger of app.py's own lines.
APP_LOGGER = "{{ cookiecutter.package_name }}.app"
GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
# A W3C traceparent header, as a caller that traces sends it: its trace id and its span's.
CALLERS_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# An adopted app may keep a FastAPI older than 0.142, which makes no spans (docs/adopting.md).
MAKES_SPANS = pytest.mark.skipif(
    not fastapi_traces_itself(), reason="this FastAPI is older than 0.142: no spans of its own"
)
{%- endif %}


def configure_logging_into(stream: io.StringIO, log_format: Literal["json", "console"]) -> None:
    """Logging as the app configures it, its one handler writing into this stream."""
    configure_logging(Settings(log_format=log_format))
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.{% if fastapi %}stdout{% else %}stderr{% endif %}
    handler.setStream(stream)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[str]]]:
    """Logging configured with LOG_FORMAT=json; returns the lines written so far."""
    stream = io.StringIO()
    configure_logging_into(stream, "json")
    yield lambda: stream.getvalue().splitlines()
    logging.getLogger().handlers.clear()


def test_a_log_line_is_one_json_object_with_its_fields(log_lines: Callable[[], list[str]]) -> None:
    logging.getLogger("orders").info("order %s paid", 42, extra={"order_id": 42})

    [line] = log_lines()
    record = json.loads(line)

    assert set(record) >= LINE_FIELDS
    assert record["level"] == "INFO"
    assert record["logger"] == "orders"
    assert record["message"] == "order 42 paid"
    assert record["order_id"] == 42
    assert record["timestamp"].endswith("+00:00")


def test_an_exception_is_one_record_with_its_traceback(log_lines: Callable[[], list[str]]) -> None:
    try:
        raise ValueError("no such order")
    except ValueError:
        logging.getLogger("orders").exception("lookup failed")

    [line] = log_lines()
    record = json.loads(line)

    assert record["message"] == "lookup failed"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: no such order" in record["exception"]


def test_console_lines_are_for_people() -> None:
    stream = io.StringIO()
    configure_logging_into(stream, "console")
    try:
        logging.getLogger("orders").warning("stock low", extra={"sku": "A1"})
    finally:
        logging.getLogger().handlers.clear()

    line = stream.getvalue()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} WARNING  orders: stock low sku=A1\n", line)


def test_a_wrong_log_format_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")

    with pytest.raises(SettingsError, match=r"^invalid settings: LOG_FORMAT='xml': Input should"):
        Settings.from_environment()
{%- if not fastapi %}


def test_the_command_line_logs_in_the_same_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()

    @cli.command()
    def noisy() -> None:
        logging.getLogger("{{ cookiecutter.package_name }}").warning("careful")

    try:
        result = CliRunner().invoke(cli, ["noisy"])
    finally:
        cli.commands.pop("noisy")
        logging.getLogger().handlers.clear()
        get_settings.cache_clear()

    assert result.exit_code == 0
    assert json.loads(result.stderr)["message"] == "careful"
    assert result.stdout == ""
{%- else %}


def served(registry: CollectorRegistry) -> Client:
    """The example app inside server.py's layers, with metrics in a registry of its own."""
    settings = Settings()
    app = HealthRoute(create_app(settings), settings.health_path)
    return Client(RequestIdMiddleware(MetricsMiddleware(app, registry)))


def app_records(lines: list[str]) -> list[dict[str, object]]:
    """The app's own log records (not the test client's)."""
    records = [json.loads(line) for line in lines]
    return [record for record in records if record["logger"] == APP_LOGGER]


def samples(client: Client, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric /metrics shows, by their labels (parsed by prometheus-client)."""
    text = client.get("/metrics").body.decode()
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_given_request_id_comes_back_and_is_on_the_requests_log_lines(
    log_lines: Callable[[], list[str]],
) -> None:
    client = served(CollectorRegistry())

    response = client.get("/hello/Ada", headers={"X-Request-ID": "checkout-7f3a"})

    assert response.headers["x-request-id"] == "checkout-7f3a"
    [record] = app_records(log_lines())
    assert record | {"timestamp": None} == {
        "timestamp": None,
        "level": "INFO",
        "logger": "{{ cookiecutter.package_name }}.app",
        "message": "greeting Ada",
        "request_id": "checkout-7f3a",
    }


@pytest.mark.parametrize(
    "given", [None, b"", b"two words", b'quote"d', b"x" * 129, "ünïcode".encode(), b'{"a":1}']
)
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(given: bytes | None) -> None:
    client = served(CollectorRegistry())
    headers = {} if given is None else {"X-Request-ID": given}

    first = client.get("/health", headers=headers).headers["x-request-id"]
    second = client.get("/health", headers=headers).headers["x-request-id"]

    assert GENERATED_REQUEST_ID.fullmatch(first)
    assert first != second


def test_the_app_sees_the_request_id_it_answers_with() -> None:
    app = FastAPI()

    @app.get("/seen")
    def seen(x_request_id: Annotated[str, Header()]) -> str:
        return x_request_id

    response = Client(RequestIdMiddleware(app)).get("/seen", headers={"X-Request-ID": "a b"})

    assert response.json() == response.headers["x-request-id"]
    assert GENERATED_REQUEST_ID.fullmatch(response.json())


def test_metrics_count_requests_by_route_template(log_lines: Callable[[], list[str]]) -> None:
    client = served(CollectorRegistry())

    for name in ("Ada", "Grace", "Linus"):
        client.get(f"/hello/{name}")
    client.get("/health")

    counts = samples(client, "http_requests_total")

    assert counts == {
        (("method", "GET"), ("route", "/hello/{name}"), ("status", "200")): 3.0,
        (("method", "GET"), ("route", "/health"), ("status", "200")): 1.0,
    }
    durations = samples(client, "http_request_duration_seconds_count")
    assert durations[(("method", "GET"), ("route", "/hello/{name}"))] == 3.0


def test_unmatched_paths_and_odd_methods_share_one_label_each() -> None:
    client = served(CollectorRegistry())

    for number in range(50):
        client.get(f"/probe/{number}")
        client.request("BREW", f"/pot/{number}")

    counts = samples(client, "http_requests_total")

    assert counts == {
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")): 50.0,
        (("method", "other"), ("route", "<unmatched>"), ("status", "404")): 50.0,
    }


def test_metrics_show_the_process_and_requests_in_flight() -> None:
    client = Client(RequestIdMiddleware(MetricsMiddleware(create_app(Settings()))))

    response = client.get("/metrics")
    names = {family.name for family in text_string_to_metric_families(response.body.decode())}

    assert response.headers["content-type"].startswith("text/plain; version=")
    assert {"python_info", "python_gc_objects_collected", "http_requests_in_flight"} <= names
    # The process collector reads /proc: Linux (the image) only.
    assert "process_cpu_seconds" in names or sys.platform != "linux"
    assert client.post("/metrics").status == 405


@MAKES_SPANS
def test_a_request_is_a_span_named_by_its_route_and_its_log_lines_carry_the_trace(
    log_lines: Callable[[], list[str]],
) -> None:
    spans = InMemorySpanExporter()
    settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")
    app = traced(create_app(settings), settings, SimpleSpanProcessor(spans))
    client = Client(RequestIdMiddleware(MetricsMiddleware(app, CollectorRegistry())))

    client.get("/hello/Ada", headers={"X-Request-ID": "traced-1", "traceparent": CALLERS_TRACE})

    [span] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert span.name == "GET /hello/{name}"
    assert span.context is not None
    assert span.parent is not None
    assert f"00-{span.context.trace_id:032x}-{span.parent.span_id:016x}-01" == CALLERS_TRACE
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/hello/{name}"
    [record] = app_records(log_lines())
    assert record["request_id"] == "traced-1"
    assert record["trace_id"] == f"{span.context.trace_id:032x}"
    # The line was written inside the endpoint's own span, a child of the request's.
    finished = spans.get_finished_spans()
    assert record["span_id"] in {f"{one.context.span_id:016x}" for one in finished if one.context}


def test_httpx_without_its_instrumentation_is_one_line_saying_how_to_trace_its_calls(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Whether a module is there, asked without importing it; a missing parent package is "no".
    assert installed("json")
    assert not installed("no_such_package.instrumentation")
    messages = []
    for there in ({"httpx"}, set()):
        monkeypatch.setattr(observability, "installed", there.__contains__)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=observability.__name__):
            trace_http_client(TracerProvider())
        messages.append([record.getMessage() for record in caplog.records])

    assert messages == [
        [
            "httpx's calls are not traced: add opentelemetry-instrumentation-httpx to trace them "
            "(README: Operating the service)"
        ],
        [],
    ]


# The template's own app, whatever ASGI_APP an adopted project serves (whose imports are its own).
TEMPLATE_APP = "{{ cookiecutter.package_name }}.app:app"


def template_app_environment() -> dict[str, str]:
    """This environment without OTEL_* variables, serving the template's own app."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    environment["ASGI_APP"] = TEMPLATE_APP
    return environment


def test_without_otel_variables_the_sdk_and_exporter_are_not_even_imported() -> None:
    code = (
        "import sys\n"
        "from {{ cookiecutter.package_name }}.server import service_app\n"
        "service_app()\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.instrumentation',\n"
        "    'google.protobuf', 'requests')\n"
        "print(sorted(name for name in sys.modules if name.startswith(heavy)))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        env=template_app_environment(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "[]\n"


def get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


class Served:
    """`python -m <package>` on a free port, logging JSON; its stdout once stopped."""

    def __init__(self, **env: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        environment = {
            **template_app_environment(),
            "PORT": str(port),
            "LOG_FORMAT": "json",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}"],
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 15
        while get_or_none(f"{self.url}/health") != 200:
            assert time.monotonic() < deadline, "the server did not answer /health within 15 s"
            time.sleep(0.1)

    def stop(self) -> list[str]:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        return out.splitlines()


def get_or_none(url: str) -> int | None:
    try:
        return get(url)
    except OSError:
        return None


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def _serve(**env: str) -> Served:
        started.append(Served(**env))
        return started[-1]

    yield _serve
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


def test_scrapes_and_passing_health_checks_stay_off_the_access_log_and_failures_stay_on() -> None:
    access = logging.getLogger("uvicorn.access")
    # dictConfig adds a logger's filters to those it has: the other tests' configurations' go first.
    access.filters.clear()
    configure_logging(Settings(log_format="json", health_path="/livez"))
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    try:
        for path, status in [
            ("/livez", 200),
            ("/livez?probe=1", 204),
            ("/livez", 307),
            ("/metrics", 200),
            ("/livez", 503),
            ("/livez", 404),
            ("/health", 200),
            ("/hello/Ada", 200),
        ]:
            # uvicorn's access line: client, method, path (with its query), HTTP version, status.
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", status)
    finally:
        logging.getLogger().handlers.clear()
        access.filters.clear()

    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    logged = [(record["path"], record["status"]) for record in records]
    assert logged == [("/livez", 503), ("/livez", 404), ("/health", 200), ("/hello/Ada", 200)]


def test_the_server_writes_only_json_lines_with_request_ids_and_no_probes(
    serve: Callable[..., Served],
) -> None:
    server = serve()

    assert get(f"{server.url}/hello/Ada", **{"X-Request-ID": "live-1"}) == 200
    assert get(f"{server.url}/no/such/page") == 404
    assert get(f"{server.url}/metrics") == 200
    assert get(f"{server.url}/health") == 200
    records = [json.loads(line) for line in server.stop()]

    assert all(set(record) >= LINE_FIELDS for record in records)
    access = {record["path"]: record for record in records if record["logger"] == "uvicorn.access"}
    # The scrape and the health checks (the test's own while the server started, then one) left
    # no line.
    assert set(access) == {"/hello/Ada", "/no/such/page"}
    assert access["/hello/Ada"]["request_id"] == "live-1"
    assert access["/no/such/page"]["status"] == 404
    greeting = [record for record in records if record["message"] == "greeting Ada"]
    assert [record["request_id"] for record in greeting] == ["live-1"]


class OtlpReceiver(BaseHTTPRequestHandler):
    """Takes OTLP/HTTP trace exports (protobuf) as a collector does, keeping what it received."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf":
            self.received.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Receiver", (OtlpReceiver,), {"received": received})
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as receiver:
        thread = threading.Thread(target=receiver.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{receiver.server_address[1]}", received
        receiver.shutdown()


@MAKES_SPANS
def test_traces_reach_an_otlp_endpoint_named_by_the_standard_variable(
    serve: Callable[..., Served], otlp_receiver: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    endpoint, received = otlp_receiver
    server = serve(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="checkout")

    assert get(f"{server.url}/hello/Ada", **{"X-Request-ID": "traced-2"}) == 200
    records = [json.loads(line) for line in server.stop()]

    spans = {
        span.name: (resource.resource, span)
        for export in received
        for resource in export.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert "GET /hello/{name}" in spans
    resource, span = spans["GET /hello/{name}"]
    attributes = {item.key: item.value.string_value for item in resource.attributes}
    assert attributes["service.name"] == "checkout"
    [greeting] = [record for record in records if record["message"] == "greeting Ada"]
    assert greeting["trace_id"] == span.trace_id.hex()
    assert greeting["request_id"] == "traced-2"
{%- endif %}
