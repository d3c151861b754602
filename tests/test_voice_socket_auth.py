"""Who may open a relay socket: Twilio, for one call, once, before its URL expires.

An attacker who captured a signature (or a whole signed URL) can open no other call, cannot
join a live call, hears none of its replies, and leaves it live when they hang up. Every
refusal happens at the handshake: HTTP 403, never a 101 followed by a close.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from nats.js import JetStreamContext
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import TURNS, TURNS_STREAM
from libs.platform.metrics import REGISTRY
from services.relay_gateway.call_url import RELAY_CALL_ROUTE, RelayUrlSigner
from tests.support.relay_caller import dial, relay_signature, relay_url_for
from tests.support.streams import messages_on
from tests.support.twilio_fakes import AUTH_TOKEN, post_signed_form, sid
from tests.support.waits import until
from tests.test_voice import VoiceStack, start_voice_stack, text_of

REJECTIONS = "baton_webhook_signature_rejections_total"


@pytest.fixture
async def voice(nats_url: str, js: JetStreamContext) -> AsyncIterator[VoiceStack]:
    async with AsyncExitStack() as stack:
        yield await start_voice_stack(stack, nats_url, js, baton_voice_max_live_calls=3)


async def handshake_status(url: str, signature: str | None) -> int:
    """The HTTP status of a refused upgrade (the test fails if the socket opens)."""
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers):
            pass
    return refused.value.response.status_code


def rejections(reason: str) -> float:
    labels = {"route": RELAY_CALL_ROUTE, "reason": reason}
    return REGISTRY.get_sample_value(REJECTIONS, labels) or 0.0


async def turns_of(js: JetStreamContext, call_sid: str) -> list[str]:
    turns = await messages_on(js, TURNS_STREAM, TURNS.subject(call_sid), CustomerTurn)
    return [turn.text for turn in turns]


async def test_an_unsigned_or_forged_upgrade_is_refused_at_the_handshake(
    voice: VoiceStack,
) -> None:
    gateway = voice.relay_urls[0]
    url = await relay_url_for(gateway, sid("CA"))
    assert await handshake_status(url, None) == 403
    assert await handshake_status(url, relay_signature(url, "another-auth-token-0001")) == 403
    fixed = gateway.replace("http://", "ws://") + "/voice/relay"
    assert await handshake_status(fixed, relay_signature(fixed)) == 403, "no URL without a call"
    assert voice.live_calls[0].calls == {}


async def test_a_url_the_gateway_did_not_issue_or_that_expired_is_refused(
    voice: VoiceStack,
) -> None:
    """Even signed over itself (as if the auth token leaked with an old URL)."""
    gateway = voice.relay_urls[0]
    socket_base = gateway.replace("http://", "ws://")
    call_sid = sid("CA")
    forged = f"{socket_base}/voice/relay/{call_sid}/{int(time.time()) + 3600}/made-up"
    expired_path = RelayUrlSigner(AUTH_TOKEN, ttl_seconds=60).path(call_sid, time.time() - 61)
    expired = socket_base + expired_path
    before = rejections("forged_relay_url"), rejections("expired_relay_url")
    assert await handshake_status(forged, relay_signature(forged)) == 403
    assert await handshake_status(expired, relay_signature(expired)) == 403
    assert (rejections("forged_relay_url"), rejections("expired_relay_url")) == (
        before[0] + 1,
        before[1] + 1,
    ), "each refusal is counted with its reason"


async def test_a_replayed_signature_cannot_join_or_end_a_live_call(voice: VoiceStack) -> None:
    gateway = voice.relay_urls[0]
    victim_sid = sid("CA")
    victim_url = await relay_url_for(gateway, victim_sid)
    victim = await dial(gateway, victim_sid, url=victim_url)
    await victim.say("what are your opening hours")
    assert text_of(await victim.reply()) == "You said: what are your opening hours"

    # The victim's own URL and signature, replayed while the call is live: refused.
    assert await handshake_status(victim_url, relay_signature(victim_url)) == 403
    # A genuine URL of another call, with setup naming the victim's call: closed, 1008.
    attacker = await dial(gateway, victim_sid, url=await relay_url_for(gateway, sid("CA")))
    await attacker.say("I want a human")
    await asyncio.wait_for(attacker.closed.wait(), 5)
    assert attacker.connection.close_code == 1008

    await victim.say("and on sundays")
    assert text_of(await victim.reply()) == "You said: and on sundays"
    assert attacker.log == [], "the attacker heard none of the victim's replies"
    assert await turns_of(voice.js, victim_sid) == ["what are your opening hours", "and on sundays"]
    assert "I want a human" not in voice.agent.heard
    assert victim_sid in voice.live_calls[0].calls, "the attacker's exit left the call live"
    assert not victim.closed.is_set()
    await victim.hang_up()
    await until(lambda: voice.live_calls[0].calls == {})


async def test_a_replica_refuses_sockets_beyond_its_cap_with_503(voice: VoiceStack) -> None:
    gateway = voice.relay_urls[0]
    callers = [await dial(gateway, sid("CA")) for _ in range(3)]
    await until(lambda: len(voice.live_calls[0].calls) == 3)
    url = await relay_url_for(gateway, sid("CA"))
    assert await handshake_status(url, relay_signature(url)) == 503
    await callers[0].hang_up()
    await until(lambda: len(voice.live_calls[0].calls) == 2)
    newcomer = await dial(gateway, sid("CA"))
    await newcomer.say("room now?")
    assert text_of(await newcomer.reply()) == "You said: room now?"
    for caller in (*callers[1:], newcomer):
        await caller.hang_up()


async def test_a_call_sid_that_is_not_one_gets_no_socket_url(voice: VoiceStack) -> None:
    async with httpx.AsyncClient() as client:
        response = await post_signed_form(
            client,
            f"{voice.relay_urls[0]}/voice/incoming",
            {"CallSid": "CA1/../../internal", "From": "+15005550006", "To": "+15005550001"},
        )
    assert response.status_code == 400
    assert "ConversationRelay" not in response.text
