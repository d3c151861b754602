"""Every Twilio REST request the emulator answered, so tests can check exact fields and auth.

The recorder sits outside everything else: it sees the body before any handler (even one that
answers 401 without reading it) and the status that was finally sent. Secrets are never kept:
only which credential was used and its public half.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.auth import basic_credentials, credential_kind
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, RecordedRequest
from emulator.wire import utc_now

TWILIO_API_ROOTS = ("/v1/", "/v2/", "/2010-04-01/")
"""Version roots of every Twilio product path; the admin API and docs are not recorded."""
STUDIO_HEADER = "x-emulator-studio-execution"
"""Marks a request a Studio flow's HTTP Request widget made: Twilio calling itself, which an
app never sees (neither recorded nor given the faults queued for the app)."""


def from_studio(scope: Scope) -> bool:
    return STUDIO_HEADER in Headers(scope=scope)


_HIDDEN_HEADERS = {"authorization", "cookie"}


def _form(body: bytes) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    for name, value in parse_qsl(body.decode(errors="replace"), keep_blank_values=True):
        previous = fields.get(name)
        if previous is None:
            fields[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            fields[name] = [previous, value]
    return fields


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


class RequestRecorder:
    def __init__(self, app: ASGIApp, settings: EmulatorSettings, state: EmulatorState) -> None:
        self.app = app
        self.settings = settings
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(TWILIO_API_ROOTS)
            or from_studio(scope)
        ):
            await self.app(scope, receive, send)
            return
        body, replay = await self._buffer(receive)
        record = self._record(scope, body)
        self.state.requests.append(record)

        async def note_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            await send(message)

        await self.app(scope, replay, note_status)

    @staticmethod
    async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return body, replay

    def _record(self, scope: Scope, body: bytes) -> RecordedRequest:
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        authorization = headers.get("authorization")
        credentials = basic_credentials(authorization)
        auth = None
        if credentials is not None:
            kind = credential_kind(self.settings, authorization) or "invalid"
            auth = {"kind": kind, "username": credentials[0]}
        is_form = content_type.startswith("application/x-www-form-urlencoded")
        is_json = content_type.startswith("application/json")
        query = dict(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        return RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=query,
            form=_form(body) if is_form else None,
            json=_json(body) if is_json and body else None,
            auth=auth,
            headers={k: v for k, v in headers.items() if k not in _HIDDEN_HEADERS},
            status=0,
            at=utc_now(),
        )
