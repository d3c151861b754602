"""The ConversationRelay WebSocket: Twilio's frames in, the agent's reply frames out.

The upgrade is refused at the handshake (HTTP 403, never a 101) unless it carries a valid
``X-Twilio-Signature`` over the call's own relay URL (:mod:`services.relay_gateway.call_url`)
and that call has no socket yet; beyond ``BATON_VOICE_MAX_LIVE_CALLS`` it is refused with 503.
``setup`` must come first and name the URL's call. Each final prompt (``last:true``) and each
DTMF digit becomes a ``CustomerTurn`` on the turn stream, within the call's allowance
(:mod:`services.relay_gateway.caller_frames`); any other frame is counted and ignored. The
socket's replica subscribes to the call's subject for the reply tokens and commands addressed
to it. A socket silent both ways for ``BATON_VOICE_IDLE_TIMEOUT_SECONDS`` is closed.

Each prompt starts its own trace (``voice.turn``); a command arriving on the call's subject is
handled in a ``process`` span that continues the sender's trace (for reply tokens, only the
first and the last of a turn, so a trace is not one span per word).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Response, WebSocket, WebSocketDisconnect
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
from libs.platform.logs import printable
from libs.platform.propagation import consumer_span
from libs.platform.publishing import publish_core, publish_turn
from libs.platform.request_metrics import SIGNATURE_REJECTIONS, route_template
from libs.platform.span_attributes import CALL_SID, TURN_SEQUENCE
from libs.platform.twilio_signature import TwilioSignature
from services.relay_gateway.call_url import RELAY_CALL_ROUTE, RelayUrlSigner
from services.relay_gateway.caller_frames import (
    CallerFrames,
    FrameLimits,
    Ignored,
    dtmf_digit,
    prompt_text,
    read_frame,
)
from services.relay_gateway.calls import CallSession
from services.relay_gateway.metrics import VOICE_LIVE_CALLS, VOICE_SOCKETS_REFUSED
from services.relay_gateway.settings import RelayGatewaySettings
from services.relay_gateway.turn_timing import VoiceTurnTiming

log = logging.getLogger("baton.relay_gateway.relay")

NORMAL_CLOSURE = 1000
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
SETUP_TIMEOUT_SECONDS = 10.0
COMMAND = TypeAdapter[VoiceCommand](VoiceCommand)
StoreProvider = Callable[[], ConversationStore]


class Refusal(StrEnum):
    """Why a signed upgrade for a valid call URL is refused."""

    CALL_LIVE = "call_live"
    AT_CAPACITY = "at_capacity"


@dataclass
class LiveCalls:
    """The sockets this replica holds, one per call; drained before the process exits.

    A socket claims its call at the handshake and releases only its own claim when it ends,
    so a refused second socket for a live CallSid can never take the first one's call out.
    """

    max_calls: int | None = None
    calls: dict[str, CallSession] = field(default_factory=dict)
    draining: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def claim(self, call: CallSession) -> Refusal | None:
        """Hold ``call`` for its socket, or say why this socket may not have it."""
        if call.call_sid in self.calls:
            return Refusal.CALL_LIVE
        if self.max_calls is not None and len(self.calls) >= self.max_calls:
            return Refusal.AT_CAPACITY
        self.calls[call.call_sid] = call
        VOICE_LIVE_CALLS.add(1)
        self.changed.set()
        return None

    def release(self, call: CallSession) -> None:
        """The socket of ``call`` ended: its claim, and only its claim, goes."""
        if self.calls.get(call.call_sid) is call:
            del self.calls[call.call_sid]
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
        call: CallSession,
        limits: FrameLimits,
    ) -> None:
        self.websocket = websocket
        self.broker = broker
        self.tracer = tracer
        self.store = store
        self.call_sid = call.call_sid
        self.frames = CallerFrames(self.call_sid, limits)
        customer, ours = customer_address(setup)
        self.route = Route(
            channel=Channel.VOICE,
            customer_address=customer,
            agent_address=ours,
            call_sid=self.call_sid,
        )
        self.prompts = 0
        self.last_stored: int | None = None
        """Where this socket's latest turn is stored: the next turn names it for the worker."""
        self.session_id = str(setup.get("sessionId") or uuid.uuid4().hex)
        """A reconnect (after 64105) keeps the CallSid but starts a new session."""
        self.timing = VoiceTurnTiming(
            tracer, self.call_sid, trace.get_current_span().get_span_context()
        )
        self.call = call
        call.timing = self.timing
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
            previous_sequence=self.last_stored,
        )
        try:
            with trace.use_span(opened.span, end_on_exit=False):
                ack = await publish_turn(self.broker, turn)
        except Exception:
            self.last_stored = None  # it may be stored all the same: the next turn names none
            self.timing.failed(opened)
            raise
        self.last_stored = ack.seq
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
        """Act on one frame after ``setup``; anything else is counted and ignored."""
        kind = frame.get("type")
        if kind == "prompt":
            text = prompt_text(frame, self.frames.limits)
            if text is None:
                return
            if isinstance(text, Ignored):
                self.frames.ignore(text, frame)
            elif not self.frames.prompts.take():
                self.frames.ignore(Ignored.RATE_LIMITED, frame)
            else:
                await self.store_turn(text, "text")
        elif kind == "dtmf":
            digit = dtmf_digit(frame)
            if isinstance(digit, Ignored):
                self.frames.ignore(digit, frame)
            elif not self.frames.digits.take():
                self.frames.ignore(Ignored.RATE_LIMITED, frame)
            else:
                await self.store_turn(digit, "dtmf")
        elif kind == "interrupt":
            if not self.frames.interrupts.take():
                self.frames.ignore(Ignored.RATE_LIMITED, frame)
            else:
                await self.interrupted(frame.get("utteranceUntilInterrupt"))
        elif kind == "error":
            self.frames.twilio_error(frame)
        elif kind != "info":  # Twilio may add new types; "info" is expected with ``debug``
            self.frames.ignore(Ignored.UNKNOWN_TYPE, frame)


class IdleWatch:
    """Closes a socket once no frame has gone either way for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last_frame = time.monotonic()

    def touch(self) -> None:
        self.last_frame = time.monotonic()

    async def close_when_idle(self, websocket: WebSocket, call_sid: str) -> None:
        while True:
            left = self.last_frame + self.seconds - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(left)  # a frame meanwhile moves the deadline: look again
        log.info("call %s: no frame for %.0f s, closing the socket", call_sid, self.seconds)
        with contextlib.suppress(RuntimeError, OSError):  # the socket closed meanwhile
            await websocket.close(code=NORMAL_CLOSURE, reason="idle timeout")


async def read_setup(websocket: WebSocket, max_bytes: int) -> dict[str, Any] | None:
    """The first frame, if it arrives in time and is a JSON object; ``None`` otherwise."""
    try:
        message = await asyncio.wait_for(websocket.receive(), SETUP_TIMEOUT_SECONDS)
    except TimeoutError:
        return None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    frame = read_frame(message, max_bytes)
    return frame if isinstance(frame, dict) else None


def relay_router(
    settings: RelayGatewaySettings,
    signature: TwilioSignature,
    relay_urls: RelayUrlSigner,
    broker: NatsBroker,
    live: LiveCalls,
    store: StoreProvider,
    tracer: Tracer | None = None,
) -> APIRouter:
    router = APIRouter()
    call_tracer = tracer or trace.get_tracer("baton.relay_gateway")
    limits = FrameLimits.from_settings(settings)

    def url_opens_call(websocket: WebSocket, call_sid: str, expires: str, mac: str) -> bool:
        """The upgrade is Twilio's, for this call's URL, before that URL expired."""
        if not signature.websocket_is_signed(websocket):
            return False  # logged and counted by the signature check
        refusal = relay_urls.refusal(call_sid, expires, mac, time.time())
        if refusal is None:
            return True
        SIGNATURE_REJECTIONS.inc(route=route_template(websocket.scope), reason=refusal.value)
        log.warning(
            "relay socket refused (403, %s) for call %s: the URL is not one this gateway "
            "issued, or it is older than BATON_RELAY_URL_TTL_SECONDS",
            refusal.value,
            printable(call_sid, 40),
        )
        return False

    async def refuse(websocket: WebSocket, call_sid: str, refusal: Refusal) -> None:
        VOICE_SOCKETS_REFUSED.inc(reason=refusal.value)
        if refusal is Refusal.AT_CAPACITY:
            log.warning(
                "relay socket for call %s refused (503): this replica holds "
                "BATON_VOICE_MAX_LIVE_CALLS=%d calls",
                call_sid,
                settings.baton_voice_max_live_calls,
            )
            await websocket.send_denial_response(Response(status_code=503))
            return
        log.warning("relay socket refused (403): call %s already has a live socket", call_sid)
        await websocket.close()  # before accept: HTTP 403

    @router.websocket(RELAY_CALL_ROUTE)
    async def relay(websocket: WebSocket, call_sid: str, expires: str, mac: str) -> None:
        if not url_opens_call(websocket, call_sid, expires, mac):
            await websocket.close()  # before accept: HTTP 403, the socket never opens
            return
        if live.draining:
            await websocket.accept()
            await websocket.close(code=TRY_AGAIN_LATER, reason="gateway draining")
            return
        idle = IdleWatch(settings.baton_voice_idle_timeout_seconds)

        async def send(frame: dict[str, Any]) -> None:
            idle.touch()
            await websocket.send_json(frame)

        call = CallSession(call_sid, send=send)
        refusal = live.claim(call)
        if refusal is not None:
            await refuse(websocket, call_sid, refusal)
            return
        try:
            await websocket.accept()
            await serve_call(websocket, call, idle)
        except WebSocketDisconnect:
            pass
        finally:
            live.release(call)

    async def serve_call(websocket: WebSocket, call: CallSession, idle: IdleWatch) -> None:
        setup = await read_setup(websocket, limits.max_frame_bytes)
        if setup is None or setup.get("type") != "setup":
            await websocket.close(code=POLICY_VIOLATION, reason="setup must come first")
            return
        if setup.get("callSid") != call.call_sid:
            log.warning("call %s: setup names another call, socket closed", call.call_sid)
            await websocket.close(code=POLICY_VIOLATION, reason="setup is for another call")
            return
        socket = RelaySocket(websocket, broker, setup, call_tracer, store, call, limits)
        subscription = await broker.connection.subscribe(
            VOICE_CALL.subject(call.call_sid), cb=socket.on_command
        )
        idle.touch()
        watchdog = asyncio.create_task(idle.close_when_idle(websocket, call.call_sid))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                idle.touch()
                frame = read_frame(message, limits.max_frame_bytes)
                if isinstance(frame, Ignored):
                    socket.frames.ignore(frame)
                else:
                    await socket.handle(frame)
        finally:
            watchdog.cancel()
            call.hung_up()
            socket.frames.summary()
            await subscription.unsubscribe()

    return router
