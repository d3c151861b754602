"""A turn that names the previous one is stored only right after it, and found again on retry."""

from __future__ import annotations

from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from libs.contracts.messages import CustomerTurn, Route
from libs.contracts.subjects import TURNS_STREAM
from libs.platform.publishing import publish_turn, stored_right_after
from tests.agent.fakes import SMS_ROUTE

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
