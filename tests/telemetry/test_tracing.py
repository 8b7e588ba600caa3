"""Traces: a server span per request with a child span per statement, continuing the
caller's W3C trace, and the trace id in the request's JSON log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from benefitgate.app import create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.logs import JsonFormatter
from benefitgate.telemetry import tracing
from tests.conftest import api_key
from tests.fixtures import factories
from tests.fixtures.live import serve_in_process

ACCOUNT = "query Account($id: ID!) { account(id: $id) { __typename } }"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"  # the W3C trace context specification's example


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """The access log's lines, formatted as in production."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("benefitgate.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)  # not `.level =`: setLevel clears the enabled-for cache
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_a_request_span_holds_its_statements_and_its_log_line_names_the_trace(
    dsn: str,
    conn: asyncpg.Connection,
    settings: Settings,
    clock: FixedClock,
    access_log: io.StringIO,
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, dsn, clock=clock, tracer_provider=provider)
    async with serve_in_process(app) as port, httpx.AsyncClient() as http:
        exporter.clear()  # start-up statements (migrations, the listener) are not this request's
        response = await http.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": ACCOUNT, "variables": {"id": str(account)}},
            headers={
                "authorization": f"Bearer {key}",
                "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            },
        )
        assert response.json()["data"]["account"]["__typename"] == "Account"
    spans = exporter.get_finished_spans()

    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes.get("http.request.method", server.attributes.get("http.method")) == (
        "POST"
    )
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace goes on
    statements = [s for s in spans if _is_statement(s) and s.parent is not None]
    mine = [
        s for s in statements if s.parent is not None and s.parent.span_id == server.context.span_id
    ]
    assert mine, [(s.name, s.parent) for s in spans]
    assert all(s.context.trace_id == server.context.trace_id for s in mine)
    assert all(s.kind is SpanKind.CLIENT for s in mine)
    lines = [orjson.loads(line) for line in access_log.getvalue().splitlines()]
    [line] = [x for x in lines if x["message"].startswith("POST /graphql")]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == format(server.context.span_id, "016x")


def _is_statement(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return attributes.get("db.system", attributes.get("db.system.name")) == "postgresql"


async def test_without_tracing_no_span_is_made_and_the_log_has_no_trace_id(
    dsn: str, settings: Settings, clock: FixedClock, access_log: io.StringIO
) -> None:
    app = create_app(replace(settings, dev_mode=True), dsn, clock=clock)
    async with serve_in_process(app) as port, httpx.AsyncClient() as http:
        await http.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ tiers { key } }"})
    [line] = [orjson.loads(x) for x in access_log.getvalue().splitlines()]
    assert "trace_id" not in line and "request_id" in line


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_the_standard_variables_turn_tracing_on(env: dict[str, str], on: bool) -> None:
    assert tracing.enabled(env) is on
    provider = tracing.provider_from_env(env)
    assert (provider is not None) is on
    if provider is not None:
        provider.shutdown()


def test_an_unknown_exporter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        tracing.provider_from_env({"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_SERVICE_NAME": "x"})


def test_the_service_name_comes_from_the_environment() -> None:
    provider = tracing.provider_from_env(
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "bg-eu"}
    )
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "bg-eu"
    provider.shutdown()
