"""What the relay socket makes of one frame, before any call state is involved."""

from __future__ import annotations

import logging

import pytest

from libs.platform.logs import printable
from services.relay_gateway.caller_frames import (
    LOGGED_PER_CALL,
    Allowance,
    CallerFrames,
    FrameLimits,
    Ignored,
    dtmf_digit,
    read_frame,
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain words", "plain words"),
        ("bad\r\n2026 INFO forged", "bad\\r\\n2026 INFO forged"),
        ("nul\x00 tab\t nel\x85 ls\u2028", "nul\\x00 tab\\t nel\\x85 ls\\u2028"),
        ("é中 are printable", "é中 are printable"),
    ],
)
def test_printable_escapes_every_control_character(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_cuts_long_text() -> None:
    assert printable("a" * 500, 10) == "a" * 10 + "…"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "websocket.receive", "bytes": b"{}"}, Ignored.BINARY),
        ({"type": "websocket.receive", "text": "é" * 600}, Ignored.OVERSIZED),
        ({"type": "websocket.receive", "text": "[" * 1000}, Ignored.NOT_JSON),
        ({"type": "websocket.receive", "text": "{'single': 'quotes'}"}, Ignored.NOT_JSON),
        ({"type": "websocket.receive", "text": "[]"}, Ignored.NOT_OBJECT),
        ({"type": "websocket.receive", "text": "null"}, Ignored.NOT_OBJECT),
        ({"type": "websocket.receive", "text": '"setup"'}, Ignored.NOT_OBJECT),
    ],
)
def test_frames_that_are_not_json_objects_within_the_size_are_ignored(
    message: dict[str, object], reason: Ignored
) -> None:
    assert read_frame(message, max_bytes=1024) is reason


def test_a_json_object_within_the_size_is_read() -> None:
    message = {"type": "websocket.receive", "text": '{"type": "dtmf", "digit": "5"}'}
    assert read_frame(message, max_bytes=1024) == {"type": "dtmf", "digit": "5"}


@pytest.mark.parametrize("digit", ["0", "9", "*", "#"])
def test_a_key_of_the_keypad_is_a_digit(digit: str) -> None:
    assert dtmf_digit({"type": "dtmf", "digit": digit}) == digit


@pytest.mark.parametrize("digit", ["55", "", "a", "١", "5\n", 5, None, ["5"]])
def test_anything_else_is_not(digit: object) -> None:
    assert dtmf_digit({"type": "dtmf", "digit": digit}) is Ignored.MALFORMED


def test_an_allowance_gives_its_burst_then_refuses() -> None:
    allowance = Allowance(burst=3, per_second=0.001)
    assert [allowance.take() for _ in range(5)] == [True, True, True, False, False]


def test_a_flood_of_bad_frames_or_errors_logs_a_few_lines_and_a_sum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = FrameLimits(1024, 100, 1, 1.0, 1, 1.0)
    frames = CallerFrames("CA1", limits)
    with caplog.at_level(logging.WARNING, logger="baton.relay_gateway.frames"):
        for _ in range(1000):
            frames.ignore(Ignored.UNKNOWN_TYPE, {"type": "spam"})
            frames.twilio_error({"type": "error", "description": "spam"})
        frames.summary()
    assert len(caplog.records) == 2 * LOGGED_PER_CALL + 2
    assert caplog.records[-2].getMessage() == (
        "call CA1: frames ignored during the call: unknown_type 1000"
    )
    assert caplog.records[-1].getMessage() == "call CA1: Twilio reported 1000 errors"
