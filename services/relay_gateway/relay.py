"""The ConversationRelay WebSocket: Twilio's frames in, the agent's reply frames out.

The upgrade must carry a valid ``X-Twilio-Signature`` (else close 1008) and ``setup`` must
come first. Each final prompt (``last:true``) and each DTMF digit becomes a ``CustomerTurn``
on the turn stream; the socket's replica then subscribes to the call's subject for the
reply tokens and commands addressed to it.

Each prompt starts its own trace (``voice.turn``); a command arriving on the call's subject is
handled in a ``process`` span that continues the sender's trace (for reply tokens, only the
first and the last of a turn, so a trace is not one span per word).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import Span, Tracer
from pydantic import TypeAdapter, ValidationError

from libs.contracts.conversation import cut_reply
from libs.contracts.messages import (
    Channel,
    CustomerTurn,
    Route,
    VoiceCancel,
    VoiceCommand,
    VoiceEnd,
    VoiceFrame,
    VoiceHangup,
    VoiceToken,
)
from libs.contracts.subjects import VOICE_CALL, VOICE_CANCEL
from libs.platform.conversation_store import ConversationStore
from libs.platform.propagation import consumer_span
from libs.platform.publishing import publish_core, publish_turn
from libs.platform.span_attributes import CALL_SID, TURN_SEQUENCE
from libs.platform.twilio_signature import TwilioSignature
from services.relay_gateway.calls import CallSession
from services.relay_gateway.metrics import VOICE_LIVE_CALLS
from services.relay_gateway.turn_timing import VoiceTurnTiming
from services.relay_gateway.twiml import RELAY_PATH

log = logging.getLogger("baton.relay_gateway.relay")

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
SETUP_TIMEOUT_SECONDS = 10.0
COMMAND = TypeAdapter[VoiceCommand](VoiceCommand)
StoreProvider = Callable[[], ConversationStore]


@dataclass
class LiveCalls:
    """The calls this replica holds; drained before the process exits."""

    calls: dict[str, CallSession] = field(default_factory=dict)
    draining: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, call: CallSession) -> None:
        if call.call_sid not in self.calls:
            VOICE_LIVE_CALLS.add(1)
        self.calls[call.call_sid] = call
        self.changed.set()

    def remove(self, call_sid: str) -> None:
        if self.calls.pop(call_sid, None) is not None:
            VOICE_LIVE_CALLS.add(-1)
        self.changed.set()

    async def wait_until_empty(self, deadline_seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline_seconds
        while self.calls:
            self.changed.clear()
            left = until - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=left)
            except TimeoutError:
                return False
        return True


def customer_address(setup: dict[str, Any]) -> tuple[str, str]:
    """(customer, our number): the caller is ``to`` on outbound calls, else ``from``."""
    if str(setup.get("direction", "")).lower().startswith("outbound"):
        return str(setup.get("to", "")), str(setup.get("from", ""))
    return str(setup.get("from", "")), str(setup.get("to", ""))


class RelaySocket:
    """One socket's receive loop and its NATS subscription."""

    def __init__(
        self,
        websocket: WebSocket,
        broker: NatsBroker,
        setup: dict[str, Any],
        tracer: Tracer,
        store: StoreProvider,
    ) -> None:
        self.websocket = websocket
        self.broker = broker
        self.tracer = tracer
        self.store = store
        self.call_sid = str(setup.get("callSid", ""))
        customer, ours = customer_address(setup)
        self.route = Route(
            channel=Channel.VOICE,
            customer_address=customer,
            agent_address=ours,
            call_sid=self.call_sid,
        )
        self.prompts = 0
        self.session_id = str(setup.get("sessionId") or uuid.uuid4().hex)
        """A reconnect (after 64105) keeps the CallSid but starts a new session."""
        self.timing = VoiceTurnTiming(
            tracer, self.call_sid, trace.get_current_span().get_span_context()
        )
        self.call = CallSession(self.call_sid, send=websocket.send_json, timing=self.timing)
        self._spanned_turns: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_command(self, message: Msg) -> None:
        try:
            command = COMMAND.validate_json(message.data)
        except ValidationError:
            log.warning("call %s: unreadable command ignored", self.call_sid)
            return
        span = self._process_span(command, message)
        if isinstance(command, VoiceEnd):
            # Answered from its own task: the goodbye's tokens arrive on this same subject.
            task = asyncio.create_task(self._answer_end(command, message, span))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if span is None:
            await self._apply(command)
            return
        with trace.use_span(span, end_on_exit=True):
            await self._apply(command)

    def _process_span(self, command: VoiceCommand, message: Msg) -> Span | None:
        """The ``process`` span of a command; ``None`` for a token inside a turn's reply."""
        if isinstance(command, VoiceToken):
            first = command.turn not in self._spanned_turns
            if not (first or command.last):
                return None
            self._spanned_turns.add(command.turn)
            attributes: dict[str, str | int | bool] = {
                TURN_SEQUENCE: command.turn,
                "baton.voice.first_token": first,
                "baton.voice.last_token": command.last,
            }
        elif isinstance(command, VoiceFrame | VoiceEnd):
            attributes = {TURN_SEQUENCE: command.turn}
        else:
            attributes = {}
        return consumer_span(
            self.tracer,
            message,
            VOICE_CALL.template,
            {CALL_SID: self.call_sid, "baton.voice.command": command.type, **attributes},
        )

    async def _apply(self, command: VoiceCommand) -> None:
        if isinstance(command, VoiceToken):
            await self.call.on_token(command)
        elif isinstance(command, VoiceFrame):
            await self.call.on_agent_frame(command)
        elif isinstance(command, VoiceHangup):
            self.call.hung_up()
            await self.websocket.close()

    async def _answer_end(self, command: VoiceEnd, message: Msg, span: Span | None) -> None:
        with trace.use_span(span or trace.INVALID_SPAN, end_on_exit=span is not None):
            answer = await self.call.on_end(command)
            trace.get_current_span().set_attribute("baton.voice.end_answer", answer.status)
            if message.reply:
                await message.respond(answer.model_dump_json().encode())

    async def store_turn(self, text: str, kind: str) -> None:
        self.prompts += 1
        opened = self.timing.begin("dtmf" if kind == "dtmf" else "prompt", self.prompts)
        turn = CustomerTurn(
            conversation_id=self.call_sid,
            message_id=f"{self.call_sid}:{self.session_id}:{self.prompts}",
            route=self.route,
            text=text,
            kind="dtmf" if kind == "dtmf" else "text",
        )
        try:
            with trace.use_span(opened.span, end_on_exit=False):
                ack = await publish_turn(self.broker, turn)
        except Exception:
            self.timing.failed(opened)
            raise
        self.call.prompt_stored(ack.seq)
        self.timing.stored(ack.seq, opened)

    async def interrupted(self, heard: object) -> None:
        """Cut the reply; the history keeps only ``utteranceUntilInterrupt``, what was heard."""
        cut = await self.call.on_interrupt()
        if cut and isinstance(heard, str):
            await self.store().apply(self.call_sid, cut_reply(cut, heard))
        await publish_core(
            self.broker.connection,
            self.tracer,
            VoiceCancel(through_turn=cut),
            subject=VOICE_CANCEL.subject(self.call_sid),
            template=VOICE_CANCEL.template,
            attributes={CALL_SID: self.call_sid, TURN_SEQUENCE: cut},
        )

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "prompt":
            if frame.get("last", True):
                await self.store_turn(str(frame.get("voicePrompt", "")), "text")
        elif kind == "dtmf":
            await self.store_turn(str(frame.get("digit", "")), "dtmf")
        elif kind == "interrupt":
            await self.interrupted(frame.get("utteranceUntilInterrupt"))
        elif kind == "error":
            log.warning("call %s: Twilio reported %s", self.call_sid, frame.get("description"))
        # "info" and unknown types are ignored, as Twilio may add new ones


def relay_router(
    signature: TwilioSignature,
    broker: NatsBroker,
    live: LiveCalls,
    store: StoreProvider,
    tracer: Tracer | None = None,
) -> APIRouter:
    router = APIRouter()
    call_tracer = tracer or trace.get_tracer("baton.relay_gateway")

    @router.websocket(RELAY_PATH)
    async def relay(websocket: WebSocket) -> None:
        signed = signature.websocket_is_signed(websocket)
        await websocket.accept()
        if not signed:
            await websocket.close(code=POLICY_VIOLATION, reason="invalid X-Twilio-Signature")
            return
        if live.draining:
            await websocket.close(code=TRY_AGAIN_LATER, reason="gateway draining")
            return
        try:
            setup = json.loads(
                await asyncio.wait_for(websocket.receive_text(), SETUP_TIMEOUT_SECONDS)
            )
        except (TimeoutError, ValueError, WebSocketDisconnect):
            await websocket.close(code=POLICY_VIOLATION, reason="setup expected")
            return
        if setup.get("type") != "setup" or not setup.get("callSid"):
            await websocket.close(code=POLICY_VIOLATION, reason="setup must come first")
            return
        socket = RelaySocket(websocket, broker, setup, call_tracer, store)
        subscription = await broker.connection.subscribe(
            VOICE_CALL.subject(socket.call_sid), cb=socket.on_command
        )
        live.add(socket.call)
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    frame = json.loads(text)
                except ValueError:
                    continue
                await socket.handle(frame)
        except WebSocketDisconnect:
            pass
        finally:
            socket.call.hung_up()
            await subscription.unsubscribe()
            live.remove(socket.call_sid)

    return router
