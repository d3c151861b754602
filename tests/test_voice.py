"""Voice over ConversationRelay through all services, with real sockets and a real NATS."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import pytest
from nats.js import JetStreamContext
from websockets.exceptions import InvalidStatus

from baton_devtools.nats_server import free_port
from libs.contracts.messages import HandoffFailure, HandoffOutcome, HandoffResult
from libs.contracts.subjects import CONVERSATIONS_BUCKET, HANDOFF_RESULT, TURNS_STREAM
from libs.platform.conversation_store import ConversationStore
from libs.platform.metrics import REGISTRY
from libs.platform.publishing import stored_right_after
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.agent_worker.turn_log import TurnLog
from services.handoff_dispatcher.main import create_app as create_dispatcher
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.relay_gateway.call_url import RELAY_CALL_ROUTE
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.relay import LiveCalls
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.env_settings import settings_error
from tests.support.quiescence import consumers_caught_up
from tests.support.relay_caller import dial, relay_signature
from tests.support.servers import admin_url, serve
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.twilio_fakes import post_signed_form, sid, twilio_env
from tests.support.waits import until

SLOW_TOKEN_SECONDS = 0.25
WORKFLOW = "WW" + "55" * 16
RELAY_ATTRIBUTES = {
    "ttsProvider": "ElevenLabs",
    "transcriptionProvider": "Deepgram",
    "speechModel": "nova-3-general",
    "hints": "Baton,Flex",
    "intelligenceService": "GA" + "11" * 16,
    "welcomeGreetingInterruptible": "none",
    "profanityFilter": False,
    "ttsLanguage": "en-US",
    "transcriptionLanguage": "en-US",
    "preemptible": True,
    "reportInputDuringAgentSpeech": True,
    "elevenlabsTextNormalization": "on",
    "interruptSensitivity": "high",
    "debug": "speaker-events",
}
LANGUAGES = [
    {
        "code": "es-MX",
        "ttsProvider": "ElevenLabs",
        "voice": "UgBBYS2sOqTuMpoF3BR0",
        "transcriptionProvider": "Deepgram",
        "speechModel": "nova-3-general",
    }
]


@dataclass
class ScriptedVoiceAgent:
    """Echoes; streams slowly on "slow"; hands off on "human"."""

    heard: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        self.heard.append(turn.text)
        slow = "slow" in turn.text
        if "hold music" in turn.text and tools.voice is not None:
            await tools.voice.play("https://cdn.example.test/hold.mp3", loop=2)
            await tools.voice.send_digits("ww12#")
            await tools.voice.language(tts="es-MX", transcription="es-MX")
        if "human" in turn.text:
            await tools.request_handoff("caller asked for a human")
            tokens = ["Connecting ", "you ", "to ", "a ", "person ", "now."]
        elif slow:
            tokens = [f"part{index} " for index in range(12)]
        else:
            tokens = ["You ", "said: ", turn.text]
        try:
            for token in tokens:
                if slow:
                    await asyncio.sleep(SLOW_TOKEN_SECONDS)
                yield token
        except asyncio.CancelledError:
            self.cancelled.append(turn.text)
            raise


@dataclass
class VoiceStack:
    relay_urls: list[str]
    agent: ScriptedVoiceAgent
    js: JetStreamContext
    live_calls: list[LiveCalls] = field(default_factory=list)
    """Each relay gateway's table of live calls, in the order of ``relay_urls``."""
    admin_urls: list[str] = field(default_factory=list)
    """Each relay's admin listener (``/metrics``, ``/internal/*``)."""


async def start_voice_stack(
    stack: AsyncExitStack,
    nats_url: str,
    js: JetStreamContext,
    relays: int = 1,
    **relay_settings: object,
) -> VoiceStack:
    agent = ScriptedVoiceAgent()
    urls, admins = [], []
    live_calls = []
    for _ in range(relays):
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        env = twilio_env(nats_url, public_base_url=public)
        settings = RelayGatewaySettings(**{**env, **relay_settings})
        relay = create_relay(settings)
        live_calls.append(relay.state.live_calls)
        urls.append(await stack.enter_async_context(serve(relay, port)))
        admins.append(admin_url(relay))
    worker = AgentWorkerSettings(nats_url=nats_url)
    await stack.enter_async_context(serve(create_worker(worker, agent=agent)))
    dispatcher = HandoffDispatcherSettings(
        **twilio_env(nats_url, twilio_api_base_url="http://127.0.0.1:9")
    )
    await stack.enter_async_context(serve(create_dispatcher(dispatcher)))
    return VoiceStack(urls, agent, js, live_calls, admins)


@pytest.fixture
async def voice(nats_url: str, js: JetStreamContext) -> AsyncIterator[VoiceStack]:
    async with AsyncExitStack() as stack:
        yield await start_voice_stack(stack, nats_url, js)


def text_of(frames: list[dict[str, object]]) -> str:
    return "".join(str(f.get("token", "")) for f in frames if f.get("type") == "text")


async def test_incoming_call_gets_connect_twiml(voice: VoiceStack) -> None:
    url = voice.relay_urls[0]
    call_sid = sid("CA")
    async with httpx.AsyncClient() as client:
        response = await post_signed_form(
            client,
            f"{url}/voice/incoming",
            {"CallSid": call_sid, "From": "+15005550006", "To": "+15005550001"},
        )
    assert response.status_code == 200
    body = response.text
    assert '<Connect action="https://webhooks.twilio.com/v1/Accounts/AC' in body
    assert "?Trigger=incomingCall" in body
    socket_url = re.escape(f"{url.replace('http://', 'ws://')}/voice/relay/{call_sid}/")
    assert re.search(f'url="{socket_url}[0-9]+/[A-Za-z0-9_-]{{43}}"', body), body
    assert 'dtmfDetection="true"' in body and "<ConversationRelay" in body


async def test_ordinary_turn_is_streamed_in_order(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.say("what time is it")
    frames = await caller.reply()
    assert text_of(frames) == "You said: what time is it"
    assert [f["last"] for f in frames] == [False] * (len(frames) - 1) + [True]
    await caller.hang_up()


async def test_each_turn_of_a_call_names_where_the_previous_one_is_stored(
    voice: VoiceStack, js: JetStreamContext
) -> None:
    call_sid = sid("CA")
    caller = await dial(voice.relay_urls[0], call_sid)
    for text in ("first", "second"):
        await caller.say(text)
        await caller.reply()
    await caller.send({"type": "dtmf", "digit": "7"})
    await caller.reply()
    await caller.hang_up()
    last = (await js.stream_info(TURNS_STREAM)).state.last_seq
    stored = await TurnLog(js).pending(call_sid, 0, last)  # the worker's reader of the stream
    sequences = [logged.sequence for logged in stored]
    assert [logged.turn.text for logged in stored] == ["first", "second", "7"]
    assert [logged.turn.previous_sequence for logged in stored] == [None, *sequences[:-1]]
    assert [stored_right_after(logged.turn, logged.headers) for logged in stored] == [
        None,
        *sequences[:-1],
    ], "JetStream checked each named predecessor"


async def test_partial_prompts_wait_for_the_last_one(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.say("I want", last=False)
    await caller.say("I want to check my order", last=False)
    await caller.say("I want to check my order status", last=True)
    frames = await caller.reply()
    assert text_of(frames) == "You said: I want to check my order status"
    assert voice.agent.heard == ["I want to check my order status"]
    await caller.hang_up()


async def test_dtmf_reaches_the_agent(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.send({"type": "dtmf", "digit": "5"})
    frames = await caller.reply()
    assert text_of(frames) == "You said: 5"
    await caller.hang_up()


async def test_interrupt_cuts_the_reply(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.say("tell me something slow")
    first = await caller.next_frame()
    assert first["type"] == "text" and first["last"] is False
    await caller.send(
        {"type": "interrupt", "utteranceUntilInterrupt": "part0", "durationUntilInterruptMs": 300}
    )
    closing = await caller.next_frame()
    assert closing == {"type": "text", "token": "", "last": True}
    await caller.say("thanks")
    # The worker answers a call's turns one at a time: a late token of the interrupted turn
    # would reach the socket before the first token of this reply.
    assert text_of(await caller.reply()) == "You said: thanks", "a late token reached Twilio"
    assert voice.agent.cancelled == ["tell me something slow"]
    await caller.hang_up()


async def agent_lines(js: JetStreamContext, call_sid: str, expected: list[str]) -> list[str]:
    """The agent's lines in the conversation's history, once they are ``expected`` (or 10 s)."""
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    for _ in range(200):
        lines = [line.text for line in (await store.get(call_sid)).history if line.role == "agent"]
        if lines == expected:
            break
        await asyncio.sleep(0.05)
    return lines


async def test_history_keeps_only_what_the_caller_heard(voice: VoiceStack) -> None:
    """An interrupted reply is recorded as ``utteranceUntilInterrupt``, whether the cut comes
    while the reply is generated or after it was, while Twilio still plays it."""
    call_sid = sid("CA")
    caller = await dial(voice.relay_urls[0], call_sid)
    await caller.say("tell me something slow")
    await caller.next_frame()
    heard = {"type": "interrupt", "utteranceUntilInterrupt": "part0", "durationUntilInterruptMs": 9}
    await caller.send(heard)
    await caller.next_frame()
    await caller.say("what is new")
    assert text_of(await caller.reply()) == "You said: what is new"
    await caller.send({**heard, "utteranceUntilInterrupt": "You said:"})
    expected = ["part0", "You said:"]
    assert await agent_lines(voice.js, call_sid, expected) == expected
    await caller.hang_up()


async def test_handoff_sends_end_after_the_final_reply(voice: VoiceStack) -> None:
    call_sid = sid("CA")
    caller = await dial(voice.relay_urls[0], call_sid)
    await caller.say("can I talk to a human")
    frames = await caller.reply()
    assert text_of(frames) == "Connecting you to a person now."
    end = await caller.next_frame()
    assert end["type"] == "end"
    data = json.loads(str(end["handoffData"]))
    assert data["conversationId"] == call_sid
    assert data["attributes"]["reason"] == "caller asked for a human"
    assert set(data) == {"conversationId", "storeId", "profileId", "attributes"}
    results = await wait_for_messages(
        voice.js, HANDOFF_STREAM, HANDOFF_RESULT.subject(call_sid), HandoffResult
    )
    assert [r.outcome for r in results] == [HandoffOutcome.DELIVERED]
    await consumers_caught_up(voice.js)
    assert [f for _, f in caller.log if f["type"] == "end"] == [end]
    await caller.hang_up()


async def test_end_follows_an_interrupted_goodbye(voice: VoiceStack) -> None:
    call_sid = sid("CA")
    caller = await dial(voice.relay_urls[0], call_sid)
    await caller.say("slow: get me a human")
    first = await caller.next_frame()
    assert first["type"] == "text"
    await caller.send(
        {"type": "interrupt", "utteranceUntilInterrupt": "", "durationUntilInterruptMs": 1}
    )
    closing = await caller.next_frame()
    assert closing == {"type": "text", "token": "", "last": True}
    end = await caller.next_frame()
    assert end["type"] == "end"
    await caller.hang_up()


async def test_hang_up_before_end_is_caller_gone(voice: VoiceStack) -> None:
    call_sid = sid("CA")
    caller = await dial(voice.relay_urls[0], call_sid)
    await caller.say("slow human please")
    await caller.next_frame()
    await caller.hang_up()
    results = await wait_for_messages(
        voice.js, HANDOFF_STREAM, HANDOFF_RESULT.subject(call_sid), HandoffResult
    )
    assert [(r.outcome, r.failure) for r in results] == [
        (HandoffOutcome.FAILED, HandoffFailure.CALLER_GONE)
    ]


async def test_forged_upgrade_is_refused(voice: VoiceStack) -> None:
    labels = {"route": RELAY_CALL_ROUTE, "reason": "invalid_signature"}
    before = REGISTRY.get_sample_value("baton_webhook_signature_rejections_total", labels) or 0
    with pytest.raises(InvalidStatus) as refused:
        await dial(
            voice.relay_urls[0], sid("CA"), signature=relay_signature("ws://x/y"), send_setup=False
        )
    assert refused.value.response.status_code == 403
    assert voice.agent.heard == []
    after = REGISTRY.get_sample_value("baton_webhook_signature_rejections_total", labels)
    assert after == before + 1, "a refused upgrade is counted like a refused webhook"


async def test_two_replicas_route_to_the_socket_owner(nats_url: str, js: JetStreamContext) -> None:
    async with AsyncExitStack() as stack:
        voice = await start_voice_stack(stack, nats_url, js, relays=2)
        first, second = voice.relay_urls
        call_sid = sid("CA")
        caller = await dial(second, call_sid)
        await caller.say("I need a human")
        await caller.reply()
        assert (await caller.next_frame())["type"] == "end"
        other = sid("CA")
        listener = await dial(second, other)
        await listener.say("hello")
        await listener.reply()  # the second relay serves the call: it hears the call's subject
        async with httpx.AsyncClient() as client:
            response = await post_signed_form(
                client,
                f"{first}/voice/status",
                {"CallSid": other, "CallStatus": "completed"},
            )
        assert response.status_code == 200
        await asyncio.wait_for(listener.closed.wait(), 5)
        await caller.hang_up()


async def test_setup_must_come_first(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"), send_setup=False)
    await caller.say("hello before setup")
    await asyncio.wait_for(caller.closed.wait(), 5)
    assert caller.connection.close_code == 1008
    assert voice.agent.heard == []


async def test_unknown_and_info_frames_are_ignored(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.send({"type": "info", "name": "agentSpeaking", "value": "on", "ts": 1})
    await caller.send({"type": "somethingNew", "x": 1})
    await caller.send({"type": "error", "description": "Invalid message received"})
    await caller.say("still there?")
    assert text_of(await caller.reply()) == "You said: still there?"
    await caller.hang_up()


async def test_twiml_options_and_action_on_the_gateway(nats_url: str, js: JetStreamContext) -> None:
    port = free_port()
    public = f"https://voice.example.test:{port}"
    settings = RelayGatewaySettings(
        **twilio_env(nats_url, public_base_url=public),
        baton_voice_action="gateway",
        baton_taskrouter_workflow_sid=WORKFLOW,
        baton_welcome_greeting="Hi from Baton",
        baton_voice_interruptible="speech",
        baton_relay_parameters='{"tenant": "acme"}',
        twilio_conversation_configuration_id="conv_configuration_01",
        baton_relay_attributes=json.dumps(RELAY_ATTRIBUTES),
        baton_relay_languages=json.dumps(LANGUAGES),
    )
    async with serve(create_relay(settings), port) as url, httpx.AsyncClient() as client:
        call_sid = sid("CA")
        incoming = await post_signed_form(
            client,
            f"{url}/voice/incoming",
            {"CallSid": call_sid, "From": "+15005550006"},
            public_url=f"{public}/voice/incoming",
        )
        assert incoming.status_code == 200
        assert f'<Connect action="{public}/voice/action">' in incoming.text
        assert f'url="wss://voice.example.test:{port}/voice/relay/{call_sid}/' in incoming.text
        assert 'welcomeGreeting="Hi from Baton"' in incoming.text
        assert 'interruptible="speech"' in incoming.text
        assert '<Parameter name="tenant" value="acme" />' in incoming.text
        assert f'<Parameter name="callSid" value="{call_sid}" />' in incoming.text
        assert 'conversationConfiguration="conv_configuration_01"' in incoming.text
        for name, value in RELAY_ATTRIBUTES.items():
            rendered = str(value).lower() if isinstance(value, bool) else value
            assert f'{name}="{rendered}"' in incoming.text, name
        assert (
            '<Language code="es-MX" speechModel="nova-3-general" transcriptionProvider="Deepgram"'
            ' ttsProvider="ElevenLabs" voice="UgBBYS2sOqTuMpoF3BR0" />'
        ) in incoming.text

        ended = await post_signed_form(
            client,
            f"{url}/voice/action",
            {"CallSid": call_sid, "SessionStatus": "ended", "CallStatus": "in-progress"},
            public_url=f"{public}/voice/action",
        )
        assert "<Hangup />" in ended.text
        handoff = await post_signed_form(
            client,
            f"{url}/voice/action",
            {"CallSid": call_sid, "SessionStatus": "ended", "HandoffData": '{"a":1}'},
            public_url=f"{public}/voice/action",
        )
        assert "<Hangup" not in handoff.text and "<Redirect" not in handoff.text
        assert f'<Enqueue workflowSid="{WORKFLOW}"><Task>{{}}</Task>' in handoff.text
        forged = await client.post(f"{url}/voice/action", data={"CallSid": call_sid})
        assert forged.status_code == 403


async def test_action_enqueues_to_taskrouter_with_handoff_attributes(
    nats_url: str, js: JetStreamContext
) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = RelayGatewaySettings(
        **twilio_env(nats_url, public_base_url=public),
        baton_voice_action="gateway",
        baton_taskrouter_workflow_sid="WW" + "77" * 16,
    )
    data = {
        "conversationId": "conv_conversation_01",
        "storeId": "mem_store_01",
        "profileId": "mem_profile_01",
        "attributes": {"reason": "caller asked", "department": "billing"},
    }
    async with serve(create_relay(settings), port) as url, httpx.AsyncClient() as client:
        response = await post_signed_form(
            client,
            f"{url}/voice/action",
            {"CallSid": sid("CA"), "SessionStatus": "ended", "HandoffData": json.dumps(data)},
        )
    assert f'<Enqueue workflowSid="{"WW" + "77" * 16}">' in response.text
    task = response.text.split("<Task>")[1].split("</Task>")[0]
    assert json.loads(task.replace("&quot;", '"')) == {
        "reason": "caller asked",
        "department": "billing",
        "conversationId": "conv_conversation_01",
        "storeId": "mem_store_01",
        "profileId": "mem_profile_01",
    }


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"BATON_VOICE_ACTION": "gateway"}, "BATON_TASKROUTER_WORKFLOW_SID"),
        ({"BATON_RELAY_ATTRIBUTES": '{"ttsProvidr": "Google"}'}, "BATON_RELAY_ATTRIBUTES"),
        ({"BATON_RELAY_ATTRIBUTES": '{"interruptSensitivity": "max"}'}, "BATON_RELAY_ATTRIBUTES"),
        ({"BATON_RELAY_ATTRIBUTES": '{"language": "en-US"}'}, "BATON_RELAY_ATTRIBUTES"),
        ({"BATON_RELAY_LANGUAGES": '[{"voice": "x"}]'}, "BATON_RELAY_LANGUAGES"),
    ],
)
def test_relay_options_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], named: str
) -> None:
    assert named in settings_error(monkeypatch, RelayGatewaySettings, extra)


async def test_a_reconnected_call_is_answered_again(voice: VoiceStack) -> None:
    """After a 64105 reconnect Twilio opens a new session for the same CallSid."""
    call_sid = sid("CA")
    first = await dial(voice.relay_urls[0], call_sid)
    await first.say("hello")
    assert text_of(await first.reply()) == "You said: hello"
    await first.hang_up()
    await until(lambda: call_sid not in voice.live_calls[0].calls)
    second = await dial(voice.relay_urls[0], call_sid)
    await second.say("hello again")
    assert text_of(await second.reply()) == "You said: hello again"
    await second.hang_up()


async def test_the_agent_can_play_send_digits_and_switch_language(voice: VoiceStack) -> None:
    caller = await dial(voice.relay_urls[0], sid("CA"))
    await caller.say("hold music please")
    frames = await caller.reply()
    assert frames[:3] == [
        {
            "type": "play",
            "source": "https://cdn.example.test/hold.mp3",
            "loop": 2,
            "interruptible": True,
        },
        {"type": "sendDigits", "digits": "ww12#"},
        {"type": "language", "ttsLanguage": "es-MX", "transcriptionLanguage": "es-MX"},
    ]
    assert text_of(frames[3:]) == "You said: hold music please"
    await caller.hang_up()
