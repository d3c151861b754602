"""Connecting a service to NATS: a FastStream broker with trace propagation, and bucket binding."""

from __future__ import annotations

import logging

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from libs.platform.nats_metrics import TemplatedNatsPrometheusMiddleware
from libs.platform.nats_spans import TemplatedNatsTelemetryMiddleware
from libs.platform.redaction import configure_redaction
from libs.platform.settings import BatonSettings
from libs.platform.tracing import configure_tracing


def create_broker(settings: BatonSettings, service_name: str) -> NatsBroker:
    """A FastStream broker whose every publish carries the W3C trace context in its headers,
    and whose publishes and deliveries are counted on ``/metrics``."""
    tracer_provider = configure_tracing(service_name)
    configure_redaction(
        sensitive=settings.baton_log_sensitive, phone_regions=settings.phone_regions
    )
    return NatsBroker(
        settings.nats_url,
        name=f"{service_name}:{settings.baton_instance_id}",
        graceful_timeout=settings.baton_shutdown_grace_seconds,
        middlewares=(
            TemplatedNatsTelemetryMiddleware(tracer_provider=tracer_provider),
            TemplatedNatsPrometheusMiddleware(service_name),
        ),
        max_reconnect_attempts=-1,
        logger=logging.getLogger("faststream.nats"),
        log_level=logging.DEBUG,
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The raw JetStream context of a connected broker (KV, direct gets, stream info)."""
    return broker.connection.jetstream()


async def bucket(js: JetStreamContext, name: str) -> KeyValue:
    """Bind to a declared bucket (never creates one: declaration has a single owner)."""
    return await js.key_value(name)
