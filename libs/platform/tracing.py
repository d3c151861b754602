"""OpenTelemetry for every service: one tracer provider per service, one span pipeline per process.

Each service gets its own ``TracerProvider`` (its own ``service.name``), so spans say which
service made them even when several services share a process, as in the tests. Shared
instrumentation (``httpx`` clients, the emulator's spans) goes through the global provider,
which gives a span the service of its parent span. All of them feed one pipeline, which
masks personal data (:mod:`libs.platform.redaction`) in every span's name, attributes, events,
links and status unless ``BATON_LOG_SENSITIVE`` is on (invariant 8), then hands the span to
each exporter:

- OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is set; metrics
  go the same way unless ``OTEL_METRICS_EXPORTER=none``;
- a JSON-lines file per process in ``BATON_TRACE_DIR`` (``baton up`` sets it; ``baton trace``
  reads it);
- whatever :func:`spans_exported_to` attaches (tests use an in-memory exporter).

Without any exporter spans are still created, so ``traceparent`` travels on every hop.
HTTP spans follow the stable HTTP semantic conventions (``http.request.method``,
``url.full``, ``http.response.status_code``); an outbound request that names its operation
(:data:`OPERATION_EXTENSION`, as every Twilio call does) is named after it:
``studio.execution.create`` rather than a bare ``POST``. Every resource carries
``service.version`` and ``deployment.environment.name``.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import (
    AsyncOpenTelemetryTransport,
    HTTPXClientInstrumentor,
    RequestInfo,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, SpanKind, Status, Tracer
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes

from libs.platform.build_info import announce_build, deployment_environment, version
from libs.platform.redaction import masking, redact, redact_attributes, set_sensitive
from libs.platform.request_metrics import RequestMetrics
from libs.platform.span_files import SpanFileExporter

TRACE_DIR_VARIABLE = "BATON_TRACE_DIR"
"""Where each process appends its finished spans as JSON lines (read by ``baton trace``)."""

HTTP_EXCLUDED_URLS = "healthz,readyz,metrics"
OPERATION_EXTENSION = "baton.operation"
"""An ``httpx`` request extension: the operation a request performs, its client span's name."""
OPERATION_ATTRIBUTE = "baton.operation"
SEMCONV_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
# --- The process-wide span pipeline ------------------------------------------------------


def redacted(span: ReadableSpan) -> ReadableSpan:
    """The span with personal data masked in its name, attributes, events, links and status."""
    name = redact(span.name)
    attributes = redact_attributes(span.attributes)
    events = [
        Event(redact(e.name), redact_attributes(e.attributes), e.timestamp) for e in span.events
    ]
    links = [Link(link.context, redact_attributes(link.attributes)) for link in span.links]
    description = span.status.description
    masked_description = redact(description) if description else description
    unchanged = (
        name == span.name
        and attributes == dict(span.attributes or {})
        and [(e.name, e.attributes) for e in events]
        == [(e.name, dict(e.attributes or {})) for e in span.events]
        and [link.attributes for link in links]
        == [dict(link.attributes or {}) for link in span.links]
        and masked_description == description
    )
    if unchanged:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code, masked_description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class SpanPipeline(SpanProcessor):
    """The processors every service's spans go through, after masking (when it is on)."""

    def __init__(self) -> None:
        self._processors: tuple[SpanProcessor, ...] = ()
        self._lock = threading.Lock()
        self._shut_down = False

    def add(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = (*self._processors, processor)

    def remove(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._processors = tuple(p for p in self._processors if p is not processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        processors = self._processors
        if not processors:  # no exporter: nothing leaves the process, nothing to mask
            return
        finished = redacted(span) if masking() else span
        for processor in processors:
            processor.on_end(finished)

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self._processors)


_pipeline: SpanPipeline | None = None
_providers: dict[str, TracerProvider] = {}
_setup_lock = threading.Lock()


def _otlp_traces_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _otlp_metrics_enabled() -> bool:
    if os.environ.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    )


def _resource(service_name: str) -> Resource:
    """Name, version and environment; ``OTEL_RESOURCE_ATTRIBUTES`` may set the environment."""
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", service_name),
            "service.version": version(),
        }
    )
    environment = deployment_environment(resource.attributes)
    named = {"deployment.environment.name": environment, "deployment.environment": environment}
    return resource.merge(Resource(named))


def _process_pipeline(service_name: str) -> SpanPipeline:
    """The exporters and the OTLP metric export, set up once per process (call under the lock)."""
    global _pipeline
    if _pipeline is not None:
        return _pipeline
    # Before any instrumentation reads it: stable HTTP attribute names only.
    os.environ.setdefault(SEMCONV_OPT_IN, "http")
    pipeline = SpanPipeline()
    if _otlp_traces_enabled():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        pipeline.add(BatchSpanProcessor(OTLPSpanExporter()))
    trace_dir = os.environ.get(TRACE_DIR_VARIABLE)
    if trace_dir:
        path = Path(trace_dir) / f"{service_name}-{os.getpid()}.jsonl"
        pipeline.add(BatchSpanProcessor(SpanFileExporter(path), schedule_delay_millis=500))
    atexit.register(pipeline.shutdown)
    if _otlp_metrics_enabled():
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        metrics.set_meter_provider(
            MeterProvider(
                resource=_resource(service_name),
                metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())],
            )
        )
    _pipeline = pipeline
    return pipeline


class ParentServiceTracerProvider(trace.TracerProvider):
    """The global provider: it continues traces, never starts one, in the parent's service.

    An ``httpx`` call made while the dispatcher handles a handoff is the dispatcher's span,
    even when other services share the process; a call made outside any trace (a health
    probe, a test's own client) gets no span and sends no ``traceparent``. A span whose parent
    came from another process belongs to the first service configured (in production, the
    only one).
    """

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Tracer:
        return _ParentServiceTracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _ParentServiceTracer(Tracer):
    def __init__(
        self, name: str, version: str | None, schema_url: str | None, attributes: Attributes
    ) -> None:
        self._scope = (name, version, schema_url, attributes)

    def _tracer(self, context: Context | None) -> Tracer | None:
        parent = trace.get_current_span(context)
        if not parent.get_span_context().is_valid or not _providers:
            return None
        resource = getattr(parent, "resource", None)
        provider = next(
            (p for p in _providers.values() if p.resource is resource),
            next(iter(_providers.values())),
        )
        name, version, schema_url, attributes = self._scope
        return provider.get_tracer(name, version, schema_url, attributes)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        tracer = self._tracer(context)
        if tracer is None:
            return trace.INVALID_SPAN
        return tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        tracer = self._tracer(context)
        if tracer is None:
            yield trace.INVALID_SPAN
            return
        with tracer.start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        ) as span:
            yield span


def configure_tracing(service_name: str, *extra: SpanProcessor) -> TracerProvider:
    """The tracer provider of ``service_name`` (created once); ``extra`` joins every service's.

    The first call in a process also installs the global provider, and with it a client span
    for every request made inside a trace by ``httpx``'s own transport (the model's API) or
    by one wrapped with :func:`traced` (Twilio's REST API).
    """
    with _setup_lock:
        pipeline = _process_pipeline(service_name)
        for processor in extra:
            pipeline.add(processor)
        provider = _providers.get(service_name)
        if provider is not None:
            return provider
        provider = TracerProvider(resource=_resource(service_name), shutdown_on_exit=False)
        provider.add_span_processor(pipeline)
        first = not _providers
        _providers[service_name] = provider
    if first:
        shared = ParentServiceTracerProvider()
        trace.set_tracer_provider(shared)
        instrumentor = HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(
                tracer_provider=shared, async_request_hook=_name_after_operation
            )
    return provider


def traced(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    """``transport`` with the client span :func:`configure_tracing` gives ``httpx``'s own
    transport, which is the only one it instruments (on aiohttp's, calls would go unseen):
    made inside a trace once tracing is configured, with the stable HTTP attribute names."""
    os.environ.setdefault(SEMCONV_OPT_IN, "http")  # read once per process, maybe right here
    return AsyncOpenTelemetryTransport(
        transport, tracer_provider=ParentServiceTracerProvider(), request_hook=_name_after_operation
    )


async def _name_after_operation(span: trace.Span, request: RequestInfo) -> None:
    """A request that names its operation gets a span of that name, not a bare ``POST``."""
    operation = (request.extensions or {}).get(OPERATION_EXTENSION)
    if isinstance(operation, str) and span.is_recording():
        span.update_name(operation)
        span.set_attribute(OPERATION_ATTRIBUTE, operation)


def service_tracer(service_name: str) -> Tracer:
    """The tracer for spans a service makes itself (agent turns, core NATS hops, handoffs)."""
    return configure_tracing(service_name).get_tracer(f"baton.{service_name}")


def sensitive_spans() -> bool:
    """Whether spans may carry message text (``BATON_LOG_SENSITIVE``); off by default."""
    return not masking()


@contextmanager
def spans_exported_to(exporter: SpanExporter) -> Iterator[None]:
    """Also send every service's spans in this process to ``exporter`` (tests: in memory)."""
    with _setup_lock:
        pipeline = _process_pipeline("baton")
    processor = SimpleSpanProcessor(exporter)
    pipeline.add(processor)
    try:
        yield
    finally:
        pipeline.remove(processor)


def flush_spans(timeout_millis: int = 5000) -> bool:
    """Export what the batch processors still hold (before reading the trace files)."""
    return _pipeline.force_flush(timeout_millis) if _pipeline is not None else True


# --- HTTP and WebSocket server spans -----------------------------------------------------


def instrument_app(
    app: FastAPI,
    service_name: str,
    *,
    log_sensitive: bool = False,
    excluded_urls: str = HTTP_EXCLUDED_URLS,
    request_metrics: bool = True,
) -> None:
    """A server span per request and per WebSocket connection (not per frame); probes skipped.

    With ``request_metrics`` every request is also measured by route and status
    (:class:`~libs.platform.request_metrics.RequestMetrics`), and ``baton_build_info`` names
    the service on ``/metrics``.
    """
    set_sensitive(log_sensitive)
    if request_metrics:
        app.add_middleware(RequestMetrics)
        announce_build(service_name)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=configure_tracing(service_name),
        excluded_urls=excluded_urls,
        exclude_spans=["receive", "send"],
    )
