"""A local OpenAI-compatible Chat Completions server that plays a script, over real HTTP.

Streamed answers are Server-Sent Events in the official chunk shapes (``data: {...}`` then
``data: [DONE]``); tool calls arrive as ``tool_calls`` deltas whose arguments are split
across chunks, and parallel calls interleave their fragments, as OpenAI sends them.
Non-streamed requests (the handoff summary) get a ``chat.completion`` object.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MODEL = "baton-test-model"
CREATED = 1_700_000_000


@dataclass(frozen=True)
class Text:
    """A plain streamed answer, one chunk per piece."""

    pieces: tuple[str, ...]

    @classmethod
    def of(cls, *pieces: str) -> Text:
        return cls(pieces)


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolCalls:
    """Streamed tool calls, optionally after some text (the model often speaks first)."""

    calls: tuple[Call, ...]
    preface: str = ""

    @classmethod
    def of(cls, *calls: Call, preface: str = "") -> ToolCalls:
        return cls(calls, preface)


@dataclass(frozen=True)
class Failure:
    status: int


Step = Text | ToolCalls | Failure
Brain = Callable[[dict[str, Any]], Step]
"""Decides the answer from the request body, for scripts that depend on what was sent."""


@dataclass
class ScriptedModel:
    steps: deque[Step | Brain] = field(default_factory=deque)
    summary: str | Failure = "Customer needs help; see transcript."
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Why each request OpenAI would have answered 400 was refused."""

    def script(self, *steps: Step | Brain) -> None:
        self.steps.extend(steps)

    @property
    def streamed(self) -> list[dict[str, Any]]:
        return [request for request in self.requests if request.get("stream")]

    def next_step(self, body: dict[str, Any]) -> Step:
        if not self.steps:
            return Text.of("(script exhausted)")
        step = self.steps.popleft()
        return step(body) if callable(step) else step


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-baton-test",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_baton",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def split(text: str, parts: int = 3) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def chunks_for(step: Text | ToolCalls) -> list[dict[str, Any]]:
    chunks = [chunk({"role": "assistant", "content": ""})]
    if isinstance(step, Text):
        chunks += [chunk({"content": piece}) for piece in step.pieces]
        return [*chunks, chunk({}, "stop")]
    if step.preface:
        chunks += [chunk({"content": piece}) for piece in split(step.preface, 2)]
    fragments = [split(json.dumps(call.arguments)) for call in step.calls]
    for index, call in enumerate(step.calls):
        opening = {
            "index": index,
            "id": f"call_{index}_{call.name}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        chunks.append(chunk({"tool_calls": [opening]}))
    for position in range(max(len(parts) for parts in fragments)):
        for index, parts in enumerate(fragments):
            if position < len(parts):
                piece = {"index": index, "function": {"arguments": parts[position]}}
                chunks.append(chunk({"tool_calls": [piece]}))
    return [*chunks, chunk({}, "tool_calls")]


def usage_chunk(body: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What OpenAI streams last with ``stream_options.include_usage``: no choices, the usage."""
    words = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
    written = sum(1 for c in chunks for choice in c["choices"] if choice["delta"])
    usage = {"prompt_tokens": words, "completion_tokens": written}
    return {**chunk({}), "choices": [], "usage": {**usage, "total_tokens": words + written}}


async def sse(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for item in chunks:
        yield f"data: {json.dumps(item)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def failure(status: int) -> JSONResponse:
    body = {"error": {"message": "scripted failure", "type": "server_error", "code": None}}
    return JSONResponse(body, status_code=status, headers={"retry-after-ms": "10"})


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-baton-summary",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def malformed(body: Any) -> str | None:
    """Why OpenAI would answer this Chat Completions request 400, or ``None``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    tools = body.get("tools")
    if tools is not None and not all(
        isinstance(t, dict)
        and t.get("type") == "function"
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
        for t in tools
    ):
        return "every tool must be {'type': 'function', 'function': {'name': ...}}"
    return _malformed_messages(messages)


def _malformed_messages(messages: list[Any]) -> str | None:
    unanswered: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"messages[{index}]: unknown role"
        role, content = message["role"], message.get("content")
        if role == "tool":
            if message.get("tool_call_id") not in unanswered:
                return (
                    f"messages[{index}]: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'."
                )
            unanswered.discard(message["tool_call_id"])
            if not isinstance(content, str):
                return f"messages[{index}]: a tool result's content must be a string"
            continue
        if unanswered:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {sorted(unanswered)}"
            )
        calls = message.get("tool_calls") or []
        if role == "assistant" and calls:
            for call in calls:
                function = call.get("function") or {}
                if call.get("type") != "function" or not isinstance(
                    function.get("arguments"), str
                ):
                    return f"messages[{index}]: a tool call's arguments must be a JSON string"
                unanswered.add(str(call.get("id")))
        elif not isinstance(content, str | list):
            return f"messages[{index}]: content must be a string or an array of parts"
    return None


def bad_request(reason: str) -> JSONResponse:
    body = {"error": {"message": reason, "type": "invalid_request_error", "param": None}}
    return JSONResponse({"error": {**body["error"], "code": None}}, status_code=400)


def create_app(model: ScriptedModel) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        try:
            body: dict[str, Any] = await request.json()
        except ValueError:
            body = {}
        reason = malformed(body)
        if reason is not None:
            model.refused.append(reason)
            return bad_request(reason)
        model.requests.append(body)
        model.authorizations.append(request.headers.get("authorization", ""))
        if not body.get("stream"):
            if isinstance(model.summary, Failure):
                return failure(model.summary.status)
            return JSONResponse(completion(model.summary))
        step = model.next_step(body)
        if isinstance(step, Failure):
            return failure(step.status)
        chunks = chunks_for(step)
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(usage_chunk(body, chunks))
        return StreamingResponse(sse(chunks), media_type="text/event-stream")

    return app


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results a request carried back to the model, decoded."""
    return [
        {**message, "content": json.loads(message["content"])}
        for message in request["messages"]
        if message["role"] == "tool"
    ]
