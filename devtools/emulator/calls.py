"""Placing calls to a relay gateway (``/_emulator/calls``) and steering them while they last.

``POST /_emulator/calls`` ``{"from", "to"?, "prompts"?: ["…", {"dtmf": "5"}, …]}`` dials
``EMULATOR_RELAY_VOICE_URL`` and answers at once with the call; its transcript and state are at
``GET /_emulator/calls/{CallSid}``. A prompt waits for the agent's whole answer before the next
one is spoken. ``say``, ``dtmf``, ``interrupt`` and ``hangup`` steer a live call (``baton
call`` uses them).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from emulator.dependencies import Settings, State
from emulator.errors import TwilioError
from emulator.relay_caller import CallerAction, RelayCall
from emulator.settings import EmulatorSettings
from emulator.store import CallRecord, EmulatorState
from emulator.webhooks import WebhookSender
from emulator.wire import new_sid, utc_now

router = APIRouter(prefix="/_emulator/calls", tags=["emulator admin"])


class CallManager:
    """The live calls of one emulator; each runs in its own task until it ends."""

    def __init__(
        self, app: FastAPI, settings: EmulatorSettings, state: EmulatorState, sender: WebhookSender
    ) -> None:
        self._app = app
        self._settings = settings
        self._state = state
        self._sender = sender
        self._calls: dict[str, RelayCall] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._twilio_host: httpx.AsyncClient | None = None

    def place(self, from_: str, to: str, voice_url: str, actions: list[CallerAction]) -> RelayCall:
        if self._twilio_host is None:
            self._twilio_host = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self._app),
                base_url="https://webhooks.twilio.com",
                timeout=self._settings.emulator_webhook_timeout_seconds,
            )
        now = utc_now()
        record = CallRecord(new_sid("CA"), from_, to, "ringing", now, now)
        self._state.calls[record.sid] = record
        call = RelayCall(
            record,
            settings=self._settings,
            state=self._state,
            sender=self._sender,
            twilio_host=self._twilio_host,
            voice_url=voice_url,
        )
        for action in actions:
            call.act(action)
        self._calls[record.sid] = call
        task = asyncio.create_task(call.run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return call

    def get(self, call_sid: str | None) -> RelayCall | None:
        return self._calls.get(call_sid or "")

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._twilio_host is not None:
            await self._twilio_host.aclose()


def calls_of(request: Request) -> CallManager:
    manager: CallManager = request.app.state.calls
    return manager


Calls = Annotated[CallManager, Depends(calls_of)]


class CallStep(BaseModel):
    """One scripted caller action; a plain string in ``prompts`` is ``{"say": …}``."""

    say: str | None = None
    dtmf: str | None = Field(default=None, pattern=r"^[0-9*#w]+$")
    interrupt: bool = False
    pause: float | None = Field(default=None, ge=0, le=60)
    wait: bool = True
    """Wait for the agent's whole answer (``text`` with ``last:true``) before going on."""

    def action(self) -> CallerAction:
        if self.interrupt:
            return CallerAction("interrupt")
        if self.pause is not None:
            return CallerAction("pause", seconds=self.pause)
        if self.dtmf:
            return CallerAction("dtmf", self.dtmf, self.wait)
        return CallerAction("say", self.say or "", self.wait)


class PlaceCall(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str | None = None
    """Our number; defaults to ``TWILIO_PHONE_NUMBER``."""
    prompts: list[str | CallStep] = Field(default_factory=list)
    voice_url: str | None = None
    """Overrides ``EMULATOR_RELAY_VOICE_URL`` for this call."""


class Say(BaseModel):
    text: str = Field(min_length=1)
    wait: bool = False


class Digit(BaseModel):
    digit: str = Field(pattern=r"^[0-9*#w]+$")


def _live(calls: Calls, call_sid: str) -> RelayCall:
    call = calls.get(call_sid)
    if call is None:
        raise TwilioError(404, f"No call {call_sid} was placed by this emulator")
    if call.over:
        raise TwilioError(409, f"Call {call_sid} is {call.record.state}")
    return call


@router.post("", status_code=201)
async def place_call(body: PlaceCall, calls: Calls, settings: Settings) -> dict[str, Any]:
    """Dial the relay gateway as Twilio does for an incoming call."""
    voice_url = body.voice_url or settings.emulator_relay_voice_url
    if not voice_url:
        raise TwilioError(400, "EMULATOR_RELAY_VOICE_URL is not set and no voice_url was given")
    steps = [CallStep(say=p) if isinstance(p, str) else p for p in body.prompts]
    call = calls.place(
        body.from_,
        body.to or settings.twilio_phone_number,
        voice_url,
        [step.action() for step in steps],
    )
    return call.record.as_json()


@router.get("")
async def list_calls(state: State) -> list[dict[str, Any]]:
    return [record.as_json() for record in state.calls.values()]


@router.get("/{call_sid}")
async def fetch_call(call_sid: str, state: State) -> dict[str, Any]:
    record = state.calls.get(call_sid)
    if record is None:
        raise TwilioError(404, f"No call {call_sid} was placed by this emulator")
    return record.as_json()


@router.post("/{call_sid}/say")
async def say(call_sid: str, body: Say, calls: Calls) -> dict[str, Any]:
    """The caller speaks: a ``prompt`` on the relay, or words to the human agent."""
    call = _live(calls, call_sid)
    call.act(CallerAction("say", body.text, body.wait))
    return call.record.as_json()


@router.post("/{call_sid}/dtmf")
async def dtmf(call_sid: str, body: Digit, calls: Calls) -> dict[str, Any]:
    call = _live(calls, call_sid)
    call.act(CallerAction("dtmf", body.digit, False))
    return call.record.as_json()


@router.post("/{call_sid}/interrupt")
async def interrupt(call_sid: str, calls: Calls) -> dict[str, Any]:
    call = _live(calls, call_sid)
    call.act(CallerAction("interrupt"))
    return call.record.as_json()


@router.post("/{call_sid}/hangup")
async def hang_up(call_sid: str, calls: Calls) -> dict[str, Any]:
    call = _live(calls, call_sid)
    call.hang_up()
    return call.record.as_json()
