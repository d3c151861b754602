"""What a relay socket costs per frame: no span per WebSocket message, no compression.

The relay gateway is served as ``baton run`` serves it (:func:`baton.serving.uvicorn_config`);
reply pieces are published on the call's subject as a worker would, so every frame in both
directions passes through the ASGI middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from websockets.asyncio.client import connect

from baton.serving import uvicorn_config
from baton_devtools.nats_server import free_port
from libs.contracts.messages import VoiceToken
from libs.contracts.subjects import VOICE_CALL
from libs.platform.admin import admin_of
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.relay_caller import dial, relay_signature, relay_url_for
from tests.support.servers import serve
from tests.support.traces import recorded_spans
from tests.support.twilio_fakes import sid, twilio_env


async def call_is_live(admin_url: str) -> None:
    """The socket's replica has subscribed to the call's subject (its admin listener says so)."""
    async with httpx.AsyncClient(base_url=admin_url) as http:
        while (await http.get("/internal/calls")).json()["live_calls"] < 1:
            await asyncio.sleep(0.02)


@pytest.fixture
def relay_port() -> int:
    return free_port()


@pytest.fixture
def relay_app(nats_url: str, relay_port: int) -> FastAPI:
    url = f"http://127.0.0.1:{relay_port}"
    return create_relay(RelayGatewaySettings(**twilio_env(nats_url), public_base_url=url))


@pytest.fixture
async def relay_url(
    relay_app: FastAPI, relay_port: int, js: JetStreamContext
) -> AsyncIterator[str]:
    port = relay_port
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn_config(relay_app, host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield url
    server.should_exit = True
    await task


async def test_the_relay_socket_refuses_compression_even_when_offered(relay_url: str) -> None:
    ws_url = await relay_url_for(relay_url, sid("CA"))
    async with connect(
        ws_url,
        additional_headers={"X-Twilio-Signature": relay_signature(ws_url)},
        compression="deflate",
    ) as socket:
        assert socket.request is not None and socket.response is not None
        assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in socket.response.headers


async def test_frames_in_and_out_make_no_span_of_their_own(
    relay_url: str, relay_app: FastAPI, nats_url: str
) -> None:
    call_sid = sid("CA")
    client = await nats.connect(nats_url)
    with recorded_spans() as exporter:
        caller = await dial(relay_url, call_sid)
        for _ in range(3):
            await caller.send({"type": "info", "name": "clientSpeaking", "value": "on"})
        await caller.say("hello")
        async with serve(admin_of(relay_app)) as admin_url:
            await call_is_live(admin_url)
        for piece, last in (("Hi ", False), ("there, ", False), ("how can I help?", True)):
            token = VoiceToken(turn=1, token=piece, last=last)
            await client.publish(VOICE_CALL.subject(call_sid), token.model_dump_json().encode())
        frames = [await caller.next_frame() for _ in range(3)]
        assert [f["token"] for f in frames] == ["Hi ", "there, ", "how can I help?"]
        await caller.hang_up()
        await client.close()
        names = [span.name for span in exporter.get_finished_spans()]
    assert not [name for name in names if name.endswith((" send", " receive"))], names
