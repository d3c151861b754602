"""``make bench``: what an idle call costs a relay gateway, and what stays once calls end.

The relay gateway runs as deployed (``baton run relay-gateway``, a process of its own).
``IDLE_CALLS`` calls connect as Twilio does (the socket URL from the signed ``/voice/incoming``
TwiML, the upgrade signed over it), send ``setup`` and stay silent. The gateway's resident
memory (``VmRSS``) is read before, with every call up, and once every socket has closed again
(its open file descriptors back to where they were); then a second round of calls shows
whether that memory is reused (no growth) or leaked. The allocator keeps its high-water mark,
so RSS does not fall back after the first round. Results go to
``bench-results/voice-sockets.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from baton_devtools.bench.figures import write_results
from baton_devtools.bench.voice import FAKE, declare
from baton_devtools.nats_server import free_port, start_nats_server
from baton_devtools.processes import start_service

IDLE_CALLS = 500
OPENING_AT_ONCE = 50
RESULTS = Path("bench-results") / "voice-sockets.json"


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def idle_call(client: httpx.AsyncClient, base: str) -> ClientConnection:
    """A call that connects, sends ``setup`` and then says nothing."""
    call_sid = "CA" + secrets.token_hex(16)
    incoming = f"{base}/voice/incoming"
    params = {"CallSid": call_sid, "From": "+15005550006", "To": "+15005550001"}
    validator = RequestValidator(FAKE["twilio_auth_token"])
    response = await client.post(
        incoming,
        data=params,
        headers={"X-Twilio-Signature": validator.compute_signature(incoming, params)},
    )
    response.raise_for_status()
    relay = ElementTree.fromstring(response.text).find("./Connect/ConversationRelay")
    url = "" if relay is None else relay.get("url", "")
    socket = await connect(
        url,
        additional_headers={"X-Twilio-Signature": validator.compute_signature(url, {})},
        compression=os.environ.get("BENCH_COMPRESSION", "deflate") or None,
    )
    setup = {"type": "setup", "callSid": call_sid, "from": "+15005550006", "to": "+15005550001"}
    await socket.send(json.dumps({**setup, "sessionId": "VX" + secrets.token_hex(16)}))
    return socket


async def settle(read: Any, accept: Any, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while not accept(value := read()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return value


async def run() -> dict[str, Any]:
    server = start_nats_server()
    try:
        await declare(server.url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            **{name.upper(): value for name, value in FAKE.items()},
            "NATS_URL": server.url,
            "PUBLIC_BASE_URL": base,
            "BATON_VOICE_MAX_LIVE_CALLS": str(IDLE_CALLS * 2),
            "BATON_DRAIN_DEADLINE_SECONDS": "5",
        }
        relay = await start_service("relay-gateway", env, port=port)
        pid = relay.process.pid
        try:
            fresh = httpx.Limits(max_connections=OPENING_AT_ONCE, max_keepalive_connections=0)
            async with httpx.AsyncClient(limits=fresh) as client:
                await idle_call(client, base)  # warm up: first-use imports and pools
                descriptors = open_descriptors(pid)
                before = resident_kib(pid)
                opening = asyncio.Semaphore(OPENING_AT_ONCE)

                async def one() -> ClientConnection:
                    async with opening:
                        return await idle_call(client, base)

                async def round_of_calls() -> int:
                    """Open ``IDLE_CALLS`` idle calls; the gateway's RSS while they are up."""
                    sockets = await asyncio.gather(*(one() for _ in range(IDLE_CALLS)))
                    held = resident_kib(pid)
                    await asyncio.gather(*(socket.close() for socket in sockets))
                    await settle(lambda: open_descriptors(pid), lambda n: n <= descriptors)
                    return held

                during = await round_of_calls()
                after = resident_kib(pid)
                await round_of_calls()
                after_second = resident_kib(pid)
        finally:
            relay.terminate()
    finally:
        server.stop()
    return {
        "measured": f"relay gateway VmRSS with {IDLE_CALLS} idle calls (setup sent, then silence)",
        "idle_calls": IDLE_CALLS,
        "rss_before_kib": before,
        "rss_with_calls_kib": during,
        "rss_after_close_kib": after,
        "kib_per_idle_call": round((during - before) / IDLE_CALLS, 1),
        "kib_kept_per_call_after_close": round((after - before) / IDLE_CALLS, 1),
        "rss_after_a_second_round_kib": after_second,
        "second_round_growth_kib": after_second - after,
    }


def main() -> None:
    results = asyncio.run(run())
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
