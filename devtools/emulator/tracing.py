"""Spans for what the emulator does on Twilio's side, joined to the trace of the caller.

Only the OpenTelemetry API is used: with no tracer provider installed the spans cost nothing,
and whoever runs the emulator decides where they go. A request's trace is the server span when
an instrumentation made one, else the ``traceparent`` the request carried.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context

tracer = trace.get_tracer("baton.emulator")


def incoming_context(headers: Mapping[str, str]) -> Context:
    """The context a span started for this request should be a child of."""
    if trace.get_current_span().get_span_context().is_valid:
        return otel_context.get_current()
    return propagate.extract({key.lower(): value for key, value in headers.items()})


def caller_trace_id(headers: Mapping[str, str]) -> str | None:
    """The trace id the caller sent in ``traceparent``; ``None`` when it sent none."""
    carrier = {key.lower(): value for key, value in headers.items()}
    span_context = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
