"""A ConversationRelay caller speaking Twilio's frames to a relay gateway over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from tests.support.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OUR_NUMBER


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


async def dial(
    gateway_http_url: str, call_sid: str, *, signature: str | None = None, send_setup: bool = True
) -> RelayCaller:
    ws_url = gateway_http_url.replace("http://", "ws://") + "/voice/relay"
    connection = await connect(
        ws_url, additional_headers={"X-Twilio-Signature": signature or relay_signature(ws_url)}
    )
    caller = RelayCaller(connection)
    if send_setup:
        await caller.setup(call_sid)
    return caller
