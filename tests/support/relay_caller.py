"""A ConversationRelay caller speaking Twilio's frames to a relay gateway over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CUSTOMER,
    OUR_NUMBER,
    post_signed_form,
)


class RelayCaller:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.log: list[tuple[float, dict[str, Any]]] = []
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                frame = json.loads(text)
                self.log.append((time.monotonic(), frame))
                await self.frames.put(frame)
        except Exception:  # the gateway closed the socket
            pass
        finally:
            self.closed.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def setup(self, call_sid: str) -> None:
        await self.send(
            {
                "type": "setup",
                "sessionId": "VX" + secrets.token_hex(16),
                "accountSid": ACCOUNT_SID,
                "callSid": call_sid,
                "from": CUSTOMER,
                "to": OUR_NUMBER,
                "direction": "inbound",
                "callType": "PSTN",
                "callStatus": "RINGING",
                "customParameters": {"tenant": "acme"},
            }
        )

    async def say(self, text: str, last: bool = True) -> None:
        await self.send({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": last})

    async def next_frame(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def reply(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Frames up to and including the ``text`` frame with ``last:true``."""
        frames = []
        while True:
            frame = await self.next_frame(timeout)
            frames.append(frame)
            if frame.get("type") == "text" and frame.get("last"):
                return frames

    async def hang_up(self) -> None:
        await self.connection.close()
        with contextlib.suppress(Exception):
            await self._reader


def relay_signature(ws_url: str, token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(ws_url, {}))


async def relay_url_for(
    gateway_http_url: str, call_sid: str, client: httpx.AsyncClient | None = None
) -> str:
    """The socket URL the gateway's TwiML names for ``call_sid``: what Twilio dials."""
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": CUSTOMER, "To": OUR_NUMBER}
    incoming = f"{gateway_http_url}/voice/incoming"
    if client is None:
        async with httpx.AsyncClient() as own:
            response = await post_signed_form(own, incoming, params)
    else:
        response = await post_signed_form(client, incoming, params)
    response.raise_for_status()
    relay = ElementTree.fromstring(response.text).find("./Connect/ConversationRelay")
    assert relay is not None, response.text
    return relay.get("url", "")


async def dial(
    gateway_http_url: str,
    call_sid: str,
    *,
    signature: str | None = None,
    send_setup: bool = True,
    url: str | None = None,
) -> RelayCaller:
    """Connect as Twilio does: the URL from ``/voice/incoming``'s TwiML, signed over itself."""
    ws_url = url or await relay_url_for(gateway_http_url, call_sid)
    connection = await connect(
        ws_url, additional_headers={"X-Twilio-Signature": signature or relay_signature(ws_url)}
    )
    caller = RelayCaller(connection)
    if send_setup:
        await caller.setup(call_sid)
    return caller
