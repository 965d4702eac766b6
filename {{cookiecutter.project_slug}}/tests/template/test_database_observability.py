"""The database in metrics and traces (observability.py's observed()): the engine's pool on
/metrics while the app holds it, and each statement a span of the request that runs it, without
its values."""

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.database import create_engine_from
from {{ cookiecutter.package_name }}.models import Item
from {{ cookiecutter.package_name }}.observability import observed
from {{ cookiecutter.package_name }}.settings import Settings

from .asgi import Client

# A value given to a query: no span may show it.
PARAMETER = "parameter-value-7c1e"
# Traces on, whatever OTEL_TRACES_EXPORTER the tests run with (nothing is exported: the tests give
# the tracer provider).
TRACES_ON = {"otel_traces_exporter": "otlp"}


def pool_gauges(registry: CollectorRegistry) -> dict[str, float]:
    """The db_pool_* samples of the registry's Prometheus text, parsed by prometheus-client."""
    exposed = generate_latest(registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(exposed)
        for sample in family.samples
        if sample.name.startswith("db_pool_")
    }


def pool_gauges_in_and_after_a_query(settings: Settings) -> tuple[dict[str, float], ...]:
    """The default registry's pool gauges while the app's lifespan runs a query on a session, and
    once the session is closed."""
    with Client(create_app(settings)) as client:
        with client.state["sessions"]() as session:
            session.execute(text("SELECT 1"))
            in_query = pool_gauges(REGISTRY)
        after = pool_gauges(REGISTRY)
    return in_query, after


def test_the_pool_is_on_metrics_while_the_app_runs(database_settings: Settings) -> None:
    size = float(database_settings.database_pool_size)

    # A second app registers its pool once the first one's is gone (tests make many apps).
    for _ in range(2):
        in_query, after = pool_gauges_in_and_after_a_query(database_settings)

        assert in_query == {
            "db_pool_size": size,
            "db_pool_checked_out": 1.0,
            "db_pool_checked_in": 0.0,
            "db_pool_overflow": 0.0,
        }
        assert after == in_query | {"db_pool_checked_out": 0.0, "db_pool_checked_in": 1.0}
    assert pool_gauges(REGISTRY) == {}


def test_connections_beyond_the_pool_size_are_overflow(database_settings: Settings) -> None:
    settings = database_settings.model_copy(update={"database_pool_size": 1})
    engine = create_engine_from(settings)
    registry = CollectorRegistry()
    try:
        with observed(engine, settings, registry), engine.connect(), engine.connect():
            gauges = pool_gauges(registry)
    finally:
        engine.dispose()

    assert gauges == {
        "db_pool_size": 1.0,
        "db_pool_checked_out": 2.0,
        "db_pool_checked_in": 0.0,
        "db_pool_overflow": 1.0,
    }


@pytest.fixture
def traced_engine(
    database_settings: Settings, database_engine: Engine
) -> Iterator[tuple[Engine, Tracer, InMemorySpanExporter]]:
    """An engine observed with traces on (on the migrated schema), a tracer for the request's span,
    and the spans finished (a tracer provider of the test's own: the process's global one is set
    once, by the first)."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    settings = database_settings.model_copy(update=TRACES_ON)
    engine = create_engine_from(settings)
    try:
        with observed(engine, settings, CollectorRegistry(), provider):
            yield engine, provider.get_tracer(__name__), spans
    finally:
        engine.dispose()


def statement_spans(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.kind is SpanKind.CLIENT]


def everything_shown(spans: Sequence[ReadableSpan]) -> str:
    """What the spans would export, as text: names, attributes, events, statuses."""
    return repr(
        [
            (
                span.name,
                dict(span.attributes or {}),
                [(event.name, dict(event.attributes or {})) for event in span.events],
                span.status.description,
            )
            for span in spans
        ]
    )


def test_a_query_is_a_client_span_of_the_request_that_runs_it(
    traced_engine: tuple[Engine, Tracer, InMemorySpanExporter],
) -> None:
    engine, tracer, spans = traced_engine
    url = engine.url

    with (
        tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER) as request,
        Session(engine) as session,
    ):
        assert session.scalars(select(Item).where(Item.name == PARAMETER)).all() == []

    [query] = statement_spans(spans)
    assert query.parent is not None
    assert query.parent.span_id == request.get_span_context().span_id
    assert query.name == f"SELECT {url.database}"
    assert query.status.status_code is StatusCode.UNSET
    attributes = dict(query.attributes or {})
    statement = attributes.pop("db.statement")
    assert isinstance(statement, str)
    assert statement.startswith("SELECT items.id, items.name")
    assert "items.name = %(name_1)s" in statement
    assert attributes == {
        "db.system": "postgresql",
        "db.name": url.database,
        "db.operation": "SELECT",
        "server.address": url.host,
        "server.port": url.port or 5432,
    }
    assert PARAMETER not in everything_shown(spans.get_finished_spans())


def test_a_failed_statement_is_an_error_span_without_the_databases_message(
    traced_engine: tuple[Engine, Tracer, InMemorySpanExporter],
) -> None:
    engine, _, spans = traced_engine

    with engine.connect() as connection, pytest.raises(DataError) as raised:
        connection.execute(text("SELECT CAST(:value AS integer)"), {"value": PARAMETER})

    # PostgreSQL's message quotes the value; the span names the error's type only.
    assert PARAMETER in str(raised.value)
    [query] = statement_spans(spans)
    assert query.status.status_code is StatusCode.ERROR
    assert query.attributes is not None
    assert query.attributes["error.type"] == "InvalidTextRepresentation"
    assert PARAMETER not in everything_shown(spans.get_finished_spans())


def test_with_traces_off_statements_make_no_spans(database_settings: Settings) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    # OTEL_SDK_DISABLED wins over any OTEL_* variable of the environment the tests run in.
    settings = database_settings.model_copy(update={"otel_sdk_disabled": True})
    engine = create_engine_from(settings)
    try:
        with (
            observed(engine, settings, CollectorRegistry(), provider),
            engine.connect() as connection,
        ):
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()

    assert spans.get_finished_spans() == ()
