"""A Twilio that answers every REST call after a fixed delay and remembers what it was sent.

The benchmark's stand-in for Twilio's API: a bare ASGI app (no emulator state, no
validation) so that its own CPU does not crowd the services measured on the same cores.
``POST …/Messages.json`` (an SMS reply) and ``POST …/Executions`` (a Studio handoff) are
recorded with the time they arrived; any ``GET`` (a lookup) finds nothing.
``GET /_bench/sent`` returns the record; run with
``python -m baton_devtools.bench.fake_twilio PORT DELAY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

Scope = dict[str, Any]


class AnsweringTwilio:
    def __init__(self, delay_seconds: float) -> None:
        self.delay = delay_seconds
        self.messages: list[dict[str, Any]] = []
        self.executions: list[dict[str, Any]] = []
        self._next = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        path: str = scope["path"]
        if path == "/_bench/sent":
            await respond(send, 200, {"messages": self.messages, "executions": self.executions})
            return
        if path == "/_bench/reset":
            self.messages.clear()
            self.executions.clear()
            await respond(send, 200, {})
            return
        await asyncio.sleep(self.delay)
        if scope["method"] != "POST":
            await respond(send, 200, empty_list(path))
            return
        self._next += 1
        sid = f"{self._next:032x}"
        form = dict(parse_qsl(body.decode()))
        if path.endswith("/Messages.json"):
            message = {"to": form.get("To"), "body": form.get("Body"), "at": time.time()}
            self.messages.append(message)
            await respond(send, 201, {"sid": "SM" + sid, "status": "queued"})
        elif path.endswith("/Executions"):
            self.executions.append({"to": form.get("To"), "at": time.time()})
            await respond(send, 201, {"sid": "FN" + sid, "status": "active"})
        else:
            await respond(send, 201, {"sid": "XX" + sid})


def empty_list(path: str) -> dict[str, Any]:
    key = path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json").lower()
    return {key: [], "meta": {"next_page_url": None}, "next_page_uri": None}


async def respond(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    uvicorn.run(
        AnsweringTwilio(delay),
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="off",
        access_log=False,
    )


if __name__ == "__main__":
    main()
