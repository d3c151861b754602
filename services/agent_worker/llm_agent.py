"""The model as the agent: streamed Chat Completions with tools, on any OpenAI-compatible API.

Each turn streams one completion, forwarding content tokens as they arrive. When the model
calls tools, their streamed call fragments are put back together, the tools run, their
results go back as ``role: tool`` messages, and the model continues; at most
``max_rounds`` requests per turn, the last without tools so it must answer. The client
bounds each request with its timeout and retries. History comes from the conversation
state in NATS KV (``TurnContext.history``), bounded by customer turns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI, OpenAIError
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall
from opentelemetry import trace

from libs.contracts.messages import Channel, TranscriptLine
from libs.platform.genai import model_call
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.knowledge import DEFAULT_FAQ, Faq, create_knowledge_tool
from services.agent_worker.policy_agent import HANDOFF_GOODBYE
from services.agent_worker.settings import AgentWorkerSettings
from services.agent_worker.tac.handoff import TAC, ConversationSession, create_studio_handoff_tool
from services.agent_worker.tac.tools import TACTool

log = logging.getLogger("baton.agent_worker.llm")
tracer = trace.get_tracer("baton.agent_worker")

DEFAULT_SYSTEM_PROMPT = """\
You are a helpful customer service agent. Answer briefly and plainly. For questions about \
our service, use the knowledge_search tool and answer from its results; never invent \
policies, prices or account details.

Escalate to a human agent when:
- The customer explicitly asks to speak with a human
- You cannot resolve the customer's issue after two attempts
- The conversation involves billing disputes or account security
- The customer expresses frustration or dissatisfaction

To escalate, call the handoff tool with a short reason, then tell the customer you are \
connecting them with a member of our team. If the tool reports handoff_failed, apologise \
and say you could not reach the team just now; if it reports handoff_already_requested, \
say they are already on their way. Routing (priority, queue, department) is set by the \
application: ignore requests to change it."""
VOICE_GUIDANCE = (
    "The customer is on a phone call: answer in one or two short spoken sentences, "
    "without lists, links or markdown."
)
MODEL_UNAVAILABLE = (
    "Sorry, I'm having trouble answering right now. Please try again in a moment, "
    "or ask to speak with a person."
)
NO_ANSWER = "Sorry, I don't have an answer for that. Could you put it another way?"
HUMAN_PREFIX = "(A member of our team wrote) "
MAX_ROUNDS = 4


def create_openai_client(settings: AgentWorkerSettings) -> AsyncOpenAI:
    """One client per process: its connection pool keeps connections to the endpoint alive."""
    if settings.openai_api_key is None:
        raise ValueError("OPENAI_API_KEY: required for the model agent")
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.baton_llm_timeout_seconds,
        max_retries=settings.baton_llm_max_retries,
    )


def recent_turns(history: Sequence[TranscriptLine], turns: int) -> list[TranscriptLine]:
    """The last ``turns`` customer turns and every line after the first of them."""
    starts = [index for index, line in enumerate(history) if line.role == "customer"]
    if len(starts) <= turns:
        return list(history)
    return list(history[starts[-turns] :])


def history_messages(history: Sequence[TranscriptLine]) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
    for line in history:
        if line.role == "customer":
            messages.append({"role": "user", "content": line.text})
        elif line.role == "agent":
            messages.append({"role": "assistant", "content": line.text})
        elif line.role == "human":
            messages.append({"role": "assistant", "content": HUMAN_PREFIX + line.text})
        else:
            messages.append({"role": "system", "content": line.text})
    return messages


def openai_tool(tool: TACTool) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.params_json_schema,
        },
    }


@dataclass
class ToolCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ToolCallBuffer:
    """Streamed tool calls, put back together from fragments keyed by their ``index``."""

    _calls: dict[int, ToolCall] = field(default_factory=dict)

    def add(self, deltas: Sequence[ChoiceDeltaToolCall]) -> None:
        for delta in deltas:
            call = self._calls.setdefault(delta.index, ToolCall())
            if delta.id and not call.id:
                call.id = delta.id
            if delta.function is not None:
                call.name += delta.function.name or ""
                call.arguments += delta.function.arguments or ""

    def calls(self) -> list[ToolCall]:
        ordered = [self._calls[index] for index in sorted(self._calls)]
        for number, call in enumerate(ordered):
            call.id = call.id or f"call_{number}"
        return [call for call in ordered if call.name]


def assistant_message(text: str, calls: Sequence[ToolCall]) -> ChatCompletionAssistantMessageParam:
    tool_calls = [
        ChatCompletionMessageFunctionToolCallParam(
            id=call.id,
            type="function",
            function={"name": call.name, "arguments": call.arguments or "{}"},
        )
        for call in calls
    ]
    return {"role": "assistant", "content": text or None, "tool_calls": tool_calls}


async def run_tool(tools: dict[str, TACTool], call: ToolCall) -> ChatCompletionToolMessageParam:
    """Run one call; anything that goes wrong becomes a result the model can act on."""
    with tracer.start_as_current_span("agent.tool", attributes={"tool.name": call.name}) as span:
        result = await _tool_result(tools, call)
        if isinstance(result, dict) and isinstance(result.get("status"), str):
            span.set_attribute("tool.status", result["status"])
    return {
        "role": "tool",
        "tool_call_id": call.id,
        "content": json.dumps(result, default=str, ensure_ascii=False),
    }


async def _tool_result(tools: dict[str, TACTool], call: ToolCall) -> object:
    tool = tools.get(call.name)
    if tool is None:
        return {"error": f"unknown tool {call.name!r}; available: {sorted(tools)}"}
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {"error": "the arguments were not valid JSON"}
    if not isinstance(arguments, dict):
        return {"error": "the arguments must be a JSON object"}
    try:
        return await tool(**arguments)
    except Exception as error:  # reported to the model, which can retry or answer without it
        log.warning("tool %s failed: %r", call.name, error)
        return {"error": f"{type(error).__name__}: {error}"}


class LlmAgent:
    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        tac: TAC,
        model: str,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        history_turns: int = 10,
        faq: Faq | None = None,
        attributes: dict[str, Any] | None = None,
        extra_tools: Sequence[TACTool] = (),
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self._client = client
        self._tac = tac
        self._model = model
        self._system_prompt = system_prompt
        self._history_turns = history_turns
        self._knowledge = create_knowledge_tool(faq if faq is not None else DEFAULT_FAQ)
        self._attributes = dict(attributes or {})
        self._extra_tools = tuple(extra_tools)
        self._max_rounds = max(1, max_rounds)

    @classmethod
    def from_settings(
        cls, settings: AgentWorkerSettings, *, client: AsyncOpenAI, tac: TAC
    ) -> LlmAgent:
        return cls(
            client,
            tac=tac,
            model=settings.baton_llm_model,
            system_prompt=settings.baton_system_prompt or DEFAULT_SYSTEM_PROMPT,
            history_turns=settings.baton_history_turns,
            faq=settings.faq,
        )

    def tools_for(self, session: ConversationSession) -> list[TACTool]:
        """The turn's tools: TAC's handoff tool, the knowledge tool, then the application's."""
        handoff = create_studio_handoff_tool(self._tac, session, self._attributes)
        return [handoff, self._knowledge, *self._extra_tools]

    def messages(self, turn: TurnContext) -> list[ChatCompletionMessageParam]:
        prompt = self._system_prompt
        if turn.route.channel is Channel.VOICE:
            prompt = f"{prompt}\n\n{VOICE_GUIDANCE}"
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": prompt}]
        messages += history_messages(recent_turns(turn.history, self._history_turns))
        messages.append({"role": "user", "content": turn.text})
        return messages

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        session = ConversationSession.from_turn(turn, tools)
        available = {tool.name: tool for tool in self.tools_for(session)}
        schemas = [openai_tool(tool) for tool in available.values()]
        messages = self.messages(turn)
        spoke = False
        try:
            for round_number in range(1, self._max_rounds + 1):
                last = round_number == self._max_rounds
                buffer = ToolCallBuffer()
                said: list[str] = []
                with model_call(self._model) as request:
                    with request.sending():
                        streamed = await self._client.chat.completions.create(
                            model=self._model,
                            messages=messages,
                            tools=schemas,
                            tool_choice="none" if last else "auto",
                            stream=True,
                            stream_options={"include_usage": True},
                        )
                    async with streamed as stream:
                        async for chunk in stream:
                            request.saw(chunk)
                            for choice in chunk.choices:
                                if choice.index != 0:
                                    continue
                                if choice.delta.content:
                                    said.append(choice.delta.content)
                                    spoke = True
                                    yield choice.delta.content
                                if choice.delta.tool_calls and not last:
                                    buffer.add(choice.delta.tool_calls)
                calls = buffer.calls()
                if not calls:
                    break
                messages.append(assistant_message("".join(said), calls))
                for call in calls:
                    messages.append(await run_tool(available, call))
        except OpenAIError as error:
            log.warning("model request failed for %s: %r", turn.conversation_id, error)
            notice = HANDOFF_GOODBYE if tools.handoff_initiated else MODEL_UNAVAILABLE
            yield f" {notice}" if spoke else notice
            return
        if not spoke:
            yield HANDOFF_GOODBYE if tools.handoff_initiated else NO_ANSWER
