"""Asking the call's gateway to send ``end``, over a real NATS server: each answer it can get.

The gateway is played by a subscriber on the call's subject that answers as the test says;
the command it receives is checked field for field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.trace import Tracer

from libs.contracts.messages import HandoffData, HandoffFailure, VoiceEnd
from services.handoff_dispatcher.outcome import DeliveryOutcome
from services.handoff_dispatcher.voice_end import VoiceEndSender
from tests.support.recorders import LocalSpans, local_spans

CALL_SID = "CA" + "ef" * 16
SUBJECT = f"baton.voice.call.{CALL_SID}"
DATA = HandoffData(
    conversation_id=CALL_SID,
    store_id="mem_store_1",
    attributes={"reason": "caller asked", "handoffChannel": "voice"},
)
WIRE_HANDOFF_DATA = (
    '{"conversationId":"CAefefefefefefefefefefefefefefefef","storeId":"mem_store_1",'
    '"profileId":"","attributes":{"reason":"caller asked","handoffChannel":"voice"}}'
)


@dataclass
class Gateway:
    """Answers ``end`` commands: ``None`` in ``answers`` means stay silent that time."""

    answers: list[str | None]
    commands: list[VoiceEnd] = field(default_factory=list)
    traceparents: list[str] = field(default_factory=list)

    async def handle(self, message: Msg) -> None:
        self.commands.append(VoiceEnd.model_validate_json(message.data))
        self.traceparents.append((message.headers or {}).get("traceparent", ""))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            await message.respond(f'{{"status":"{answer}"}}'.encode())


@pytest.fixture
def spans() -> Iterator[LocalSpans]:
    with local_spans() as recorded:
        yield recorded


async def serve_gateway(connection: Client, gateway: Gateway) -> None:
    await connection.subscribe(SUBJECT, cb=gateway.handle)
    await connection.flush()


async def send_end(
    connection: Client, tracer: Tracer, wait_seconds: float = 2.0, *, resent: bool = False
) -> DeliveryOutcome:
    """``resent``: an earlier request of this handoff may have had ``end`` sent."""
    sender = VoiceEndSender(connection, wait_seconds, tracer)
    return await asyncio.wait_for(
        sender.send(
            call_sid=CALL_SID, turn=7, handoff_id=f"{CALL_SID}:0", data=DATA, resent=resent
        ),
        timeout=10.0,
    )


async def test_sent_is_delivered_and_the_command_names_the_goodbye_turn(
    nats_client: Client, spans: LocalSpans
) -> None:
    gateway = Gateway(["sent"])
    await serve_gateway(nats_client, gateway)
    outcome = await send_end(nats_client, spans[0])
    assert outcome == DeliveryOutcome(None, None, "end sent after the final reply", 1)
    assert outcome.verified
    assert gateway.commands == [
        VoiceEnd(turn=7, handoff_id=f"{CALL_SID}:0", handoff_data=WIRE_HANDOFF_DATA)
    ]
    [span] = spans[1].get_finished_spans()
    assert span.context is not None
    assert gateway.traceparents[0].split("-")[1] == f"{span.context.trace_id:032x}"
    assert (span.attributes or {})["baton.voice.end_answer"] == "sent"


async def test_caller_gone_is_a_typed_failure(nats_client: Client, spans: LocalSpans) -> None:
    await serve_gateway(nats_client, Gateway(["caller_gone"]))
    outcome = await send_end(nats_client, spans[0])
    assert outcome == DeliveryOutcome(None, HandoffFailure.CALLER_GONE, "caller hung up", 1)


async def test_no_responders_means_no_gateway_holds_the_call(
    nats_client: Client, spans: LocalSpans
) -> None:
    outcome = await send_end(nats_client, spans[0])
    assert outcome == DeliveryOutcome(
        None, HandoffFailure.CALLER_GONE, "no gateway holds the call", 1
    )


async def test_no_responders_after_an_earlier_end_is_delivered_unverified(
    nats_client: Client, spans: LocalSpans
) -> None:
    """The dispatcher died after asking: the gateway may have sent ``end``, and Twilio closed
    the socket. The caller is with a human, or gone; never told the handoff failed."""
    outcome = await send_end(nats_client, spans[0], resent=True)
    assert outcome == DeliveryOutcome(
        None,
        None,
        "unverified: the call's socket is gone after an earlier request",
        1,
        verified=False,
    )
    assert outcome.delivered
    [span] = spans[1].get_finished_spans()
    assert (span.attributes or {})["baton.voice.end_answer"] == "no_responders"


async def test_a_gateway_still_holding_the_call_confirms_a_repeated_end(
    nats_client: Client, spans: LocalSpans
) -> None:
    gateway = Gateway(["sent"])
    await serve_gateway(nats_client, gateway)
    outcome = await send_end(nats_client, spans[0], resent=True)
    assert outcome == DeliveryOutcome(None, None, "end sent after the final reply", 1)
    assert outcome.verified
    assert gateway.commands == [
        VoiceEnd(turn=7, handoff_id=f"{CALL_SID}:0", handoff_data=WIRE_HANDOFF_DATA)
    ]


async def test_an_unanswered_end_is_asked_again(nats_client: Client, spans: LocalSpans) -> None:
    gateway = Gateway([None, "sent"])
    await serve_gateway(nats_client, gateway)
    outcome = await send_end(nats_client, spans[0], wait_seconds=0.2)
    assert outcome == DeliveryOutcome(None, None, "end sent after the final reply", 2)
    assert len(gateway.commands) == 2 and gateway.commands[0] == gateway.commands[1]
    answers = [
        (s.attributes or {})["baton.voice.end_answer"] for s in spans[1].get_finished_spans()
    ]
    assert answers == ["timeout", "sent"]


async def test_three_unanswered_ends_give_up_as_caller_gone(
    nats_client: Client, spans: LocalSpans
) -> None:
    gateway = Gateway([None, None, None, "sent"])
    await serve_gateway(nats_client, gateway)
    outcome = await send_end(nats_client, spans[0], wait_seconds=0.1)
    assert outcome == DeliveryOutcome(
        None, HandoffFailure.CALLER_GONE, "the call's gateway never confirmed end", 3
    )
    assert len(gateway.commands) == 3
