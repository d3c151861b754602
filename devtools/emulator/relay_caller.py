"""A caller dialled in through ConversationRelay, doing what Twilio does for a live call.

The signed voice webhook (``CallStatus=ringing``) returns TwiML; its verbs run in order:
``<Connect><ConversationRelay>`` opens the WebSocket (signed over its ``ws(s)://`` URL, no
params), sends ``setup`` with the ``<Parameter>``s, speaks the caller's prompts and collects
the agent's ``text`` frames (a ``conversationConfiguration`` naming the account's configuration
makes the call an Orchestrator conversation first, as ConversationRelay does);
when the session ends (``end``, or the app closing the socket)
the signed ``<Connect action>`` callback (with ``HandoffData`` after ``end``) returns the next
TwiML. An action on ``webhooks.twilio.com`` is the Studio flow webhook: it is served by this
emulator. ``<Enqueue>`` holds the caller for a Flex agent until the agent completes the task,
hands the caller back to the bot (the voice URL is requested again) or the caller hangs up.
Malformed app frames get an ``error`` frame; ten in a row close the socket with 1007.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from emulator.orchestrator import open_voice_conversation
from emulator.settings import EmulatorSettings
from emulator.store import CallRecord, EmulatorState, OutboxEntry
from emulator.studio_webhooks import WEBHOOKS_HOST
from emulator.taskrouter import create_task, move_task
from emulator.webhooks import WebhookSender
from emulator.wire import new_sid, utc_now

API_VERSION = "2010-04-01"
MAX_DOCUMENTS = 10
MAX_MALFORMED = 10
MALFORMED_CLOSE = 1007
APP_FRAMES = frozenset({"text", "play", "sendDigits", "language", "end"})
RESTING = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class CallerAction:
    """One thing the caller does: speak, press a key, talk over the agent, or wait."""

    kind: str
    text: str = ""
    wait: bool = True
    seconds: float = 0.0


class RelayCall:
    """One call's life, driven by its own task; the admin API and desktop steer it."""

    def __init__(
        self,
        record: CallRecord,
        *,
        settings: EmulatorSettings,
        state: EmulatorState,
        sender: WebhookSender,
        twilio_host: httpx.AsyncClient,
        voice_url: str,
    ) -> None:
        self.record = record
        self._settings = settings
        self._state = state
        self._sender = sender
        self._twilio_host = twilio_host
        self._voice_url = voice_url
        self._validator = RequestValidator(settings.twilio_auth_token)
        self._actions: asyncio.Queue[CallerAction] = asyncio.Queue()
        self._hung_up = asyncio.Event()
        self._agent_left = asyncio.Event()
        self._handed_back = asyncio.Event()
        self._reply_done = asyncio.Event()
        self._socket: ClientConnection | None = None
        self._tokens: list[str] = []
        self._document_url = voice_url
        self._requests = 0
        self._started = time.monotonic()

    # --- steering -------------------------------------------------------------------------

    @property
    def over(self) -> bool:
        return self.record.state in RESTING

    def act(self, action: CallerAction) -> None:
        self._actions.put_nowait(action)

    def hang_up(self) -> None:
        self._hung_up.set()

    def agent_joined(self) -> None:
        if self.record.state == "in-queue":
            self._set_state("with-agent")

    def agent_says(self, text: str) -> None:
        now = utc_now()
        self.record.say("agent", text, now)
        self._state.outbox.append(
            OutboxEntry(
                "voice",
                self.record.from_,
                self._settings.emulator_agent_identity,
                text,
                self.record.sid,
                now,
            )
        )

    def agent_left(self) -> None:
        self._agent_left.set()

    def hand_back(self) -> None:
        self._handed_back.set()

    # --- the call -------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            document = await self._request_twiml(self._voice_url, self._params("ringing"))
            for _ in range(MAX_DOCUMENTS):
                if document is None:
                    break
                document = await self._execute(document)
            if not self.over:
                self._finish("completed")
        except Exception as error:  # the call fails; the emulator keeps serving
            self.record.error = f"{type(error).__name__}: {error}"
            self._set_state("failed")
        finally:
            if self.record.state == "completed":
                await self._status_callback()

    def _set_state(self, state: str) -> None:
        self.record.state = state
        self.record.date_updated = utc_now()

    def _note(self, role: str, text: str) -> None:
        self.record.say(role, text, utc_now())

    def _finish(self, state: str) -> None:
        if not self.over:
            self._set_state(state)

    def _params(self, status: str) -> dict[str, str]:
        record = self.record
        return {
            "AccountSid": self._settings.twilio_account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": record.sid,
            "CallStatus": status,
            "Called": record.to,
            "Caller": record.from_,
            "Direction": "inbound",
            "From": record.from_,
            "FromCountry": "US",
            "To": record.to,
            "ToCountry": "US",
        }

    async def _request_twiml(self, url: str, params: dict[str, str]) -> str | None:
        """POST a signed call webhook; Twilio's own webhook host is this emulator."""
        self._requests += 1
        self._document_url = url
        parts = urlsplit(url)
        if parts.hostname == WEBHOOKS_HOST:
            signature = self._validator.compute_signature(url, params)
            response = await self._twilio_host.post(
                parts.path + (f"?{parts.query}" if parts.query else ""),
                data=params,
                headers={
                    "X-Twilio-Signature": signature,
                    "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                },
            )
            status: int | None = response.status_code
            body, error = response.text, None
        else:
            key = f"{self.record.sid}:{self._requests}"
            delivery = await self._sender.send_form("voice", key, url, params)
            status, body, error = delivery.status_code, delivery.response_body, delivery.error
        if status != 200:
            self.record.error = error or f"{url} answered {status}: {body[:200]}"
            self._finish("failed")
            return None
        return body

    async def _execute(self, document: str) -> str | None:
        """Run one TwiML document; returns the next document, or ``None`` when the call rests."""
        self.record.twiml.append(document)
        root = ElementTree.fromstring(document)
        for verb in root:
            if verb.tag == "Say":
                self._note("system", (verb.text or "").strip())
            elif verb.tag == "Play":
                self._note("system", f"[plays {(verb.text or '').strip()}]")
            elif verb.tag in ("Hangup", "Reject"):
                self._finish("completed")
                return None
            elif verb.tag == "Redirect":
                target = urljoin(self._document_url, (verb.text or "").strip())
                return await self._request_twiml(target, self._params("in-progress"))
            elif verb.tag == "Enqueue":
                return await self._enqueue(verb)
            elif verb.tag == "Dial":
                self._note("system", f"[dials {(verb.text or '').strip()}]")
                self._finish("completed")
                return None
            elif verb.tag == "Connect":
                relay = verb.find("ConversationRelay")
                if relay is None:
                    continue
                self.record.action_url = verb.get("action")
                ended = await self._relay(relay)
                if ended is None:
                    return None
                action = verb.get("action")
                if action:
                    target = urljoin(self._document_url, action)
                    return await self._request_twiml(
                        target, {**self._params("in-progress"), **ended}
                    )
        self._finish("completed")
        return None

    # --- ConversationRelay ----------------------------------------------------------------

    async def _relay(self, relay: ElementTree.Element) -> dict[str, str] | None:
        """One relay session; the action callback's extra fields, or ``None`` on hang-up."""
        url = relay.get("url", "")
        parameters = {
            p.get("name", ""): p.get("value", "") for p in relay.iter("Parameter") if p.get("name")
        }
        record = self.record
        record.session_sid = new_sid("VX")
        record.custom_parameters = parameters
        configuration = relay.get("conversationConfiguration")
        if configuration and configuration == self._settings.twilio_conversation_configuration_id:
            open_voice_conversation(
                self._state, self._settings, record.sid, record.from_, record.to
            )
        self._set_state("in-progress")
        greeting = relay.get("welcomeGreeting")
        if greeting:
            self._note("bot", greeting)
        started = time.monotonic()
        outcome, handoff_data = await self._session(url, parameters)
        if outcome == "hangup":
            self._finish("completed")
            return None
        ended = {
            "SessionId": record.session_sid,
            "SessionStatus": "ended",
            "SessionDuration": str(int(time.monotonic() - started)),
        }
        if handoff_data is not None:
            record.handoff_data = handoff_data
            ended["HandoffData"] = handoff_data
        elif outcome != "closed":
            ended.update({"ErrorCode": "64105", "ErrorMessage": "WebSocket Ended"})
        return ended

    def _setup(self, parameters: dict[str, str]) -> dict[str, Any]:
        record = self.record
        return {
            "type": "setup",
            "sessionId": record.session_sid,
            "accountSid": self._settings.twilio_account_sid,
            "parentCallSid": "",
            "callSid": record.sid,
            "from": record.from_,
            "to": record.to,
            "forwardedFrom": "",
            "callType": "PSTN",
            "callerName": "",
            "direction": "inbound",
            "callStatus": "RINGING",
            "customParameters": parameters,
        }

    async def _session(self, url: str, parameters: dict[str, str]) -> tuple[str, str | None]:
        """``(outcome, handoffData)``; outcome is ``end``, ``closed``, ``dropped`` or ``hangup``."""
        headers = {"X-Twilio-Signature": self._validator.compute_signature(url, {})}
        try:
            socket = await connect(url, additional_headers=headers, proxy=None, open_timeout=10)
        except (OSError, WebSocketException, TimeoutError) as error:
            self.record.error = f"could not open {url}: {error}"
            return "dropped", None
        self._socket = socket
        try:
            await socket.send(json.dumps(self._setup(parameters)))
            reader = asyncio.create_task(self._read(socket))
            driver = asyncio.create_task(self._drive(socket))
            hang_up = asyncio.create_task(self._hung_up.wait())
            await asyncio.wait({reader, hang_up}, return_when=asyncio.FIRST_COMPLETED)
            for task in (driver, hang_up):
                task.cancel()
            await asyncio.gather(driver, hang_up, return_exceptions=True)
            if self._hung_up.is_set() and not reader.done():
                reader.cancel()
                return "hangup", None
            return reader.result()
        finally:
            self._socket = None
            self._reply_done.set()
            with contextlib.suppress(Exception):
                await socket.close()

    async def _read(self, socket: ClientConnection) -> tuple[str, str | None]:
        malformed = 0
        try:
            async for raw in socket:
                frame = self._frame(raw)
                if frame is None:
                    malformed += 1
                    description = f"Invalid message received: {str(raw)[:200]}"
                    await socket.send(json.dumps({"type": "error", "description": description}))
                    if malformed >= MAX_MALFORMED:
                        await socket.close(
                            MALFORMED_CLOSE, "Too many consecutive malformed messages"
                        )
                        return "dropped", None
                    continue
                malformed = 0
                if frame["type"] == "end":
                    return "end", self._ended(frame)
                self._heard(frame)
        except ConnectionClosed:
            return "dropped", None
        code = socket.close_code
        return ("closed" if code in (1000, 1001, None) else "dropped"), None

    @staticmethod
    def _frame(raw: str | bytes) -> dict[str, Any] | None:
        if not isinstance(raw, str):
            return None
        try:
            frame = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(frame, dict) or frame.get("type") not in APP_FRAMES:
            return None
        if frame["type"] == "text" and not isinstance(frame.get("token"), str):
            return None
        return frame

    def _ended(self, frame: dict[str, Any]) -> str | None:
        """The ``end`` frame's HandoffData; what Twilio would refuse is kept as a protocol error.

        An ``end`` while a reply is still open (tokens without their ``last:true`` frame) cuts
        the caller off mid-sentence; ``handoffData`` must be a string (of JSON).
        """
        if self._tokens:
            self.record.protocol_errors.append("end before the reply's last:true frame")
        self._utterance_done()
        data = frame.get("handoffData")
        if data is not None and not isinstance(data, str):
            self.record.protocol_errors.append("handoffData is not a string")
            data = json.dumps(data)
        return data

    def _heard(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "text":
            self._tokens.append(str(frame["token"]))
            if frame.get("last"):
                self._utterance_done()
        elif kind == "play":
            self._note("bot", f"[plays {frame.get('source', '')}]")
        elif kind == "sendDigits":
            self._note("system", f"[sends digits {frame.get('digits', '')}]")

    def _utterance_done(self) -> None:
        text = "".join(self._tokens).strip()
        self._tokens.clear()
        if text:
            self._note("bot", text)
        self._reply_done.set()

    async def _drive(self, socket: ClientConnection) -> None:
        """Speak the caller's queued actions, each waiting for the agent's answer."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._perform(socket, await self._actions.get())

    async def _perform(self, socket: ClientConnection, action: CallerAction) -> None:
        if action.kind == "pause":
            await asyncio.sleep(action.seconds)
            return
        if action.kind == "interrupt":
            self._note("caller", "[talks over the agent]")
            frame: dict[str, Any] = {
                "type": "interrupt",
                "utteranceUntilInterrupt": "".join(self._tokens),
                "durationUntilInterruptMs": 500,
            }
            await socket.send(json.dumps(frame))
            return
        self._reply_done.clear()
        if action.kind == "dtmf":
            self._note("caller", f"[presses {action.text}]")
            frame = {"type": "dtmf", "digit": action.text}
        else:
            self._note("caller", action.text)
            frame = {"type": "prompt", "voicePrompt": action.text, "lang": "en-US", "last": True}
        await socket.send(json.dumps(frame))
        if action.wait:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.emulator_call_reply_timeout_seconds):
                    await self._reply_done.wait()

    # --- Flex -----------------------------------------------------------------------------

    def _queue_task_attributes(self, verb: ElementTree.Element) -> dict[str, Any]:
        element = verb.find("Task")
        attributes: dict[str, Any] = {}
        if element is not None and (element.text or "").strip():
            parsed = json.loads(element.text or "{}")
            attributes = parsed if isinstance(parsed, dict) else {}
        record = self.record
        attributes.update(
            {
                "call_sid": record.sid,
                "account_sid": self._settings.twilio_account_sid,
                "from": record.from_,
                "to": record.to,
                "caller": record.from_,
                "called": record.to,
                "direction": "inbound",
                "type": "inbound",
                "name": record.from_,
            }
        )
        return attributes

    async def _enqueue(self, verb: ElementTree.Element) -> str | None:
        """Hold the caller for Flex: one task per live call, created here unless SendToFlex
        already made it."""
        record = self.record
        task = next(
            (
                t
                for t in self._state.tasks.values()
                if t.call_sid == record.sid and t.assignment_status not in ("completed", "canceled")
            ),
            None,
        )
        if task is None:
            task = create_task(
                self._state,
                self._settings,
                attributes=self._queue_task_attributes(verb),
                workflow_sid=verb.get("workflowSid") or None,
                channel="voice",
            )
            task.call_sid = record.sid
        record.task_sid = task.sid
        self._set_state("in-queue")
        self._note("system", "[on hold for an agent]")
        return await self._hold(task.sid)

    async def _hold(self, task_sid: str) -> str | None:
        self._agent_left.clear()
        self._handed_back.clear()
        while True:
            heard = asyncio.create_task(self._actions.get())
            waits: dict[asyncio.Task[Any], str] = {
                asyncio.create_task(self._hung_up.wait()): "hangup",
                asyncio.create_task(self._agent_left.wait()): "agent_left",
                asyncio.create_task(self._handed_back.wait()): "handback",
            }
            done, pending = await asyncio.wait({heard, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if heard in done and heard.result().kind in ("say", "dtmf"):
                self._note("caller", heard.result().text)
            events = [waits[finished] for finished in done if finished is not heard]
            if not events:
                continue
            if "hangup" in events:
                self._caller_left_queue(task_sid)
            elif "handback" in events:
                self._note("system", "[back to the virtual agent]")
                return await self._request_twiml(self._voice_url, self._params("in-progress"))
            self._finish("completed")
            return None

    def _caller_left_queue(self, task_sid: str) -> None:
        task = self._state.tasks.get(task_sid)
        if task is not None and task.assignment_status in ("pending", "reserved"):
            move_task(self._state, task, "canceled", "caller hung up")

    async def _status_callback(self) -> None:
        url = self._settings.emulator_relay_status_url
        if not url:
            return
        params = {
            **self._params("completed"),
            "CallDuration": str(int(time.monotonic() - self._started)),
        }
        await self._sender.send_form("voice-status", f"{self.record.sid}:status", url, params)
