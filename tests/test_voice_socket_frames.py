"""No frame ends a call: whatever Twilio's side of the socket sends after ``setup``.

Binary frames, JSON that is not an object, oversized frames, unknown types, malformed
prompts and DTMF digits are counted, logged with control characters escaped, and ignored;
the socket stays open and the next real prompt is answered. Floods of prompts or digits are
bounded by the call's allowance, a silent socket is closed with a close frame, and a replica's
tables are empty again once its sockets have closed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
import tracemalloc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.js import JetStreamContext

from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import TURNS, TURNS_STREAM
from libs.platform.metrics import REGISTRY
from tests.support.relay_caller import RelayCaller, dial, relay_url_for
from tests.support.streams import messages_on
from tests.support.twilio_fakes import sid
from tests.support.waits import eventually, until
from tests.test_voice import VoiceStack, start_voice_stack, text_of

IGNORED = "baton_voice_frames_ignored_total"
MAX_FRAME_BYTES = 2048
MAX_PROMPT_CHARS = 200


@asynccontextmanager
async def voice_stack(
    nats_url: str, js: JetStreamContext, **relay_settings: object
) -> AsyncIterator[VoiceStack]:
    async with AsyncExitStack() as stack:
        yield await start_voice_stack(stack, nats_url, js, **relay_settings)


async def turns_of(js: JetStreamContext, call_sid: str) -> list[CustomerTurn]:
    return await messages_on(js, TURNS_STREAM, TURNS.subject(call_sid), CustomerTurn)


def ignored(reason: str) -> float:
    return REGISTRY.get_sample_value(IGNORED, {"reason": reason}) or 0.0


async def answered(caller: RelayCaller, text: str, timeout: float = 10.0) -> None:
    """Wait until the agent's reply to ``text`` reached the caller."""

    def heard() -> bool:
        return any(
            frame.get("type") == "text" and text in str(frame.get("token", ""))
            for _, frame in caller.log
        )

    await until(heard, timeout)


async def test_no_frame_drops_the_call(
    nats_url: str, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    async with voice_stack(nats_url, js) as voice:
        call_sid = sid("CA")
        caller = await dial(voice.relay_urls[0], call_sid)
        before = {reason: ignored(reason) for reason in ("binary", "not_object", "oversized")}
        with caplog.at_level(logging.WARNING):
            await caller.connection.send(b"\x00\x01binary")
            await caller.connection.send("[]")
            await caller.connection.send("null")
            await caller.connection.send("{not json")
            await caller.say("x" * 300_000)
            await caller.say("y" * 5_000)  # one frame, but over BATON_VOICE_MAX_PROMPT_CHARS
            await caller.send({"type": "somethingNew", "x": 1})
            await caller.send({"type": "prompt", "voicePrompt": ["a list"], "last": True})
            await caller.send({"type": "prompt", "voicePrompt": "hi", "last": "yes"})
            await caller.send({"type": "dtmf", "digit": "55"})
            await caller.send({"type": "dtmf", "digit": "x"})
            await caller.send({"type": "dtmf"})
            await caller.send({"type": "error", "description": "bad\r\n2026 INFO forged line"})
            await caller.say("still there?")
            assert text_of(await caller.reply()) == "You said: still there?"
        assert not caller.closed.is_set()
        assert [turn.text for turn in await turns_of(js, call_sid)] == ["still there?"]
        assert {reason: ignored(reason) - count for reason, count in before.items()} == {
            "binary": 1,
            "not_object": 2,
            "oversized": 1,
        }
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("baton.")]
        assert not any("\r" in line or "\n" in line for line in lines)
        assert any("bad\\r\\n2026 INFO forged line" in line for line in lines)
        assert not any("xxxx" in line or "yyyy" in line for line in lines), "no caller words"
        await caller.hang_up()


async def test_a_dtmf_flood_is_bounded_by_the_calls_allowance(
    nats_url: str, js: JetStreamContext
) -> None:
    burst, per_second = 5, 2.0
    async with voice_stack(
        nats_url, js, baton_voice_dtmf_burst=burst, baton_voice_dtmf_per_second=per_second
    ) as voice:
        call_sid = sid("CA")
        caller = await dial(voice.relay_urls[0], call_sid)
        started = time.monotonic()
        for _ in range(1000):
            await caller.send({"type": "dtmf", "digit": "1"})
        await caller.say("done pressing")
        await answered(caller, "done pressing", timeout=30)
        elapsed = time.monotonic() - started
        digits = [turn for turn in await turns_of(js, call_sid) if turn.kind == "dtmf"]
        print(f"DTMF flood: 1000 frames in {elapsed:.2f} s became {len(digits)} turns")
        assert burst <= len(digits) <= burst + per_second * elapsed + 1
        await caller.hang_up()


async def test_a_prompt_flood_is_bounded_by_the_calls_allowance(
    nats_url: str, js: JetStreamContext
) -> None:
    async with voice_stack(
        nats_url, js, baton_voice_prompt_burst=3, baton_voice_prompts_per_second=1.0
    ) as voice:
        call_sid = sid("CA")
        caller = await dial(voice.relay_urls[0], call_sid)
        limited_before = ignored("rate_limited")
        started = time.monotonic()
        for n in range(200):
            await caller.say(f"prompt {n}")

        async def settled() -> tuple[int, float]:
            return len(await turns_of(js, call_sid)), ignored("rate_limited") - limited_before

        published, _ = await eventually(settled, lambda seen: sum(seen) == 200, timeout=30)
        elapsed = time.monotonic() - started
        print(f"prompt flood: 200 frames in {elapsed:.2f} s became {published} turns")
        assert 3 <= published <= 3 + elapsed + 1
        await caller.hang_up()


async def test_a_silent_socket_is_closed_with_a_close_frame(
    nats_url: str, js: JetStreamContext
) -> None:
    async with voice_stack(nats_url, js, baton_voice_idle_timeout_seconds=0.5) as voice:
        caller = await dial(voice.relay_urls[0], sid("CA"))
        await asyncio.wait_for(caller.closed.wait(), 10)
        assert caller.connection.close_code == 1000
        assert caller.connection.close_reason == "idle timeout"
        await until(lambda: voice.live_calls[0].calls == {})


async def test_memory_returns_to_baseline_after_sockets_close(
    nats_url: str, js: JetStreamContext
) -> None:
    """Every session is collected and the tables are empty; what the process still holds
    (test client included) is a few KiB of caches, not the ~70 KiB per call a leak would be."""
    async with (
        voice_stack(nats_url, js, baton_voice_max_live_calls=400) as voice,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=25)) as http,
    ):
        gateway, live = voice.relay_urls[0], voice.live_calls[0]

        async def round_of_calls(count: int) -> list[weakref.ref[Any]]:
            opening = asyncio.Semaphore(25)

            async def one_call() -> RelayCaller:
                async with opening:
                    call_sid = sid("CA")
                    url = await relay_url_for(gateway, call_sid, http)
                    return await dial(gateway, call_sid, url=url)

            callers = await asyncio.gather(*(one_call() for _ in range(count)))
            await until(lambda: len(live.calls) == count, timeout=30)
            sessions = [weakref.ref(call) for call in live.calls.values()]
            await asyncio.gather(*(caller.hang_up() for caller in callers))
            await until(lambda: live.calls == {}, timeout=30)
            return sessions

        await round_of_calls(50)  # warm up: imports, pools, first-use caches
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            sessions = await round_of_calls(300)
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()
        alive = sum(ref() is not None for ref in sessions)
        print(f"300 sockets opened and closed: {retained // 1024} KiB retained, {alive} alive")
        assert alive == 0, "a closed call's session is still referenced"
        assert retained < 3 * 1024 * 1024


# --- property-based: random frames after setup ----------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
SAFE_WORDS = st.text(alphabet="abcdefgjkpqrtvwxz 0123456789\r\n\t\x00é中", max_size=250)
"""Prompt texts that never ask the test agent for a human, slow speech or hold music."""
FRAME_TYPES = st.sampled_from(
    ["prompt", "dtmf", "interrupt", "info", "error", "setup", "text", "end", "", "PROMPT"]
)
OBJECT_FRAMES = st.fixed_dictionaries(
    {"type": FRAME_TYPES | JSON_VALUES},
    optional={
        "voicePrompt": SAFE_WORDS | JSON_VALUES,
        "last": st.booleans() | JSON_VALUES,
        "digit": st.sampled_from(list("0123456789*#")) | st.text(max_size=3) | JSON_VALUES,
        "utteranceUntilInterrupt": SAFE_WORDS | JSON_VALUES,
        "description": SAFE_WORDS,
    },
)
VALID_FRAMES = st.one_of(
    SAFE_WORDS.filter(str.strip).map(lambda text: {"type": "prompt", "voicePrompt": text}),
    st.sampled_from(list("0123456789*#")).map(lambda digit: {"type": "dtmf", "digit": digit}),
    st.just({"type": "info", "name": "agentSpeaking", "value": "on"}),
)
FRAMES = (
    VALID_FRAMES.map(json.dumps)
    | OBJECT_FRAMES.map(json.dumps)
    | JSON_VALUES.map(json.dumps)
    | st.binary(max_size=64)
    | st.text(max_size=40)
    | st.integers(MAX_FRAME_BYTES, MAX_FRAME_BYTES * 3).map(
        lambda size: json.dumps({"type": "prompt", "voicePrompt": "z" * size})
    )
)


def turns_expected(raw: str | bytes) -> int:
    """What the gateway should publish for one frame: 1 for a final prompt or a digit."""
    if isinstance(raw, bytes) or len(raw.encode()) > MAX_FRAME_BYTES:
        return 0
    try:
        frame = json.loads(raw)
    except ValueError:
        return 0
    if not isinstance(frame, dict):
        return 0
    if frame.get("type") == "prompt":
        text, last = frame.get("voicePrompt"), frame.get("last", True)
        if not (isinstance(text, str) and text.strip() and isinstance(last, bool)):
            return 0
        return int(last and len(text) <= MAX_PROMPT_CHARS)
    if frame.get("type") == "dtmf":
        digit = frame.get("digit")
        return int(isinstance(digit, str) and len(digit) == 1 and digit in "0123456789*#")
    return 0


async def test_random_frames_after_setup_never_drop_the_call(
    nats_url: str, js: JetStreamContext
) -> None:
    loop = asyncio.get_running_loop()
    allowance = {"baton_voice_prompt_burst": 10_000, "baton_voice_dtmf_burst": 10_000}
    limits = {
        "baton_voice_max_frame_bytes": MAX_FRAME_BYTES,
        "baton_voice_max_prompt_chars": MAX_PROMPT_CHARS,
    }
    async with voice_stack(nats_url, js, **allowance, **limits) as voice:
        call_sid = sid("CA")
        caller = await dial(voice.relay_urls[0], call_sid)
        counts = {"cases": 0, "frames": 0, "refused": 0, "published": 0}

        async def one_case(frames: list[str | bytes]) -> None:
            counts["cases"] += 1
            before = len(await turns_of(js, call_sid))
            for raw in frames:
                await caller.connection.send(raw)
            probe = f"probe {counts['cases']}"
            await caller.say(probe)
            await answered(caller, probe)
            assert not caller.closed.is_set(), "a frame closed the socket"
            published = len(await turns_of(js, call_sid)) - before - 1
            expected = sum(turns_expected(raw) for raw in frames)
            assert published == expected, frames
            counts["frames"] += len(frames)
            counts["published"] += published
            counts["refused"] += sum(1 for raw in frames if not turns_expected(raw))

        def run(coroutine: Callable[[], Awaitable[None]]) -> None:
            asyncio.run_coroutine_threadsafe(coroutine(), loop).result(timeout=60)

        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frames=st.lists(FRAMES, min_size=1, max_size=6))
        def property_holds(frames: list[str | bytes]) -> None:
            run(lambda: one_case(frames))

        await asyncio.to_thread(property_holds)
        print(
            f"relay frame fuzz: {counts['cases']} cases, {counts['frames']} frames tried, "
            f"{counts['refused']} not turns (ignored, info, error...), "
            f"{counts['published']} published as turns"
        )
        assert not caller.closed.is_set()
        await caller.hang_up()
