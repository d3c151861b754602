"""Each voice turn's own trace, ended by the first reply frame of that turn and only then."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags

from libs.contracts.messages import VoiceToken
from libs.platform.metrics import REGISTRY
from services.relay_gateway.calls import CallSession
from services.relay_gateway.turn_timing import VoiceTurnTiming
from tests.support.recorders import LocalSpans, local_spans

CALL_SID = "CA" + "cd" * 16
CALL_SPAN = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=False,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)
LATENCY_COUNT = "baton_voice_turn_latency_seconds_count"
STORED_COUNT = "baton_voice_prompt_store_seconds_count"


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def spans() -> Iterator[LocalSpans]:
    with local_spans() as recorded:
        yield recorded


@pytest.fixture
def exporter(spans: LocalSpans) -> InMemorySpanExporter:
    return spans[1]


@pytest.fixture
def timing(spans: LocalSpans) -> VoiceTurnTiming:
    return VoiceTurnTiming(spans[0], CALL_SID, CALL_SPAN)


def ended(exporter: InMemorySpanExporter) -> dict[Any, ReadableSpan]:
    """Finished turn spans by their turn sequence (or prompt number when never stored)."""
    found: dict[Any, ReadableSpan] = {}
    for span in exporter.get_finished_spans():
        attributes = span.attributes or {}
        found[attributes.get("baton.turn.sequence", attributes["baton.voice.prompt"])] = span
    return found


def unanswered(span: ReadableSpan) -> object:
    return (span.attributes or {}).get("baton.voice.unanswered")


def test_a_turn_is_a_new_trace_linked_to_the_call(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    opened = timing.begin("prompt", 1)
    timing.stored(41, opened)
    timing.first_frame(41)
    [span] = exporter.get_finished_spans()
    assert span.name == "voice.turn" and span.parent is None
    assert span.context is not None and span.context.trace_id != CALL_SPAN.trace_id
    assert [link.context for link in span.links] == [CALL_SPAN]
    attributes = dict(span.attributes or {})
    latency = attributes.pop("baton.voice.turn_latency_ms")
    assert isinstance(latency, float) and latency >= 0.0
    assert attributes == {
        "baton.call_sid": CALL_SID,
        "baton.conversation_id": CALL_SID,
        "baton.channel": "voice",
        "baton.voice.prompt": 1,
        "baton.voice.prompt_kind": "prompt",
        "baton.turn.sequence": 41,
    }


def test_only_the_first_frame_of_a_turn_is_measured(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    latencies, stored = sample(LATENCY_COUNT), sample(STORED_COUNT)
    opened = timing.begin("dtmf", 1)
    timing.stored(41, opened)
    assert exporter.get_finished_spans() == ()
    timing.first_frame(41)
    timing.first_frame(41)
    timing.first_frame(99)  # a turn this socket never stored
    assert sample(LATENCY_COUNT) - latencies == 1
    assert sample(STORED_COUNT) - stored == 1
    assert len(exporter.get_finished_spans()) == 1


def test_a_later_turns_frame_closes_earlier_unanswered_turns_as_coalesced(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    latencies = sample(LATENCY_COUNT)
    timing.stored(41, timing.begin("prompt", 1))
    timing.stored(43, timing.begin("prompt", 2))
    timing.first_frame(43)
    spans = ended(exporter)
    assert unanswered(spans[41]) == "coalesced"
    assert unanswered(spans[43]) is None
    assert sample(LATENCY_COUNT) - latencies == 1


def test_interrupted_turns_and_a_hang_up_are_not_timed(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    latencies = sample(LATENCY_COUNT)
    timing.stored(41, timing.begin("prompt", 1))
    timing.stored(43, timing.begin("prompt", 2))
    timing.interrupted(42)
    assert list(ended(exporter)) == [41]
    timing.close()
    reasons = {turn: unanswered(span) for turn, span in ended(exporter).items()}
    assert reasons == {41: "interrupted", 43: "hung_up"}
    timing.first_frame(43)
    assert sample(LATENCY_COUNT) - latencies == 0


def test_a_turn_that_could_not_be_stored_is_ended_untimed(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    timing.failed(timing.begin("prompt", 1))
    [span] = exporter.get_finished_spans()
    assert "baton.turn.sequence" not in (span.attributes or {})
    timing.close()
    assert len(exporter.get_finished_spans()) == 1


async def test_the_call_session_stops_the_clock_at_a_turns_first_token(
    timing: VoiceTurnTiming, exporter: InMemorySpanExporter
) -> None:
    async def discard(frame: dict[str, Any]) -> None:
        return None

    call = CallSession(CALL_SID, send=discard, timing=timing)
    timing.stored(41, timing.begin("prompt", 1))
    call.prompt_stored(41)
    await call.on_token(VoiceToken(turn=41, token="Hi "))
    assert list(ended(exporter)) == [41]
    assert unanswered(ended(exporter)[41]) is None
