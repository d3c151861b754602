"""FastStream's NATS spans, named like Baton's own: ``<operation> <subject template>``.

FastStream names a span ``"<subject> <action>"``; with one subject per conversation that
would make every conversation a new operation name in Jaeger. Spans are named
``process baton.turns.{conversation}`` and so on — the operation first, as the messaging
semantic conventions and Baton's core NATS spans (:mod:`libs.platform.propagation`) do, and
the subject's template, as ``messaging.destination.template`` intends; the raw subject stays
in the attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from faststream.nats.opentelemetry.provider import (
    NatsBatchTelemetrySettingsProvider,
    NatsTelemetrySettingsProvider,
)
from faststream.nats.response import NatsPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from nats.aio.msg import Msg
from opentelemetry.trace import Span, Tracer, TracerProvider
from opentelemetry.util._decorator import _agnosticcontextmanager

from libs.contracts.subjects import subject_template

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.response import PublishCommand


Single = TypeVar("Single")
Batch = TypeVar("Batch")


class TemplatedNatsProvider(NatsTelemetrySettingsProvider):
    __slots__ = ()

    def get_publish_destination_name(self, cmd: PublishCommand) -> str:
        return subject_template(cmd.destination)

    def get_consume_destination_name(self, msg: StreamMessage[Msg]) -> str:
        return subject_template(msg.raw_message.subject)


def by_message_kind(
    single: Callable[[], Single], batch: Callable[[], Batch]
) -> Callable[[Msg | Sequence[Msg] | None], Single | Batch | None]:
    """A FastStream settings-provider factory: one provider per message or batch, none for
    key-value and object-store watches (FastStream's middlewares take such a factory)."""

    def factory(msg: Msg | Sequence[Msg] | None) -> Single | Batch | None:
        if isinstance(msg, Sequence):
            return batch()
        if isinstance(msg, Msg) or msg is None:
            return single()
        return None

    return factory


_provider = by_message_kind(TemplatedNatsProvider, NatsBatchTelemetrySettingsProvider)


MESSAGING_OPERATIONS = frozenset({"create", "publish", "send", "receive", "process", "settle"})


def operation_first(name: str) -> str:
    """``baton.turns.{conversation} process`` → ``process baton.turns.{conversation}``."""
    destination, _, operation = name.rpartition(" ")
    if destination and operation in MESSAGING_OPERATIONS:
        return f"{operation} {destination}"
    return name


class _OperationFirstTracer(Tracer):
    def __init__(self, inner: Tracer) -> None:
        self._inner = inner

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        return self._inner.start_span(operation_first(name), *args, **kwargs)

    @_agnosticcontextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:
        with self._inner.start_as_current_span(operation_first(name), *args, **kwargs) as span:
            yield span


class _OperationFirstTracerProvider(TracerProvider):
    def __init__(self, inner: TracerProvider) -> None:
        self._inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> Tracer:
        return _OperationFirstTracer(self._inner.get_tracer(*args, **kwargs))


class TemplatedNatsTelemetryMiddleware(TelemetryMiddleware[NatsPublishCommand]):
    def __init__(self, *, tracer_provider: TracerProvider) -> None:
        factory: Any = _provider
        super().__init__(
            settings_provider_factory=factory,
            tracer_provider=_OperationFirstTracerProvider(tracer_provider),
        )
        self.service_tracer = tracer_provider.get_tracer("baton.nats")
        """The service's tracer, for the JetStream publishes Baton makes past FastStream."""
