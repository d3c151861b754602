"""``make bench``: the contact-center performance record, every figure from one run.

One nats-server and one replica of each service, each in a process of its own as deployed
(embedded policy agent), and a Twilio that answers every REST call after a fixed delay
(:mod:`fake_twilio`). Measured, side by side:

- ``nats_round_trip``: a raw nats-py request/reply on the same server, back to back: the
  floor; ``nats_round_trip_paced``: the same at the calls' pacing (N callers, each once a
  second), where every request finds the processes idle, as every hop of a paced turn does;
- ``voice_pacing`` (a): N live calls each speaking once a second; first token (prompt frame
  sent → first ``text`` frame) p50/p99, and their ratios to both round trips;
- ``voice_saturation`` (b): calls speaking as soon as the previous reply ended; turns/s and
  CPU ms per turn of the relay gateway, the worker and nats-server (``/proc``);
- ``sms`` (c): customers texting through the messaging gateway, Twilio answering each reply
  in 100 ms; answered turns/s, CPU ms per turn, lost and doubled replies;
- ``handoff`` (d): one customer in ten asks for a person during the SMS run; customer
  webhook → Studio execution POST, p50/p99;
- ``memory`` (e): relay gateway memory per idle live call; JetStream bytes per 1,000
  conversations of state (conversation state with its lease, reply records).

Results go to ``bench-results/throughput.json`` (``--output`` to change it); ``--quick``
runs smaller numbers for CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import nats
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from baton_devtools.bench import figures, voice
from baton_devtools.nats_server import LocalNatsServer, free_port, port_open, start_nats_server
from baton_devtools.processes import ServiceProcess, start_service
from emulator import fake_account
from libs.contracts.subjects import CONVERSATIONS_BUCKET, REPLIES_BUCKET
from libs.platform.streams import declare_streams

RESULTS = Path("bench-results") / "throughput.json"
TWILIO_DELAY_SECONDS = 0.1
QUESTION = "what are your opening hours?"
ASK_FOR_A_PERSON = "I want to talk to a human please"
HANDOFF_EVERY = 10
"""One SMS customer in this many asks for a person (the handoff figure)."""
CUSTOMER_CONNECTIONS = 32
"""Webhooks in flight at once, as Twilio's edge would hold them."""


@dataclass(frozen=True)
class Sizes:
    pacing_calls: int
    pacing_seconds: float
    saturation_calls: int
    saturation_seconds: float
    sms_conversations: int
    idle_calls: int
    round_trips: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(20, 4.0, 8, 4.0, 200, 100, 500)
        return cls(100, 15.0, 32, 10.0, 1000, 500, 2000)


@dataclass
class Stack:
    nats: LocalNatsServer
    twilio_url: str
    twilio: subprocess.Popen[bytes]
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        if name == "nats-server":
            return self.nats.process.pid
        return self.services[name].process.pid

    def url(self, name: str) -> str:
        return self.services[name].url


def environment(nats_url: str, twilio_url: str, public_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **fake_account.environment(),
        "NATS_URL": nats_url,
        "PUBLIC_BASE_URL": public_url,
        "TWILIO_API_BASE_URL": twilio_url,
        "OTEL_METRICS_EXPORTER": "none",
        # the saturation callers speak as soon as a reply ends, far faster than a person
        "BATON_VOICE_PROMPT_BURST": "1000",
        "BATON_VOICE_PROMPTS_PER_SECOND": "1000",
    }


@asynccontextmanager
async def running_stack() -> AsyncIterator[Stack]:
    server = start_nats_server()
    client = await nats.connect(server.url)
    await declare_streams(client.jetstream(), replicas=1)
    await client.close()
    twilio_port = free_port()
    twilio = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baton_devtools.bench.fake_twilio",
            str(twilio_port),
            str(TWILIO_DELAY_SECONDS),
        ]
    )
    while not port_open("127.0.0.1", twilio_port):
        await asyncio.sleep(0.05)
    stack = Stack(server, f"http://127.0.0.1:{twilio_port}", twilio)
    try:
        for name in ("relay-gateway", "messaging-gateway", "agent-worker", "handoff-dispatcher"):
            port = free_port()
            env = environment(server.url, stack.twilio_url, f"http://127.0.0.1:{port}")
            stack.services[name] = await start_service(name, env, port=port)
        yield stack
    finally:  # killed, not drained: the figures are taken, and a drain would wait for calls
        for process in stack.services.values():
            process.stop()
        twilio.kill()
        twilio.wait(timeout=10)
        server.stop()


# --- the floor --------------------------------------------------------------------------


async def nats_round_trip(nats_url: str, count: int) -> dict[str, float]:
    """A raw nats-py request/reply on the same server: what NATS itself costs a hop."""
    client = await nats.connect(nats_url)

    async def echo(message: Any) -> None:
        await message.respond(message.data)

    await client.subscribe("bench.echo", cb=echo)
    samples: list[float] = []
    for index in range(count + 100):
        started = time.perf_counter()
        await client.request("bench.echo", b"ping", timeout=5)
        if index >= 100:
            samples.append((time.perf_counter() - started) * 1000)
    await client.close()
    return figures.latency(samples)


async def paced_round_trip(nats_url: str, callers: int, seconds: float) -> dict[str, float]:
    """The same request/reply at the calls' pacing: ``callers`` each asking once a second.

    A paced turn wakes an idle process at every hop; a back-to-back loop never lets one
    idle, so on a virtual machine its round trip is the floor and this one the fair match.
    """
    client = await nats.connect(nats_url)

    async def echo(message: Any) -> None:
        await message.respond(message.data)

    await client.subscribe("bench.echo.paced", cb=echo)
    samples: list[float] = []
    loop = asyncio.get_running_loop()

    async def caller() -> None:
        await asyncio.sleep(random.random())
        started = tick = loop.time()
        while loop.time() - started < seconds:
            sent = time.perf_counter()
            await client.request("bench.echo.paced", b"ping", timeout=5)
            samples.append((time.perf_counter() - sent) * 1000)
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - loop.time()))

    await asyncio.gather(*(caller() for _ in range(callers)))
    await client.close()
    return figures.latency(samples)


# --- voice ------------------------------------------------------------------------------


async def open_call(relay_url: str) -> ClientConnection:
    """A call as Twilio places it: the socket URL from ``/voice/incoming``, then ``setup``."""
    call_sid = "CA" + secrets.token_hex(16)
    url = await voice.socket_url(int(relay_url.rsplit(":", 1)[1]), call_sid, twiml=True)
    signature = RequestValidator(fake_account.AUTH_TOKEN).compute_signature(url, {})
    socket = await connect(url, additional_headers={"X-Twilio-Signature": signature})
    await socket.send(
        json.dumps(
            {
                "type": "setup",
                "callSid": call_sid,
                "sessionId": "VX" + secrets.token_hex(16),
                "from": "+1415555" + f"{random.randrange(10_000):04d}",
                "to": fake_account.PHONE_NUMBER,
                "direction": "inbound",
            }
        )
    )
    return socket


async def speak_once(socket: ClientConnection) -> float | None:
    """Send a prompt, read the reply to its end; the first-token latency in ms."""
    started = time.perf_counter()
    await socket.send(json.dumps({"type": "prompt", "voicePrompt": QUESTION, "last": True}))
    first: float | None = None
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), REPLY_WAIT_SECONDS))
        if frame.get("type") == "text" and first is None:
            first = (time.perf_counter() - started) * 1000
        if frame.get("type") == "text" and frame.get("last"):
            return first


@dataclass
class Unanswered:
    """Turns whose reply did not end within ``REPLY_WAIT_SECONDS`` (that call then hangs up)."""

    count: int = 0


REPLY_WAIT_SECONDS = 15.0


async def paced_call(
    relay_url: str, seconds: float, warmup: float, samples: list[float], unanswered: Unanswered
) -> None:
    """A caller speaking once a second, from a random offset, for ``seconds``."""
    socket = await open_call(relay_url)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(random.random())
    started = loop.time()
    tick = started
    try:
        while loop.time() - started < seconds:
            try:
                first = await speak_once(socket)
            except TimeoutError:
                unanswered.count += 1
                return
            if first is not None and loop.time() - started >= warmup:
                samples.append(first)
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - loop.time()))
    finally:
        await socket.close()


async def voice_pacing(stack: Stack, calls: int, seconds: float, floor: float) -> dict[str, Any]:
    samples: list[float] = []
    unanswered = Unanswered()
    warmup = 2.0
    relay = stack.url("relay-gateway")
    await asyncio.gather(
        *(paced_call(relay, seconds + warmup, warmup, samples, unanswered) for _ in range(calls))
    )
    result: dict[str, Any] = {
        "calls": calls,
        "first_token": figures.latency(samples),
        "unanswered_turns": unanswered.count,
    }
    result["p50_vs_nats_round_trip"] = figures.ratio(result["first_token"]["p50_ms"], floor)
    result["p99_vs_nats_round_trip"] = figures.ratio(result["first_token"]["p99_ms"], floor)
    return result


async def voice_saturation(stack: Stack, calls: int, seconds: float) -> dict[str, Any]:
    relay = stack.url("relay-gateway")
    sockets = [await open_call(relay) for _ in range(calls)]
    for socket in sockets:  # warm every call's path before measuring
        with contextlib.suppress(TimeoutError):
            await speak_once(socket)
    window = figures.CpuWindow(
        {name: stack.pid(name) for name in ("relay-gateway", "agent-worker", "nats-server")}
    )
    turns = 0
    stop = time.monotonic() + seconds

    async def caller(socket: ClientConnection) -> None:
        nonlocal turns
        while time.monotonic() < stop:
            try:
                await speak_once(socket)
            except TimeoutError:
                return
            turns += 1

    window.start()
    started = time.monotonic()
    await asyncio.gather(*(caller(socket) for socket in sockets))
    elapsed = time.monotonic() - started
    cpu = window.stop()
    for socket in sockets:
        await socket.close()
    per_turn = figures.per_turn_ms(cpu, turns)
    return {
        "calls": calls,
        "turns": turns,
        "turns_per_s": figures.rate(turns, elapsed),
        "cpu_ms_per_turn": per_turn,
        "cpu_ms_per_turn_relay_plus_worker": round(
            per_turn["relay-gateway"] + per_turn["agent-worker"], 3
        ),
    }


async def idle_call_memory(stack: Stack, calls: int) -> dict[str, Any]:
    relay = stack.services["relay-gateway"]
    pid = relay.process.pid
    async with httpx.AsyncClient(base_url=relay.admin_url) as http:  # /internal/* is admin

        async def live() -> int:
            return int((await http.get("/internal/calls")).json()["live_calls"])

        baseline_calls = await live()
        before = figures.rss_bytes(pid)
        sockets = [await open_call(relay.url) for _ in range(calls)]
        while await live() < baseline_calls + calls:
            await asyncio.sleep(0.05)
        after = figures.rss_bytes(pid)
        for socket in sockets:
            await socket.close()
    return {
        "idle_calls": calls,
        "relay_rss_bytes_per_idle_call": round((after - before) / calls),
        "relay_kib_per_idle_call": round((after - before) / calls / 1024, 1),
    }


# --- SMS and handoff --------------------------------------------------------------------


def signed_webhook(url: str, number: str, body: str) -> tuple[bytes, dict[str, str]]:
    """A customer's SMS webhook as Twilio posts it: the encoded form and its headers."""
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": fake_account.ACCOUNT_SID,
        "From": number,
        "To": fake_account.PHONE_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(fake_account.AUTH_TOKEN).compute_signature(url, form)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return urlencode(form).encode(), headers


async def sent_by_twilio(stack: Stack, to: set[str]) -> dict[str, list[dict[str, Any]]]:
    """What Twilio was asked to send to the numbers ``to`` (not to an earlier run's)."""
    async with httpx.AsyncClient(base_url=stack.twilio_url, timeout=30) as http:
        sent: dict[str, list[dict[str, Any]]] = (await http.get("/_bench/sent")).json()
    return {kind: [m for m in items if m["to"] in to] for kind, items in sent.items()}


_customers = itertools.count()
"""Each SMS run texts from numbers of its own, so runs on one stack are counted apart."""


async def sms(stack: Stack, conversations: int) -> dict[str, Any]:
    gateway = stack.url("messaging-gateway")
    url = f"{gateway}/messaging/sms"
    numbers = [f"+1415{next(_customers):07d}" for _ in range(conversations)]
    asked_at: dict[str, float] = {}
    window = figures.CpuWindow(
        {
            **{
                name: stack.pid(name)
                for name in ("messaging-gateway", "agent-worker", "nats-server")
            },
            # what the harness spends on the same cores: the customers' webhooks, and Twilio
            "load-generator": os.getpid(),
            "fake-twilio": stack.twilio.pid,
        }
    )
    refused = 0
    texts = [  # signed and encoded before the clock starts: the harness's work is not Baton's
        signed_webhook(
            url, number, ASK_FOR_A_PERSON if i % HANDOFF_EVERY == HANDOFF_EVERY - 1 else QUESTION
        )
        for i, number in enumerate(numbers)
    ]
    limit = asyncio.Semaphore(CUSTOMER_CONNECTIONS)

    async def text(
        http: aiohttp.ClientSession, number: str, body: bytes, headers: dict[str, str]
    ) -> None:
        nonlocal refused
        async with limit:
            asked_at[number] = time.time()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status >= 300:
                    refused += 1

    window.start()
    started = time.time()
    # aiohttp, not httpx: a third of the CPU per request, and the harness shares the cores
    connector = aiohttp.TCPConnector(limit=CUSTOMER_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(
            *(text(http, n, *signed) for n, signed in zip(numbers, texts, strict=True))
        )
    webhooks_done = time.time()
    sent = await wait_for_replies(stack, set(numbers))
    cpu = window.stop()
    messages = sent["messages"]
    last = max((m["at"] for m in messages), default=started)
    answered = len({m["to"] for m in messages})
    lost, doubled = figures.lost_and_doubled(numbers, [m["to"] for m in messages])
    handoffs = [asked_at[number] for number in numbers[HANDOFF_EVERY - 1 :: HANDOFF_EVERY]]
    studio = {e["to"]: e["at"] for e in sent["executions"]}
    handoff_ms = [
        (studio[number] - asked_at[number]) * 1000
        for number in numbers[HANDOFF_EVERY - 1 :: HANDOFF_EVERY]
        if number in studio
    ]
    return {
        "sms": {
            "conversations": conversations,
            "twilio_answers_in_ms": TWILIO_DELAY_SECONDS * 1000,
            "webhooks_per_s": figures.rate(conversations, webhooks_done - started),
            "answered_turns_per_s": figures.rate(answered, last - started),
            "cpu_ms_per_turn": figures.per_turn_ms(cpu, answered),
            "webhooks_refused": refused,
            "lost": lost,
            "doubled": doubled,
        },
        "handoff": {
            "handoffs": len(handoffs),
            "studio_posts": len(handoff_ms),
            "webhook_to_studio_post": figures.latency(handoff_ms),
        },
    }


async def wait_for_replies(stack: Stack, to: set[str]) -> dict[str, list[dict[str, Any]]]:
    """What Twilio was sent, once every customer has a reply or nothing moved for 15 s."""
    expected = len(to)
    seen, quiet_since = -1, time.monotonic()
    while True:
        sent = await sent_by_twilio(stack, to)
        count = len(sent["messages"])
        if count >= expected and len(sent["executions"]) >= expected // HANDOFF_EVERY:
            await asyncio.sleep(1.0)  # a doubled reply would arrive now
            return await sent_by_twilio(stack, to)
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since > 15:
            return sent
        await asyncio.sleep(0.1)


async def state_bytes(nats_url: str, conversations: int) -> dict[str, Any]:
    """JetStream bytes per 1,000 conversations, for each bucket that holds their state."""
    client = await nats.connect(nats_url)
    js = client.jetstream()
    result: dict[str, Any] = {}
    for bucket in (CONVERSATIONS_BUCKET, REPLIES_BUCKET):
        info = await js.stream_info(f"KV_{bucket}")
        result[bucket] = {
            "keys": info.state.messages,
            "bytes_per_1000_conversations": round(info.state.bytes * 1000 / conversations),
        }
    await client.close()
    return result


# --- the run ----------------------------------------------------------------------------


async def voice_figures(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    """The NATS round trip, back to back and paced, then voice at contact-center pacing
    (against both) and saturated."""
    floor = await nats_round_trip(stack.nats.url, sizes.round_trips)
    paced = await paced_round_trip(stack.nats.url, sizes.pacing_calls, sizes.pacing_seconds)
    pacing = await voice_pacing(stack, sizes.pacing_calls, sizes.pacing_seconds, floor["p50_ms"])
    first_token = pacing["first_token"]
    pacing["p50_vs_paced_round_trip"] = figures.ratio(first_token["p50_ms"], paced["p50_ms"])
    pacing["p99_vs_paced_round_trip"] = figures.ratio(first_token["p99_ms"], paced["p99_ms"])
    saturation = await voice_saturation(stack, sizes.saturation_calls, sizes.saturation_seconds)
    return {
        "nats_round_trip": floor,
        "nats_round_trip_paced": paced,
        "voice_pacing": pacing,
        "voice_saturation": saturation,
    }


async def run(quick: bool) -> dict[str, Any]:
    sizes = Sizes.of(quick)
    load_before = os.getloadavg()[0]
    async with running_stack() as stack:
        voice_record = await voice_figures(stack, sizes)
        memory = await idle_call_memory(stack, sizes.idle_calls)
        digital = await sms(stack, sizes.sms_conversations)
        memory["state"] = await state_bytes(stack.nats.url, sizes.sms_conversations)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_before_and_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "quick": quick,
        **voice_record,
        **digital,
        "memory": memory,
    }


def main(quick: bool = False, output: Path = RESULTS) -> dict[str, Any]:
    import logging

    logging.disable(logging.WARNING)
    results = asyncio.run(run(quick))
    figures.write_results(output, results)
    return results
