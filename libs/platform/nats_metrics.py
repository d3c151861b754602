"""NATS publish and consume counts from FastStream's Prometheus middleware, per subject template.

FastStream labels its metrics with the raw subject; with one subject per conversation that
would be a new series per conversation. Here the subject is folded to its template
(``baton.turns.{conversation}``) before FastStream sees it, as for the spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.nats.prometheus.provider import (
    BatchNatsMetricsSettingsProvider,
    NatsMetricsSettingsProvider,
)
from faststream.prometheus import ConsumeAttrs
from faststream.prometheus.middleware import PrometheusMiddleware
from faststream.prometheus.types import PublishingStatus
from nats.aio.msg import Msg

from libs.contracts.subjects import subject_template
from libs.platform.metrics import REGISTRY
from libs.platform.nats_spans import by_message_kind

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.response import PublishCommand

FASTSTREAM_PREFIX = "faststream"
FASTSTREAM_SERIES = tuple(
    f"{FASTSTREAM_PREFIX}_{name}"
    for name in (
        "received_messages_total",
        "received_messages_size_bytes",
        "received_messages_in_process",
        "received_processed_messages_total",
        "received_processed_messages_duration_seconds",
        "received_processed_messages_exceptions_total",
        "published_messages_total",
        "published_messages_duration_seconds",
        "published_messages_exceptions_total",
    )
)
"""The families FastStream adds to ``/metrics`` (labels ``app_name``, ``handler`` or
``destination``, ``status``), for the dashboard and alert checks."""


class _TemplatedProvider(NatsMetricsSettingsProvider):
    __slots__ = ()

    def get_consume_attrs_from_message(self, msg: StreamMessage[Msg]) -> ConsumeAttrs:
        attributes = super().get_consume_attrs_from_message(msg)
        return {**attributes, "destination_name": subject_template(msg.raw_message.subject)}

    def get_publish_destination_name_from_cmd(self, cmd: PublishCommand) -> str:
        return subject_template(cmd.destination)


class TemplatedNatsPrometheusMiddleware(PrometheusMiddleware[Any, Any]):
    def __init__(self, service_name: str) -> None:
        factory: Any = by_message_kind(_TemplatedProvider, BatchNatsMetricsSettingsProvider)
        super().__init__(
            settings_provider_factory=factory,
            registry=REGISTRY,
            app_name=service_name,
            metrics_prefix=FASTSTREAM_PREFIX,
        )

    def published(self, template: str, seconds: float, error: BaseException | None) -> None:
        """Count a JetStream publish made without FastStream (:mod:`libs.platform.publishing`)
        in FastStream's own series, exactly as its middleware counts one."""
        manager, broker = self._metrics_manager, "nats"
        if error is not None:
            manager.add_published_message_exception(
                broker=broker, destination=template, exception_type=type(error).__name__
            )
        manager.observe_published_message_duration(
            duration=seconds, broker=broker, destination=template
        )
        status = PublishingStatus.error if error is not None else PublishingStatus.success
        manager.add_published_message(broker=broker, destination=template, status=status)
