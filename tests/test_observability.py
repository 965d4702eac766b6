"""Traces that cross services: the generated README's step for tracing the app's outgoing httpx calls,
taken as a user takes it on a locked bake, then a request whose endpoint calls a server on 127.0.0.1."""

import re
import shlex

import pytest

from template_harness import HOST_PYTHON, TEMPLATE_DIR, bake_locked, run_checked, tool_environment

pytestmark = pytest.mark.slow

# The README's step ("Operating the service"): the two packages, then the lock and the image's requirements.
HTTPX_STEP = re.compile(r'`(poetry add httpx "opentelemetry-instrumentation-httpx>=[^"`]+")`,\s+then\s+`([^`]+)`')

# The user's own test (tests/, beside the template's tests/template/): an app whose endpoints call
# another service with httpx's Client and AsyncClient, traced into the SDK's in-memory exporter.
USERS_TEST = '''\
"""Calls to another service join the request's trace."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from my_service.observability import traced
from my_service.settings import Settings
from template.asgi import Client


class Upstream(BaseHTTPRequestHandler):
    """Another service: answers each GET, keeping the traceparent header it came with."""

    received: dict[str, str | None]

    def do_GET(self) -> None:
        self.received[self.path] = self.headers.get("traceparent")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[tuple[str, dict[str, str | None]]]:
    received: dict[str, str | None] = {}
    handler = type("Handler", (Upstream,), {"received": received})
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}", received
        server.shutdown()


def calling(upstream: str) -> FastAPI:
    app = FastAPI()

    @app.get("/sync")
    def sync_call() -> int:
        with httpx.Client() as client:
            return client.get(f"{upstream}/from-sync").status_code

    @app.get("/async")
    async def async_call() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{upstream}/from-async")).status_code

    return app


def ids(span: ReadableSpan) -> tuple[int, int]:
    """The span's trace id and its own id."""
    assert span.context is not None
    return span.context.trace_id, span.context.span_id


def test_calls_are_client_spans_in_the_request_and_send_its_traceparent(
    upstream: tuple[str, dict[str, str | None]],
) -> None:
    url, received = upstream
    spans = InMemorySpanExporter()
    settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")
    client = Client(traced(calling(url), settings, SimpleSpanProcessor(spans)))

    assert client.get("/sync").json() == 204
    assert client.get("/async").json() == 204

    finished = spans.get_finished_spans()
    by_id = {ids(span)[1]: span for span in finished}
    for route in ("sync", "async"):
        [server] = [s for s in finished if s.kind is SpanKind.SERVER and s.name == f"GET /{route}"]
        trace_id = ids(server)[0]
        [call] = [s for s in finished if s.kind is SpanKind.CLIENT and ids(s)[0] == trace_id]
        # Its parents up to the trace's root, the request's span (FastAPI's endpoint span between).
        parents: list[ReadableSpan] = []
        parent = call.parent
        while parent is not None:
            parents.append(by_id[parent.span_id])
            parent = parents[-1].parent
        assert parents[-1:] == [server], [one.name for one in parents]
        # version-trace id-parent id-flags: the call's trace, and the call's span as the parent.
        sent = str(received[f"/from-{route}"]).split("-")
        assert sent[1:3] == [f"{trace_id:032x}", f"{ids(call)[1]:016x}"], sent
'''


def test_outgoing_httpx_calls_join_the_trace_after_the_readmes_step(tmp_path, poetry):
    project, _ = bake_locked(tmp_path, app_type="fastapi", python_version=HOST_PYTHON)
    readme = (project / "README.md").read_text(encoding="utf-8")
    step = HTTPX_STEP.search(readme)
    assert step, "the README's Operating the service gives no step for tracing httpx's calls"
    assert step[1] in (TEMPLATE_DIR / "docs" / "observability.md").read_text(encoding="utf-8")
    run_checked([poetry, "install"], cwd=project)

    for command in step.groups():
        run_checked([poetry, *shlex.split(command)[1:]], cwd=project)

    # The project's own gate stays green with both installed (the SDK still not imported while
    # tracing is off, the lock and the image's requirements current, mypy over observability.py).
    run_checked([poetry, "run", "poe", "check"], cwd=project, env=tool_environment(CI="true"))
    (project / "tests" / "test_calls.py").write_text(USERS_TEST, encoding="utf-8")
    for tool in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
        run_checked([poetry, "run", *tool], cwd=project)
    # A process of its own: the tracer provider is set once a process, and tests/template's traced
    # test sets one.
    tested = run_checked([poetry, "run", "pytest", "tests/test_calls.py", "-p", "no:cacheprovider"], cwd=project)
    assert "1 passed" in tested.stdout, tested.stdout
