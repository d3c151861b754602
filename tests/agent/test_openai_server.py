"""The scripted model server refuses what OpenAI refuses, so a malformed request fails a test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.agent.openai_server import ScriptedModel

USER = {"role": "user", "content": "hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "handoff", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"messages": [USER]}, "you must provide a model parameter"),
        ({"model": "m", "messages": []}, "'messages' must be a non-empty array"),
        (
            {"model": "m", "messages": [USER], "stream_options": {"include_usage": True}},
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        ),
        (
            {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0]: unknown role",
        ),
        (
            {"model": "m", "messages": [USER, {"role": "tool", "tool_call_id": "x"}]},
            "messages[1]: messages with role 'tool' must be a response to a preceding message "
            "with 'tool_calls'.",
        ),
        (
            {
                "model": "m",
                "messages": [USER, {"role": "assistant", "tool_calls": [CALL]}, USER],
            },
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. Missing: ['call_1']",
        ),
        (
            {
                "model": "m",
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{**CALL, "function": {"name": "handoff", "arguments": {}}}],
                    },
                ],
            },
            "messages[1]: a tool call's arguments must be a JSON string",
        ),
        (
            {"model": "m", "messages": [USER], "tools": [{"name": "handoff"}]},
            "every tool must be {'type': 'function', 'function': {'name': ...}}",
        ),
    ],
)
async def test_a_malformed_request_is_a_400(
    openai_url: str, model: ScriptedModel, body: dict[str, Any], reason: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{openai_url}/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": reason, "type": "invalid_request_error", "param": None, "code": None}
    }
    assert model.requests == []
    assert model.refused == [reason]
    model.refused.clear()  # expected here; the fixture fails any other test that sees one


async def test_a_tool_round_trip_is_accepted(openai_url: str, model: ScriptedModel) -> None:
    body = {
        "model": "m",
        "messages": [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
        ],
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{openai_url}/chat/completions", json=body)
    assert response.status_code == 200
    assert model.requests == [body]
