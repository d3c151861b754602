"""The human's summary fits Studio's attribute budget and names the customer's issue."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

from fastapi import FastAPI
from openai import AsyncOpenAI

from libs.contracts.messages import Channel, Route, TranscriptLine
from services.agent_worker.summary import (
    ModelSummarizer,
    extractive_summary,
    write_summary,
)
from tests.agent.fakes import lines, turn
from tests.agent.openai_server import Failure, ScriptedModel
from tests.support.expected import SUMMARY_LIMIT
from tests.support.servers import serve

ISSUE = "My order 5512 arrived with a cracked screen and I need a replacement before Friday"


def long_history() -> list[TranscriptLine]:
    history = lines(("customer", "hi"), ("agent", "Hi! What do you need?"), ("customer", ISSUE))
    for index in range(30):
        history += lines(
            ("agent", "Could you tell me more? " * 5),
            ("customer", f"It is still broken, attempt {index}. " * 6),
        )
    return history


def test_extractive_summary_fits_and_names_the_issue() -> None:
    summary = extractive_summary(long_history(), "nothing works " * 40, "frustration " * 30)
    assert len(summary) <= SUMMARY_LIMIT
    assert ISSUE in summary
    assert summary.startswith("Issue: ")
    attributes = {
        "department": "support",
        "priority": "normal",
        "escalation": "frustration",
        "handoffChannel": "sms",
        "reason": "customer is frustrated or dissatisfied",
        "summary": summary,
    }
    assert len(json.dumps(attributes)) <= 1024, "fits SendToFlex with routing attributes"


def test_small_talk_is_not_the_issue() -> None:
    summary = extractive_summary(lines(("customer", "hello")), "my card was charged twice", "x")
    assert summary.startswith("Issue: my card was charged twice")


async def test_model_summary_is_used_and_cut_to_the_limit(
    client: AsyncOpenAI, model: ScriptedModel
) -> None:
    model.summary = "Customer's order 5512 arrived with a cracked screen. " * 30
    summary = await write_summary(
        ModelSummarizer(client, "baton-test-model"),
        turn("still broken", long_history()),
        "customer is frustrated or dissatisfied",
    )
    assert len(summary) <= SUMMARY_LIMIT
    assert summary.startswith("Customer's order 5512 arrived with a cracked screen.")
    [request] = model.requests
    assert request.get("stream") is not True
    prompt = request["messages"][-1]["content"]
    assert ISSUE in prompt and "customer is frustrated or dissatisfied" in prompt


async def test_a_failing_model_falls_back_to_the_extractive_summary(
    client: AsyncOpenAI, model: ScriptedModel
) -> None:
    model.summary = Failure(500)
    summary = await write_summary(
        ModelSummarizer(client, "baton-test-model"),
        turn("still broken", long_history()),
        "frustration",
    )
    assert ISSUE in summary and len(summary) <= SUMMARY_LIMIT
    assert len(model.requests) == 1, "the summary is not retried while the customer waits"


async def test_on_a_call_a_slow_model_summary_gives_way_to_the_extractive_one() -> None:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def slow() -> dict[str, object]:
        await asyncio.sleep(3)
        return {}

    call = Route(
        channel=Channel.VOICE,
        customer_address="+15005550006",
        agent_address="+15005550001",
        call_sid="CA" + "22" * 16,
    )
    context = replace(turn("get me a person", long_history()), route=call)
    async with (
        serve(app) as url,
        AsyncOpenAI(api_key="sk-test", base_url=f"{url}/v1") as slow_client,
    ):
        summarizer = ModelSummarizer(slow_client, "baton-test-model", voice_timeout_seconds=0.3)
        started = time.monotonic()
        summary = await write_summary(summarizer, context, "caller asked for a human")
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert summary == extractive_summary(context.history, context.text, "caller asked for a human")
