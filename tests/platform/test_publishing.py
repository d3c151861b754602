"""A turn that names the previous one is stored only right after it, and found again on retry;
each publish is one span whose context the message carries, counted in FastStream's series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, ServiceUnavailableError
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from libs.contracts.messages import CustomerTurn, Route
from libs.contracts.subjects import TURNS, TURNS_STREAM
from libs.platform.nats_metrics import TemplatedNatsPrometheusMiddleware
from libs.platform.nats_spans import TemplatedNatsTelemetryMiddleware
from libs.platform.publishing import publish_once, publish_turn, stored_right_after
from libs.platform.tracing import configure_tracing
from tests.agent.fakes import SMS_ROUTE
from tests.support.traces import recorded_spans

CALL = "CA" + "73" * 16
ROUTE = Route.model_validate({**SMS_ROUTE.model_dump(), "channel": "voice", "call_sid": CALL})


def turn(number: int, previous: int | None) -> CustomerTurn:
    return CustomerTurn(
        conversation_id=CALL,
        message_id=f"{CALL}:session:{number}",
        route=ROUTE,
        text=f"turn {number}",
        previous_sequence=previous,
    )


async def stored(js: JetStreamContext, sequence: int) -> tuple[CustomerTurn, dict[str, str]]:
    raw = await js.get_msg(TURNS_STREAM, sequence)
    assert raw.data is not None
    return CustomerTurn.model_validate_json(raw.data), dict(raw.headers or {})


async def test_a_turn_right_after_the_one_it_names_is_stored_with_the_check(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    first = await publish_turn(broker, turn(1, None))
    second = await publish_turn(broker, turn(2, first.seq))
    body, headers = await stored(js, second.seq)
    assert stored_right_after(body, headers) == first.seq


async def test_a_turn_stored_after_another_than_the_one_it_names_names_none(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    first = await publish_turn(broker, turn(1, None))
    await publish_turn(broker, turn(2, None))  # the call's other socket
    late = await publish_turn(broker, turn(3, first.seq))
    body, headers = await stored(js, late.seq)
    assert (body.previous_sequence, stored_right_after(body, headers)) == (None, None)


async def test_a_retry_of_a_stored_turn_is_its_duplicate_with_the_check_kept(
    broker: NatsBroker, js: JetStreamContext
) -> None:
    first = await publish_turn(broker, turn(1, None))
    second = await publish_turn(broker, turn(2, first.seq))
    retried = await publish_turn(broker, turn(2, first.seq))  # its answer was lost on the way
    assert (retried.seq, retried.duplicate) == (second.seq, True)
    body, headers = await stored(js, second.seq)
    assert stored_right_after(body, headers) == first.seq


SERVICE = "publishing-test"
TEMPLATE = "baton.turns.{conversation}"


@pytest.fixture
async def instrumented(nats_url: str, js: JetStreamContext) -> AsyncIterator[NatsBroker]:
    """A broker with the services' middlewares (:func:`~libs.platform.connection.create_broker`)."""
    broker = NatsBroker(
        nats_url,
        middlewares=(
            TemplatedNatsTelemetryMiddleware(tracer_provider=configure_tracing(SERVICE)),
            TemplatedNatsPrometheusMiddleware(SERVICE),
        ),
    )
    await broker.connect()
    yield broker
    await broker.stop()


def published(status: str) -> float:
    labels = {"app_name": SERVICE, "broker": "nats", "destination": TEMPLATE, "status": status}
    return REGISTRY.get_sample_value("faststream_published_messages_total", labels) or 0.0


async def test_a_publish_is_one_span_whose_context_the_stored_turn_carries(
    instrumented: NatsBroker, js: JetStreamContext
) -> None:
    with recorded_spans() as exporter:
        ack = await publish_turn(instrumented, turn(1, None))
    [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert span.name == f"publish {TEMPLATE}" and span.context is not None
    assert dict(span.attributes or {})["messaging.destination.template"] == TEMPLATE
    body, headers = await stored(js, ack.seq)
    assert headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    assert headers["content-type"] == "application/json", "FastStream's consumers decode by it"
    assert headers["Nats-Msg-Id"] == f"turn:{body.message_id}"


async def test_publishes_and_refusals_are_counted_in_faststreams_series(
    instrumented: NatsBroker,
) -> None:
    sent, refused = published("success"), published("error")
    await publish_turn(instrumented, turn(1, None))
    with pytest.raises(BadRequestError):  # JetStream refuses: not the subject's stream
        await publish_once(
            instrumented,
            turn(2, None),
            subject=TURNS.subject(CALL),
            stream="BATON_REPLIES",
            message_id="turn:refused",
        )
    assert published("success") == sent + 1
    assert published("error") == refused + 1


def publish_seconds() -> float:
    labels = {"app_name": SERVICE, "broker": "nats", "destination": TEMPLATE}
    name = "faststream_published_messages_duration_seconds_sum"
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_publish_retried_at_once_is_timed_without_the_pause_before_its_retry(
    instrumented: NatsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JetStream answers 503 at once (no stream leader yet); the retry then stores the turn.
    The failed attempt took a millisecond: its duration must not include the 0.1 s pause."""
    real = JetStreamContext.publish
    answers = [ServiceUnavailableError(code=503, description="no leader")]

    async def publish(self: JetStreamContext, *args: Any, **kwargs: Any) -> Any:
        if answers:
            raise answers.pop()
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(JetStreamContext, "publish", publish)
    before, refused = publish_seconds(), published("error")
    await publish_turn(instrumented, turn(1, None))
    assert published("error") == refused + 1
    assert publish_seconds() - before < 0.05, "the 0.1 s retry pause was timed as the publish"
