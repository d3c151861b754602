"""The ConversationRelay caller against a scripted relay gateway on a real socket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from baton_devtools.nats_server import free_port
from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Emulator
from tests.support.servers import serve
from tests.support.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, FLOW_SID, OUR_NUMBER

STUDIO_ACTION = (
    f"https://webhooks.twilio.com/v1/Accounts/{ACCOUNT_SID}/Flows/{FLOW_SID}?Trigger=incomingCall"
)
WORKFLOW = "WW" + "56" * 16
HANDOFF = {
    "conversationId": "",
    "storeId": "",
    "profileId": "",
    "attributes": {"reason": "caller asked for a human", "summary": "Wants a person."},
}


@dataclass
class FakeRelayGateway:
    """Answers the voice webhook with ``<Connect><ConversationRelay>`` and speaks on the
    socket: echoes prompts, hands off on "human", misbehaves on "garbage"."""

    url: str = ""
    action: str = STUDIO_ACTION
    webhooks: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    upgrade_valid: list[bool] = field(default_factory=list)
    validator: RequestValidator = field(default_factory=lambda: RequestValidator(AUTH_TOKEN))

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/voice/{hook}", self.webhook, methods=["POST"])
        app.add_api_websocket_route("/relay", self.relay)
        return app

    async def webhook(self, hook: str, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).multi_items()}
        signature = request.headers.get("x-twilio-signature", "")
        self.webhooks.append(
            (hook, form, self.validator.validate(str(request.url), form, signature))
        )
        response = VoiceResponse()
        if hook == "incoming":
            connect = Connect(action=self.action)
            relay = connect.conversation_relay(
                url=self.url.replace("http://", "ws://") + "/relay",
                welcome_greeting="Hi, this is the bot.",
            )
            relay.parameter(name="tenant", value="acme")
            response.append(connect)
        elif hook == "action":
            response.hangup()
        elif hook == "enqueue":
            enqueue = response.enqueue(workflow_sid=WORKFLOW)
            enqueue.task(json.dumps({"reason": "from the gateway", "department": "billing"}))
        return Response(str(response), media_type="application/xml")

    async def relay(self, socket: WebSocket) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/relay"
        signature = socket.headers.get("x-twilio-signature", "")
        self.upgrade_valid.append(self.validator.validate(ws_url, {}, signature))
        await socket.accept()
        try:
            while True:
                frame = json.loads(await socket.receive_text())
                self.received.append(frame)
                await self.answer(socket, frame)
        except WebSocketDisconnect:
            return

    async def answer(self, socket: WebSocket, frame: dict[str, Any]) -> None:
        said = str(frame.get("voicePrompt") or frame.get("digit") or "")
        if frame["type"] not in ("prompt", "dtmf"):
            return
        if "garbage" in said:
            for _ in range(10):
                await socket.send_text('{"type": "txet"}')
            return
        if "hasty" in said:
            await socket.send_json({"type": "text", "token": "Connecting ", "last": False})
            await socket.send_json({"type": "end", "handoffData": HANDOFF})
            return
        if "human" in said:
            await socket.send_json({"type": "text", "token": "Connecting you.", "last": True})
            await socket.send_json({"type": "end", "handoffData": json.dumps(HANDOFF)})
            return
        await socket.send_json({"type": "text", "token": "You said ", "last": False})
        await socket.send_json({"type": "text", "token": said, "last": True})


@pytest.fixture
async def gateway() -> AsyncIterator[FakeRelayGateway]:
    fake = FakeRelayGateway()
    port = free_port()
    async with serve(fake.app(), port) as url:
        fake.url = url
        yield fake


async def wait_until(
    emulator: Emulator, call_sid: str, accept: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        found: dict[str, Any] = await emulator.get(f"/_emulator/calls/{call_sid}")
        if accept(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def spoken(call: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["role"], line["text"]) for line in call["transcript"]]


async def place(emulator: Emulator, gateway: FakeRelayGateway, prompts: list[Any]) -> str:
    placed = await emulator.post(
        "/_emulator/calls",
        {"from": CUSTOMER, "prompts": prompts, "voice_url": f"{gateway.url}/voice/incoming"},
    )
    assert placed["state"] == "ringing" and placed["call_sid"].startswith("CA")
    return str(placed["call_sid"])


async def test_call_talks_to_the_relay_and_goes_to_flex_on_end(
    start_emulator: StartEmulator, gateway: FakeRelayGateway
) -> None:
    emulator = await start_emulator(emulator_relay_status_url=f"{gateway.url}/voice/status")
    sid = await place(emulator, gateway, ["hello", {"dtmf": "5"}, "get me a human"])
    call = await wait_until(emulator, sid, lambda c: c["state"] == "in-queue")
    assert call["state"] == "in-queue", call
    assert spoken(call) == [
        ("bot", "Hi, this is the bot."),
        ("caller", "hello"),
        ("bot", "You said hello"),
        ("caller", "[presses 5]"),
        ("bot", "You said 5"),
        ("caller", "get me a human"),
        ("bot", "Connecting you."),
        ("system", "[on hold for an agent]"),
    ]
    assert json.loads(call["handoff_data"]) == HANDOFF
    assert call["protocol_errors"] == []
    assert call["action_url"] == STUDIO_ACTION
    assert call["custom_parameters"] == {"tenant": "acme"}

    (hook, form, valid) = gateway.webhooks[0]
    assert hook == "incoming" and valid
    assert (form["CallSid"], form["From"], form["To"]) == (sid, CUSTOMER, OUR_NUMBER)
    assert (form["CallStatus"], form["Direction"], form["ApiVersion"]) == (
        "ringing",
        "inbound",
        "2010-04-01",
    )
    assert gateway.upgrade_valid == [True]
    setup = gateway.received[0]
    assert setup["type"] == "setup" and setup["callSid"] == sid
    assert setup["sessionId"].startswith("VX") and setup["customParameters"] == {"tenant": "acme"}
    assert [f["type"] for f in gateway.received[1:]] == ["prompt", "dtmf", "prompt"]

    (action,) = await emulator.get("/_emulator/requests", path_prefix="/v1/Accounts")
    assert action["query"] == {"Trigger": "incomingCall"}
    assert action["form"]["HandoffData"] == json.dumps(HANDOFF)
    assert action["form"]["SessionStatus"] == "ended" and action["form"]["CallSid"] == sid
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    assert task["callSid"] == sid and task["reason"] == "caller asked for a human"
    assert task["attributes"]["call_sid"] == sid
    assert "conversationId" not in task["attributes"], "the flow shows HandoffData.attributes only"

    await emulator.post(f"/_emulator/calls/{sid}/hangup", {})
    ended = await wait_until(emulator, sid, lambda c: c["state"] == "completed")
    assert ended["state"] == "completed"
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    assert (task["status"], task["taskReason"]) == ("canceled", "caller hung up")
    for _ in range(50):
        if gateway.webhooks[-1][0] == "status":
            break
        await asyncio.sleep(0.02)
    hook, form, valid = gateway.webhooks[-1]
    assert (hook, form["CallStatus"], valid) == ("status", "completed", True)


async def test_end_mid_reply_and_handoff_data_that_is_not_a_string_are_protocol_errors(
    emulator: Emulator, gateway: FakeRelayGateway
) -> None:
    sid = await place(emulator, gateway, ["a hasty human"])
    call = await wait_until(emulator, sid, lambda c: c["state"] == "in-queue")
    assert call["protocol_errors"] == [
        "end before the reply's last:true frame",
        "handoffData is not a string",
    ]


async def test_malformed_frames_get_errors_then_close_1007(
    emulator: Emulator, gateway: FakeRelayGateway
) -> None:
    gateway.action = f"{gateway.url}/voice/action"
    sid = await place(emulator, gateway, ["garbage please"])
    call = await wait_until(emulator, sid, lambda c: c["state"] == "completed")
    assert call["state"] == "completed"
    errors = [f for f in gateway.received if f["type"] == "error"]
    assert len(errors) == 10
    assert errors[0]["description"].startswith("Invalid message received: ")
    hook, form, valid = gateway.webhooks[-1]
    assert (hook, valid) == ("action", True)
    assert (form["ErrorCode"], form["SessionStatus"]) == ("64105", "ended")
    assert "HandoffData" not in form


async def test_enqueue_from_the_app_creates_the_task(
    emulator: Emulator, gateway: FakeRelayGateway
) -> None:
    gateway.action = f"{gateway.url}/voice/enqueue"
    sid = await place(emulator, gateway, ["a human please"])
    call = await wait_until(emulator, sid, lambda c: c["state"] == "in-queue")
    assert call["state"] == "in-queue" and call["task_sid"]
    hook, form, valid = gateway.webhooks[-1]
    assert (hook, valid, form["HandoffData"]) == ("enqueue", True, json.dumps(HANDOFF))
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    assert task["sid"] == call["task_sid"] and task["taskChannel"] == "voice"
    attributes = task["attributes"]
    assert (attributes["reason"], attributes["department"]) == ("from the gateway", "billing")
    assert (attributes["call_sid"], attributes["from"]) == (sid, CUSTOMER)
    assert await emulator.get("/_emulator/executions") == []


async def test_agent_talks_to_the_caller_and_hands_back_to_the_bot(
    emulator: Emulator, gateway: FakeRelayGateway
) -> None:
    sid = await place(emulator, gateway, ["human please"])
    await wait_until(emulator, sid, lambda c: c["state"] == "in-queue")
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    await emulator.post(f"/_emulator/desktop/tasks/{task['sid']}/accept", {})
    assert (await emulator.get(f"/_emulator/calls/{sid}"))["state"] == "with-agent"
    await emulator.post(f"/_emulator/calls/{sid}/say", {"text": "is anyone there?"})
    view = await emulator.post(
        f"/_emulator/desktop/tasks/{task['sid']}/reply", {"body": "Yes, I'm Sam."}
    )
    assert [(line["role"], line["body"]) for line in view["transcript"]][-2:] == [
        ("customer", "is anyone there?"),
        ("agent", "Yes, I'm Sam."),
    ]
    (heard,) = await emulator.get("/_emulator/outbox", channel="voice")
    assert (heard["to"], heard["body"]) == (CUSTOMER, "Yes, I'm Sam.")

    await emulator.post(f"/_emulator/desktop/tasks/{task['sid']}/handback", {})
    back = await wait_until(emulator, sid, lambda c: len(gateway.upgrade_valid) == 2)
    assert back["state"] == "in-progress" and gateway.upgrade_valid == [True, True]
    await emulator.post(f"/_emulator/calls/{sid}/say", {"text": "thanks", "wait": True})
    again = await wait_until(emulator, sid, lambda c: spoken(c)[-1] == ("bot", "You said thanks"))
    assert spoken(again)[-1] == ("bot", "You said thanks")
    await emulator.post(f"/_emulator/calls/{sid}/hangup", {})
    assert (await wait_until(emulator, sid, lambda c: c["state"] == "completed"))["error"] is None


async def test_calls_need_a_voice_url_and_end_once(emulator: Emulator) -> None:
    missing = await emulator.admin.post("/_emulator/calls", json={"from": CUSTOMER})
    assert missing.status_code == 400 and "EMULATOR_RELAY_VOICE_URL" in missing.json()["message"]
    unknown = await emulator.admin.post(f"/_emulator/calls/CA{'0' * 32}/hangup")
    assert unknown.status_code == 404
