"""Connecting to NATS, and declaring the streams and buckets once (``baton streams init``)."""

from __future__ import annotations

import contextlib
import logging

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from libs.nats_spans import TemplatedNatsTelemetryMiddleware
from libs.redaction import install_log_redaction
from libs.settings import BatonSettings
from libs.subjects import BUCKETS, stream_configs
from libs.telemetry import configure_tracing

log = logging.getLogger("baton.nats")


def create_broker(settings: BatonSettings, service_name: str) -> NatsBroker:
    """A FastStream broker whose every publish carries the W3C trace context in its headers."""
    tracer_provider = configure_tracing(service_name)
    install_log_redaction(enabled=not settings.baton_log_sensitive)
    return NatsBroker(
        settings.nats_url,
        name=f"{service_name}:{settings.baton_instance_id}",
        graceful_timeout=settings.baton_shutdown_grace_seconds,
        middlewares=(TemplatedNatsTelemetryMiddleware(tracer_provider=tracer_provider),),
        max_reconnect_attempts=-1,
        log_level=logging.DEBUG,
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The raw JetStream context of a connected broker (KV, direct gets, stream info)."""
    return broker.connection.jetstream()


async def declare_streams(js: JetStreamContext, replicas: int) -> list[str]:
    """Create or update every stream and bucket; the one place their configuration is applied."""
    declared: list[str] = []
    for config in stream_configs(replicas):
        await _add_or_update_stream(js, config)
        declared.append(str(config.name))
    for bucket in BUCKETS:
        await js.create_key_value(
            KeyValueConfig(
                bucket=bucket.name,
                history=bucket.history,
                ttl=bucket.ttl_seconds,
                storage=StorageType.FILE,
                replicas=replicas,
            )
        )
        declared.append(f"KV_{bucket.name}")
    return declared


async def reset_streams(js: JetStreamContext, replicas: int) -> list[str]:
    """Delete every Baton stream and bucket, then declare them empty (local stack, tests)."""
    for config in stream_configs(replicas):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(str(config.name))
    for spec in BUCKETS:
        with contextlib.suppress(NotFoundError):
            await js.delete_key_value(spec.name)
    return await declare_streams(js, replicas)


async def _add_or_update_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(str(config.name))
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return
    try:
        await js.update_stream(config)
    except BadRequestError as error:  # e.g. replicas cannot change on a single server
        log.warning("stream %s kept its configuration: %s", config.name, error)


async def bucket(js: JetStreamContext, name: str) -> KeyValue:
    """Bind to a declared bucket (never creates one: declaration has a single owner)."""
    return await js.key_value(name)
