"""How Baton records a metric, for Prometheus and for OTLP, and the metrics of NATS hops.

Each service declares its own metrics in its ``metrics.py`` with these primitives. Each
metric is both a prometheus-client collector in the process registry (scraped from
``GET /metrics`` on every service) and an OpenTelemetry instrument (exported over OTLP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set). Dashboards and alerts in ``deploy/observability/``
use the Prometheus names; the OTLP names follow OpenTelemetry's conventions and never turn
into a scraped name, so a collector that both scrapes and receives OTLP counts nothing twice.

Labels stay low-cardinality by construction — channel, outcome, failure, consumer, stream —
never a call SID, a conversation id or a phone number — and label values and exemplars go
through :func:`~libs.platform.redaction.redact_labels` like every other text that leaves the
process. A histogram observation made inside a sampled span keeps its trace id as an exemplar,
so an SRE can go from a slow bucket straight to the trace.
"""

from __future__ import annotations

from collections.abc import Sequence

import prometheus_client
from opentelemetry import metrics, trace
from opentelemetry.trace import format_span_id, format_trace_id
from prometheus_client.exposition import choose_encoder

from libs.platform.redaction import redact_labels

REGISTRY = prometheus_client.REGISTRY
"""The process registry (with the process and GC collectors) that ``/metrics`` serves."""

HANDOFF_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0)
"""Seconds, for handoffs: the 2 s SLO threshold is a bucket edge."""
VOICE_TURN_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
"""Seconds, for what a caller hears as silence: 100 ms resolution where it matters."""
AGENT_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
"""Seconds, for the agent (model) answering a turn."""
OVERHEAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Seconds, for Baton's own share of a hop (storing a prompt): milliseconds matter."""
QUEUE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds a message waited in JetStream before a handler took it."""
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
"""Seconds, for an HTTP request served or made (webhooks, Twilio's REST API)."""

_meter = metrics.get_meter("baton")


def _exemplar() -> dict[str, str] | None:
    """The current trace and span: random hex ids, never personal data, so not masked
    (masking would only spend a phone-number search on every observation)."""
    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {
        "trace_id": format_trace_id(context.trace_id),
        "span_id": format_span_id(context.span_id),
    }


class Histogram:
    """Latency in seconds with explicit buckets, and the trace id as exemplar."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        description: str,
        *,
        otel_name: str,
        buckets: Sequence[float],
        labels: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.otel_name = otel_name
        self._labels = tuple(labels)
        self._prometheus = prometheus_client.Histogram(
            name, description, self._labels, buckets=buckets, registry=REGISTRY
        )
        self._otel = _meter.create_histogram(
            otel_name,
            unit="s",
            description=description,
            explicit_bucket_boundaries_advisory=list(buckets),
        )

    def observe(self, seconds: float, **labels: str) -> None:
        seconds = max(0.0, seconds)
        labels = redact_labels(labels)
        child = self._prometheus.labels(**labels) if self._labels else self._prometheus
        child.observe(seconds, _exemplar())
        self._otel.record(seconds, attributes=labels)


class Counter:
    """Events counted by a few typed labels."""

    kind = "counter"

    def __init__(
        self, name: str, description: str, *, otel_name: str, labels: Sequence[str] = ()
    ) -> None:
        self.name = f"{name}_total"
        self.otel_name = otel_name
        self._labels = tuple(labels)
        self._prometheus = prometheus_client.Counter(
            name, description, self._labels, registry=REGISTRY
        )
        self._otel = _meter.create_counter(otel_name, description=description)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        labels = redact_labels(labels)
        child = self._prometheus.labels(**labels) if self._labels else self._prometheus
        child.inc(amount, _exemplar())
        self._otel.add(amount, attributes=labels)


class Gauge:
    """A value sampled from elsewhere (consumer lag, stream size): last write wins."""

    kind = "gauge"

    def __init__(
        self, name: str, description: str, *, otel_name: str, labels: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.otel_name = otel_name
        self._labels = tuple(labels)
        self._prometheus = prometheus_client.Gauge(
            name, description, self._labels, registry=REGISTRY
        )
        self._otel = _meter.create_gauge(otel_name, description=description)

    def set(self, value: float, **labels: str) -> None:
        labels = redact_labels(labels)
        child = self._prometheus.labels(**labels) if self._labels else self._prometheus
        child.set(value)
        self._otel.set(value, attributes=labels)


class LiveCount:
    """Things this process holds right now (live calls): added and removed one by one."""

    kind = "gauge"

    def __init__(self, name: str, description: str, *, otel_name: str) -> None:
        self.name = name
        self.otel_name = otel_name
        self._prometheus = prometheus_client.Gauge(name, description, registry=REGISTRY)
        self._otel = _meter.create_up_down_counter(otel_name, description=description)

    def add(self, delta: int) -> None:
        self._prometheus.inc(delta)
        self._otel.add(delta)


# --- NATS ----------------------------------------------------------------------------------

NATS_QUEUE_TIME = Histogram(
    "baton_nats_queue_seconds",
    "Stored in JetStream -> taken by a handler, first deliveries only, per durable consumer.",
    otel_name="baton.nats.queue.duration",
    buckets=QUEUE_BUCKETS,
    labels=("consumer",),
)
NATS_SETTLED = Counter(
    "baton_nats_settled",
    "Messages a consumer settled: `ack`, `retry` (delayed NAK) or `dead_letter`.",
    otel_name="baton.nats.messages.settled",
    labels=("consumer", "result"),
)
NATS_CONSUMER_PENDING = Gauge(
    "baton_nats_consumer_pending",
    "Messages in the stream the durable consumer has not delivered yet (its lag).",
    otel_name="baton.nats.consumer.lag",
    labels=("stream", "consumer"),
)
NATS_CONSUMER_ACK_PENDING = Gauge(
    "baton_nats_consumer_ack_pending",
    "Messages delivered to the durable consumer and not yet acknowledged.",
    otel_name="baton.nats.consumer.unacked",
    labels=("stream", "consumer"),
)
NATS_CONSUMER_REDELIVERED = Gauge(
    "baton_nats_consumer_redelivered",
    "Messages of the durable consumer delivered more than once and not yet acknowledged.",
    otel_name="baton.nats.consumer.redeliveries",
    labels=("stream", "consumer"),
)
NATS_STREAM_MESSAGES = Gauge(
    "baton_nats_stream_messages",
    "Messages held by a stream.",
    otel_name="baton.nats.stream.size",
    labels=("stream",),
)
NATS_STREAM_BYTES = Gauge(
    "baton_nats_stream_bytes",
    "Bytes held by a stream.",
    otel_name="baton.nats.stream.usage",
    labels=("stream",),
)
NATS_STREAM_FULLNESS = Gauge(
    "baton_nats_stream_fullness_ratio",
    "How full a stream is against its tightest limit (bytes or messages); at 1 the oldest "
    "messages are discarded.",
    otel_name="baton.nats.stream.fullness",
    labels=("stream",),
)
NATS_CONNECTED = Gauge(
    "baton_nats_connected",
    "1 while this process is connected to NATS, 0 while it is not (read at every scrape).",
    otel_name="baton.nats.connection.up",
)

NATS_METRICS = (
    NATS_QUEUE_TIME,
    NATS_SETTLED,
    NATS_CONSUMER_PENDING,
    NATS_CONSUMER_ACK_PENDING,
    NATS_CONSUMER_REDELIVERED,
    NATS_STREAM_MESSAGES,
    NATS_STREAM_BYTES,
    NATS_STREAM_FULLNESS,
    NATS_CONNECTED,
)
"""Recorded by every service that consumes from JetStream."""


def exposition(accept: str) -> tuple[bytes, str]:
    """The registry in the format the scraper asked for; OpenMetrics carries the exemplars."""
    encoder, content_type = choose_encoder(accept)
    return encoder(REGISTRY), content_type
