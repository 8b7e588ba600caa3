"""OpenTelemetry traces: a span per HTTP request (the ASGI instrumentation) with a child
span per statement (the asyncpg instrumentation), exported where the standard `OTEL_*`
variables say.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an
OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
and `OTEL_SDK_DISABLED` is not `true`. Everything else the SDK reads itself: the service
name and resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), the sampler
(`OTEL_TRACES_SAMPLER`, `_ARG`), the exporter's endpoint, headers and timeouts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from starlette.types import ASGIApp

__all__ = ["TracingMiddleware", "enabled", "instrument_asyncpg", "provider_from_env"]

# Probes and scrapes would be most of the spans and say nothing.
_UNTRACED = "healthz,readyz,metrics"


def enabled(env: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for traces."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER")
    if exporter is not None:
        return exporter.strip().lower() not in ("", "none")
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r} (otlp, console)")


def provider_from_env(env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A tracer provider exporting in batches, or None when tracing is off."""
    env = os.environ if env is None else env
    if not enabled(env):
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "benefitgate")})
    )
    names = env.get("OTEL_TRACES_EXPORTER", "otlp")
    for name in {n.strip().lower() for n in names.split(",") if n.strip()}:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


class TracingMiddleware(OpenTelemetryMiddleware):
    """A server span per request and WebSocket connection; a caller's W3C `traceparent`
    header continues its trace."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        super().__init__(
            app,
            excluded_urls=_UNTRACED,
            tracer_provider=provider,
            exclude_spans=["receive", "send"],
        )


def instrument_asyncpg(provider: TracerProvider | None) -> None:
    """Trace every asyncpg statement of this process with `provider`; None stops it.
    Parameters are not recorded: they may hold personal data."""
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if provider is None:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    elif not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
