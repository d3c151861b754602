"""FastStream's NATS spans, named after subject templates instead of raw subjects.

FastStream names a span ``"<subject> <action>"``; with one subject per conversation that
would make every conversation a new operation name in Jaeger. Spans are named
``baton.turns.{conversation} process`` and so on, as the messaging conventions'
``messaging.destination.template`` intends; the raw subject stays in the attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faststream.nats.opentelemetry.provider import (
    NatsBatchTelemetrySettingsProvider,
    NatsTelemetrySettingsProvider,
)
from faststream.nats.response import NatsPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from nats.aio.msg import Msg
from opentelemetry.trace import TracerProvider

from libs.contracts.subjects import subject_template

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.response import PublishCommand


class TemplatedNatsProvider(NatsTelemetrySettingsProvider):
    __slots__ = ()

    def get_publish_destination_name(self, cmd: PublishCommand) -> str:
        return subject_template(cmd.destination)

    def get_consume_destination_name(self, msg: StreamMessage[Msg]) -> str:
        return subject_template(msg.raw_message.subject)


def _provider(
    msg: Msg | Sequence[Msg] | None,
) -> NatsTelemetrySettingsProvider | NatsBatchTelemetrySettingsProvider | None:
    if isinstance(msg, Sequence):
        return NatsBatchTelemetrySettingsProvider()
    if isinstance(msg, Msg) or msg is None:
        return TemplatedNatsProvider()
    return None  # key-value and object-store watches


class TemplatedNatsTelemetryMiddleware(TelemetryMiddleware[NatsPublishCommand]):
    def __init__(self, *, tracer_provider: TracerProvider | None = None) -> None:
        factory: Any = _provider
        super().__init__(settings_provider_factory=factory, tracer_provider=tracer_provider)
