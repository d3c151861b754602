"""One call's ordering rules, each on its own, with the order of events set by the test.

The session's ``send`` is a recorder, so the frames Twilio would read are checked exactly and
in order. Concurrency is driven explicitly: an ``end`` is parked until the session holds it
(``pending_end`` set) before the test sends the frame it waits for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from libs.contracts.messages import VoiceEnd, VoiceEndAnswer, VoiceFrame, VoiceToken
from services.relay_gateway.calls import CallSession
from services.relay_gateway.turn_timing import VoiceTurnTiming
from tests.support.waits import until

CALL_SID = "CA" + "ab" * 16
HANDOFF_DATA = '{"conversationId":"CA-ab","storeId":"","profileId":"","attributes":{}}'
END_FRAME = {"type": "end", "handoffData": HANDOFF_DATA}
CLOSE_CUT_REPLY = {"type": "text", "token": "", "last": True}
WAIT = 2.0


@dataclass
class RecordingSocket:
    """Keeps every frame sent; can refuse one frame type, as a socket closed under us would."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    refuse_type: str | None = None

    async def send(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == self.refuse_type:
            raise ConnectionError("socket closed")
        self.frames.append(frame)


def new_call(socket: RecordingSocket) -> CallSession:
    return CallSession(CALL_SID, send=socket.send)


def token(turn: int, text: str, last: bool = False) -> VoiceToken:
    return VoiceToken(turn=turn, token=text, last=last)


def end_for(turn: int) -> VoiceEnd:
    return VoiceEnd(turn=turn, handoff_id=f"{CALL_SID}:0", handoff_data=HANDOFF_DATA)


def text(token_text: str, last: bool = False) -> dict[str, Any]:
    return {"type": "text", "token": token_text, "last": last}


async def parked_end(call: CallSession, turn: int) -> asyncio.Task[VoiceEndAnswer]:
    """Ask for ``end`` and return once the session holds it as pending."""
    task = asyncio.create_task(call.on_end(end_for(turn)))
    await until(lambda: call.pending_end is not None or task.done(), WAIT)
    return task


async def test_end_waits_for_the_goodbye_last_frame() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Connecting you "))
    answer = await parked_end(call, 7)
    assert socket.frames == [text("Connecting you ")], "end went out before the final frame"
    assert not answer.done()

    await call.on_token(token(7, "now.", last=True))

    assert await asyncio.wait_for(answer, WAIT) == VoiceEndAnswer(status="sent")
    assert socket.frames == [text("Connecting you "), text("now.", last=True), END_FRAME]


async def test_end_for_a_turn_already_finished_goes_out_at_once() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Goodbye.", last=True))
    assert await asyncio.wait_for(call.on_end(end_for(7)), WAIT) == VoiceEndAnswer(status="sent")
    assert socket.frames == [text("Goodbye.", last=True), END_FRAME]


async def test_end_waits_for_its_own_turn_not_an_earlier_one() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Sure.", last=True))
    call.prompt_stored(9)
    answer = await parked_end(call, 9)
    assert socket.frames == [text("Sure.", last=True)]

    await call.on_token(token(9, "Connecting.", last=True))

    assert await asyncio.wait_for(answer, WAIT) == VoiceEndAnswer(status="sent")
    assert socket.frames == [text("Sure.", last=True), text("Connecting.", last=True), END_FRAME]


async def test_end_is_sent_once_and_a_second_end_is_answered_sent() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    first = await parked_end(call, 7)
    second = asyncio.create_task(call.on_end(end_for(7)))
    await call.on_token(token(7, "Bye.", last=True))

    assert await asyncio.wait_for(first, WAIT) == VoiceEndAnswer(status="sent")
    assert await asyncio.wait_for(second, WAIT) == VoiceEndAnswer(status="sent")
    again = await asyncio.wait_for(call.on_end(end_for(7)), WAIT)
    assert again == VoiceEndAnswer(status="sent")
    assert socket.frames == [text("Bye.", last=True), END_FRAME]


async def test_an_interrupted_goodbye_is_closed_with_last_then_end() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Connecting you "))
    answer = await parked_end(call, 7)

    assert await call.on_interrupt() == 7

    assert await asyncio.wait_for(answer, WAIT) == VoiceEndAnswer(status="sent")
    assert socket.frames == [text("Connecting you "), CLOSE_CUT_REPLY, END_FRAME]


async def test_a_goodbye_interrupted_before_its_first_token_still_closes_then_ends() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    answer = await parked_end(call, 7)
    await call.on_interrupt()
    assert await asyncio.wait_for(answer, WAIT) == VoiceEndAnswer(status="sent")
    assert socket.frames == [CLOSE_CUT_REPLY, END_FRAME]


async def test_an_interrupt_with_no_reply_open_sends_nothing() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(3)
    await call.on_token(token(3, "Done.", last=True))
    assert await call.on_interrupt() == 3
    assert socket.frames == [text("Done.", last=True)]


async def test_late_tokens_of_an_interrupted_turn_are_dropped() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(5)
    await call.on_token(token(5, "Let me "))
    await call.on_interrupt()
    await call.on_token(token(5, "check "))
    await call.on_token(token(5, "that.", last=True))
    call.prompt_stored(6)
    await call.on_token(token(6, "Yes?", last=True))
    assert socket.frames == [text("Let me "), CLOSE_CUT_REPLY, text("Yes?", last=True)]


async def test_tokens_of_a_completed_turn_are_dropped() -> None:
    """A redelivered token of a turn whose ``last:true`` already went out is not spoken twice."""
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(4)
    await call.on_token(token(4, "Hello.", last=True))
    await call.on_token(token(4, "Hello.", last=True))
    await call.on_token(token(3, "older"))
    assert socket.frames == [text("Hello.", last=True)]


async def test_agent_frames_of_an_interrupted_turn_are_dropped() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(5)
    await call.on_interrupt()
    play = {"type": "play", "source": "https://cdn.example.test/hold.mp3", "loop": 1}
    await call.on_agent_frame(VoiceFrame(turn=5, frame=play))
    call.prompt_stored(6)
    digits = {"type": "sendDigits", "digits": "12#"}
    await call.on_agent_frame(VoiceFrame(turn=6, frame=digits))
    assert socket.frames == [CLOSE_CUT_REPLY, digits]


async def test_the_agent_cannot_send_end_or_text_frames_itself() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(2)
    await call.on_agent_frame(VoiceFrame(turn=2, frame=END_FRAME))
    await call.on_agent_frame(VoiceFrame(turn=2, frame=text("spoofed", last=True)))
    language = {"type": "language", "ttsLanguage": "es-MX", "transcriptionLanguage": "es-MX"}
    await call.on_agent_frame(VoiceFrame(turn=2, frame=language))
    assert socket.frames == [language]


async def test_a_hang_up_before_end_answers_caller_gone() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Connecting "))
    answer = await parked_end(call, 7)

    call.hung_up()

    assert await asyncio.wait_for(answer, WAIT) == VoiceEndAnswer(status="caller_gone")
    await call.on_token(token(7, "you.", last=True))
    assert socket.frames == [text("Connecting ")]
    assert not call.end_sent


async def test_end_after_the_caller_hung_up_is_caller_gone() -> None:
    socket = RecordingSocket()
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Bye.", last=True))
    call.hung_up()
    assert await asyncio.wait_for(call.on_end(end_for(7)), WAIT) == VoiceEndAnswer(
        status="caller_gone"
    )
    assert socket.frames == [text("Bye.", last=True)]


async def test_a_socket_that_fails_on_end_is_caller_gone_not_sent() -> None:
    socket = RecordingSocket(refuse_type="end")
    call = new_call(socket)
    call.prompt_stored(7)
    await call.on_token(token(7, "Bye.", last=True))
    answer = await asyncio.wait_for(call.on_end(end_for(7)), WAIT)
    assert answer == VoiceEndAnswer(status="caller_gone")
    assert call.closed and not call.end_sent
    assert await asyncio.wait_for(call.on_end(end_for(7)), WAIT) == VoiceEndAnswer(
        status="caller_gone"
    )


async def test_the_first_prompt_of_a_call_is_played_and_an_early_interrupt_sends_nothing() -> None:
    """Turn numbers are stream sequences: the very first prompt of a fresh stream is turn 1."""
    socket = RecordingSocket()
    call = new_call(socket)
    assert await call.on_interrupt() == 0, "nothing was said yet"
    call.prompt_stored(1)
    await call.on_token(token(1, "Hello.", last=True))
    assert socket.frames == [text("Hello.", last=True)]


@dataclass
class RecordingTiming:
    """Stands in for the call's turn clocks: what the session told them, in order."""

    events: list[tuple[str, int]] = field(default_factory=list)

    def first_frame(self, turn: int) -> None:
        self.events.append(("first_frame", turn))

    def interrupted(self, through: int) -> None:
        self.events.append(("interrupted", through))

    def close(self) -> None:
        self.events.append(("close", 0))


async def test_the_turn_clock_stops_on_frames_sent_and_never_after_the_call_closed() -> None:
    socket, timing = RecordingSocket(), RecordingTiming()
    call = CallSession(CALL_SID, send=socket.send, timing=cast(VoiceTurnTiming, timing))
    call.prompt_stored(4)
    await call.on_agent_frame(VoiceFrame(turn=4, frame={"type": "play", "source": "a.mp3"}))
    await call.on_token(token(4, "Hi.", last=True))
    call.prompt_stored(5)
    await call.on_interrupt()
    call.hung_up()
    await call.on_token(token(6, "Late.", last=True))
    await call.on_agent_frame(VoiceFrame(turn=6, frame={"type": "play", "source": "b.mp3"}))
    assert timing.events == [
        ("first_frame", 4),
        ("first_frame", 4),
        ("interrupted", 5),
        ("close", 0),
    ]
