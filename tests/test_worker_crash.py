"""A worker killed in the middle of a voice turn: another worker answers the caller within 3 s."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from services.relay_gateway.main import create_app as create_relay
from services.relay_gateway.settings import RelayGatewaySettings
from tests.support.processes import service_env, start_service
from tests.support.relay_caller import dial
from tests.support.servers import serve
from tests.support.twilio_fakes import sid, twilio_env

RECOVERY_BUDGET_SECONDS = 3.0


def chunk(content: str | None, finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "baton-test-model",
        "choices": [
            {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
        ],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def stalling_model() -> FastAPI:
    """The first completion starts and then never finishes (its worker dies); later ones do."""
    app = FastAPI()
    calls = {"count": 0}

    @app.post("/v1/chat/completions")
    async def completions() -> StreamingResponse:
        calls["count"] += 1
        first = calls["count"] == 1

        async def stream() -> AsyncIterator[bytes]:
            if first:
                yield chunk("Let me check ")
                await asyncio.sleep(60)
                return
            for piece in ("Your order ", "ships ", "tomorrow."):
                yield chunk(piece)
            yield chunk(None, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


@pytest.mark.slow
async def test_killed_worker_mid_voice_turn(nats_url: str, js: JetStreamContext) -> None:
    async with AsyncExitStack() as stack:
        model_url = await stack.enter_async_context(serve(stalling_model()))
        llm = {
            "OPENAI_API_KEY": "sk-test-not-real",
            "OPENAI_BASE_URL": f"{model_url}/v1",
            "BATON_LLM_MODEL": "baton-test-model",
        }
        port = free_port()
        relay = RelayGatewaySettings(
            **twilio_env(nats_url, public_base_url=f"http://127.0.0.1:{port}")
        )
        relay_url = await stack.enter_async_context(serve(create_relay(relay), port))
        doomed = await start_service("agent-worker", service_env(nats_url, **llm))
        try:
            caller = await dial(relay_url, sid("CA"))
            await caller.say("where is my order")
            first = await caller.next_frame(timeout=15)
            assert first == {"type": "text", "token": "Let me check ", "last": False}
            survivor = AgentWorkerSettings(
                nats_url=nats_url,
                openai_api_key="sk-test-not-real",
                openai_base_url=f"{model_url}/v1",
                baton_llm_model="baton-test-model",
            )
            await stack.enter_async_context(serve(create_worker(survivor)))
            doomed.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            frames = await caller.reply(timeout=10)
            recovered_in = time.monotonic() - killed_at
        finally:
            doomed.stop()
        assert "".join(str(f["token"]) for f in frames) == "Your order ships tomorrow."
        assert recovered_in < RECOVERY_BUDGET_SECONDS, f"answered after {recovered_in:.2f}s"
        await caller.hang_up()
