"""The W3C trace context on every NATS hop, and the spans of hops Baton makes by hand.

FastStream's telemetry middleware makes the spans of JetStream deliveries, and
:func:`~libs.platform.publishing.publish_once` those of JetStream publishes; core NATS
messages (voice tokens, cancel, ``end``, hang-up) get their ``send`` and ``process`` spans
here, named after the subject's template, never the raw subject.
"""

from __future__ import annotations

from collections.abc import Mapping

from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue


def inject_trace_headers(
    headers: dict[str, str] | None = None, *, span: trace.Span | None = None
) -> dict[str, str]:
    """``headers`` plus ``traceparent`` (and baggage) of ``span``, or of the current span."""
    carrier = dict(headers or {})
    propagate.inject(carrier, context=trace.set_span_in_context(span) if span else None)
    return carrier


def extract_trace_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context a message or request carried in its headers."""
    return propagate.extract(dict(headers or {}))


def messaging_attributes(subject: str, template: str, operation: str) -> dict[str, AttributeValue]:
    """Messaging semantic conventions for a NATS hop; ``template`` keeps span names bounded."""
    return {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "messaging.destination.template": template,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
    }


def send_span(
    tracer: Tracer,
    subject: str,
    template: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    operation: str = "send",
) -> Span:
    """A PRODUCER span ``<operation> <template>``, started but not made current: ``send`` for
    a core NATS message, ``publish`` for a JetStream one."""
    return tracer.start_span(
        f"{operation} {template}",
        kind=SpanKind.PRODUCER,
        attributes={**messaging_attributes(subject, template, operation), **(attributes or {})},
    )


def consumer_span(
    tracer: Tracer,
    message: Msg,
    template: str,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Span:
    """A CONSUMER span ``process <template>``, child of the producer's span in the headers."""
    return tracer.start_span(
        f"process {template}",
        context=extract_trace_context(message.headers),
        kind=SpanKind.CONSUMER,
        attributes={
            **messaging_attributes(message.subject, template, "process"),
            **(attributes or {}),
        },
    )
