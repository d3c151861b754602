"""``make bench``: what Baton adds to a voice turn, measured side by side in one run.

Three set-ups answer the same prompt frames with an agent that replies instantly, so only
transport and coordination are measured (the model's own time aside):

- ``websocket-echo``: a bare WebSocket server that answers the prompt itself — the floor
  any gateway pays for the socket, JSON and the event loop;
- ``baton-voice``: the relay gateway → JetStream turn → agent worker (lease, turn log,
  conversation state) → core-NATS tokens → the gateway → the socket;
- ``baton-voice-2-workers``: the same with two workers sharing the durable consumer;
- ``baton-voice-processes``: as deployed, the gateway and a worker (policy agent) each in
  a process of its own: this is the figure for Baton's overhead.

The figure that matters is prompt frame sent → first ``text`` frame received; Baton's own
overhead is the difference to the echo floor. Results go to ``bench-results/voice.json``.
Each call dials the socket URL its ``/voice/incoming`` TwiML names, as Twilio does; the bench
speaks far faster than a caller, so its gateways allow ``PROMPT_BURST`` prompts at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

from baton.serving import uvicorn_config
from baton_devtools.bench.figures import write_results
from baton_devtools.nats_server import free_port, start_nats_server
from baton_devtools.processes import start_service
from emulator import fake_account

TURNS_PER_CALL = 60
CALLS = 5
WARMUP_TURNS = 10
PROMPT_BURST = (TURNS_PER_CALL + WARMUP_TURNS) * 2
RESULTS = Path("bench-results") / "voice.json"

FAKE: dict[str, Any] = {name.lower(): value for name, value in fake_account.environment().items()}


class InstantAgent:
    """Answers at once in two tokens: the model's time is not what this measures."""

    async def respond(self, turn: Any, tools: Any) -> AsyncIterator[str]:
        yield "ok "
        yield "done"


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/voice/relay")
    async def relay(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                if frame.get("type") == "prompt":
                    await websocket.send_text(json.dumps({"type": "text", "token": "ok "}))
                    await websocket.send_text(
                        json.dumps({"type": "text", "token": "done", "last": True})
                    )
        except WebSocketDisconnect:
            return

    return app


@asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def socket_url(port: int, call_sid: str, *, twiml: bool) -> str:
    """The relay URL a call dials: from the gateway's signed ``/voice/incoming`` TwiML."""
    if not twiml:
        return f"ws://127.0.0.1:{port}/voice/relay"
    incoming = f"http://127.0.0.1:{port}/voice/incoming"
    params = {"CallSid": call_sid, "From": "+15005550006", "To": "+15005550001"}
    signature = RequestValidator(FAKE["twilio_auth_token"]).compute_signature(incoming, params)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            incoming, data=params, headers={"X-Twilio-Signature": signature}
        )
    response.raise_for_status()
    relay = ElementTree.fromstring(response.text).find("./Connect/ConversationRelay")
    return "" if relay is None else relay.get("url", "")


async def one_call(port: int, *, twiml: bool) -> list[float]:
    call_sid = "CA" + secrets.token_hex(16)
    url = await socket_url(port, call_sid, twiml=twiml)
    signature = RequestValidator(FAKE["twilio_auth_token"]).compute_signature(url, {})
    samples: list[float] = []
    async with connect(url, additional_headers={"X-Twilio-Signature": signature}) as socket:
        await socket.send(
            json.dumps(
                {
                    "type": "setup",
                    "callSid": call_sid,
                    "sessionId": "VX" + secrets.token_hex(16),
                    "from": "+15005550006",
                    "to": "+15005550001",
                    "direction": "inbound",
                }
            )
        )
        for turn in range(TURNS_PER_CALL + WARMUP_TURNS):
            started = time.perf_counter()
            prompt = f"turn {turn}: what are your opening hours?"
            await socket.send(json.dumps({"type": "prompt", "voicePrompt": prompt}))
            first: float | None = None
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame.get("type") == "text" and first is None:
                    first = time.perf_counter()
                if frame.get("last"):
                    break
            if turn >= WARMUP_TURNS and first is not None:
                samples.append((first - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "turns": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 3),
    }


async def measure(port: int, *, twiml: bool = True) -> dict[str, float]:
    samples: list[float] = []
    for _ in range(CALLS):
        samples += await one_call(port, twiml=twiml)
    return summary(samples)


async def declare(nats_url: str) -> None:
    import nats

    from libs.platform.streams import declare_streams

    client = await nats.connect(nats_url)
    await declare_streams(client.jetstream(), replicas=1)
    await client.close()


async def baton_voice(nats_url: str, workers: int) -> dict[str, float]:
    from services.agent_worker.main import create_app as create_worker
    from services.agent_worker.settings import AgentWorkerSettings
    from services.relay_gateway.main import create_app as create_relay
    from services.relay_gateway.settings import RelayGatewaySettings

    await declare(nats_url)
    port = free_port()
    relay = RelayGatewaySettings(
        **FAKE,
        nats_url=nats_url,
        public_base_url=f"http://127.0.0.1:{port}",
        baton_voice_prompt_burst=PROMPT_BURST,
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(serving(create_relay(relay), port))
        for index in range(workers):
            settings = AgentWorkerSettings(nats_url=nats_url, baton_instance_id=f"bench-{index}")
            app = create_worker(settings, agent=InstantAgent())
            await stack.enter_async_context(serving(app, free_port()))
        return await measure(port)


async def baton_voice_processes(nats_url: str) -> dict[str, float]:
    """As deployed: the relay gateway and a worker (the policy agent) in processes of their own."""
    await declare(nats_url)
    relay_port, worker_port = free_port(), free_port()
    env = {
        **os.environ,
        **{name.upper(): value for name, value in FAKE.items()},
        "NATS_URL": nats_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{relay_port}",
        "BATON_VOICE_PROMPT_BURST": str(PROMPT_BURST),
    }
    relay = await start_service("relay-gateway", env, port=relay_port)
    worker = await start_service("agent-worker", env, port=worker_port)
    try:
        return await measure(relay_port)
    finally:
        relay.terminate()
        worker.terminate()


async def run() -> dict[str, Any]:
    server = start_nats_server()
    try:
        echo_port = free_port()
        async with serving(echo_app(), echo_port):
            echo = await measure(echo_port, twiml=False)
        voice = await baton_voice(server.url, workers=1)
        voice_two = await baton_voice(server.url, workers=2)
        processes = await baton_voice_processes(server.url)
    finally:
        server.stop()
    overhead = round(processes["p50_ms"] - echo["p50_ms"], 3)
    return {
        "measured": "prompt frame sent -> first text frame received (ms), instant agent",
        "websocket-echo": echo,
        "baton-voice": voice,
        "baton-voice-2-workers": voice_two,
        "baton-voice-processes": processes,
        "baton_overhead_p50_ms": overhead,
        "ratio_p50_baton_to_echo": round(processes["p50_ms"] / echo["p50_ms"], 2),
        "python": sys.version.split()[0],
    }


def main() -> None:
    import logging

    logging.disable(logging.WARNING)
    results = asyncio.run(run())
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
