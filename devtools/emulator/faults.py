"""Faults on demand: rate limits, outages and slow answers, queued by tests through the admin API.

A fault matches by method and path prefix and is spent by the next ``count`` authenticated
requests (an unauthenticated one still gets its 401 and spends nothing), or, with
``for_seconds``, applies to every matching request until that time has passed (an outage).
``create_before_delay`` lets the request take effect first and holds only the answer: with a
delay beyond the client's timeout, the client sees a timeout for a request Twilio acted on,
and a client that crashes after Twilio accepted its POST, but before it read the answer, is
reproduced. The request takes effect even when the client has gone by the time it is answered.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.auth import credential_kind
from emulator.dependencies import State
from emulator.errors import code_for_status, error_response
from emulator.recording import from_studio
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, Fault

ADMIN_PREFIX = "/_emulator"


class FaultSpec(BaseModel):
    path_prefix: str = Field(min_length=1)
    status: int = Field(default=429, description="0: only delay the answer")
    count: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    delay_seconds: float = Field(default=0.0, ge=0)
    create_before_delay: bool = False
    method: str = "POST"
    for_seconds: float | None = Field(default=None, gt=0)
    """Apply to every matching request for this long (``count`` is then ignored)."""

    @field_validator("status")
    @classmethod
    def _error_or_delay(cls, value: int) -> int:
        if value != 0 and not 400 <= value <= 599:
            raise ValueError("status must be 0 (delay only) or an HTTP error status 400-599")
        return value


def _retry_after(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def fault_response(fault: Fault) -> JSONResponse:
    headers: dict[str, str] = {}
    if fault.status == 429:
        headers["Retry-After"] = _retry_after(fault.retry_after if fault.retry_after else 1)
    elif fault.retry_after is not None:
        headers["Retry-After"] = _retry_after(fault.retry_after)
    try:
        phrase = HTTPStatus(fault.status).phrase
    except ValueError:
        phrase = "Error"
    return error_response(fault.status, code_for_status(fault.status), phrase, headers)


def take_fault(state: EmulatorState, method: str, path: str) -> Fault | None:
    now = time.monotonic()
    state.faults[:] = [f for f in state.faults if f.until is None or f.until > now]
    for fault in state.faults:
        if fault.method == method and path.startswith(fault.path_prefix):
            if fault.until is None:
                fault.count -= 1
                if fault.count <= 0:
                    state.faults.remove(fault)
            return fault
    return None


class FaultMiddleware:
    """Applies queued faults to Twilio REST requests (never to the admin API)."""

    def __init__(self, app: ASGIApp, settings: EmulatorSettings, state: EmulatorState) -> None:
        self.app = app
        self.settings = settings
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX) or from_studio(scope):
            await self.app(scope, receive, send)
            return
        if credential_kind(self.settings, Headers(scope=scope).get("authorization")) is None:
            await self.app(scope, receive, send)
            return
        fault = take_fault(self.state, scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if not fault.create_before_delay:
            await asyncio.sleep(fault.delay_seconds)
            if fault.status:
                await fault_response(fault)(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(fault.delay_seconds)
        if fault.status:
            await fault_response(fault)(scope, receive, send)
            return
        for message in held:
            await send(message)


router = APIRouter(prefix=f"{ADMIN_PREFIX}/faults", tags=["emulator admin"])


@router.post("", status_code=201)
async def queue_fault(spec: FaultSpec, state: State) -> dict[str, Any]:
    """Queue a fault for the next matching requests."""
    fault = Fault(
        id=state.next_fault_id,
        path_prefix=spec.path_prefix,
        method=spec.method.upper(),
        status=spec.status,
        count=spec.count,
        retry_after=spec.retry_after,
        delay_seconds=spec.delay_seconds,
        create_before_delay=spec.create_before_delay,
        until=time.monotonic() + spec.for_seconds if spec.for_seconds else None,
    )
    state.next_fault_id += 1
    state.faults.append(fault)
    return fault.as_json()


@router.get("")
async def list_faults(state: State) -> list[dict[str, Any]]:
    return [fault.as_json() for fault in state.faults]


@router.delete("", status_code=204)
async def clear_faults(state: State) -> None:
    state.faults.clear()
