"""The summary a human agent reads when the handed-off task arrives, written in one place.

It rides in ``HandoffRequested.summary`` and ends up in the task's attributes. Studio's
SendToFlex widget takes at most 1,024 characters of attributes JSON, shared with the
routing attributes, so a summary is at most :data:`SUMMARY_LIMIT` characters. It always
names the customer's issue: the model is asked to, and the extractive summary quotes the
customer's own words.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Protocol

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from libs.contracts.messages import Channel, TranscriptLine
from libs.platform.genai import model_call
from services.agent_worker.agent import TurnContext

log = logging.getLogger("baton.agent_worker.summary")

SUMMARY_LIMIT = 480
"""Leaves room for routing attributes inside Studio's 1,024-character SendToFlex limit."""

_SMALL_TALK = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|thanks?|thank you|"
    r"ok(?:ay)?|yes|yeah|no|nope|sure)(?:\s+there)?[\s!.,?]*$",
    re.IGNORECASE,
)
_SPEAKERS = {"customer": "Customer", "agent": "AI assistant", "human": "Human agent"}

SUMMARY_PROMPT = (
    "You write the handoff note a human contact-center agent reads before taking over a "
    "conversation from an AI assistant. In at most three short sentences and under 400 "
    "characters, state the customer's issue in concrete terms, what the assistant already "
    "tried, and why the conversation is being handed over. No greeting, no markdown, no "
    "phone numbers or other personal data."
)


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def fit_summary(text: str) -> str:
    return clip(text, SUMMARY_LIMIT)


def customer_issue(history: Sequence[TranscriptLine], latest: str) -> str:
    """The first thing the customer said that is not small talk: usually the problem itself."""
    said = [line.text for line in history if line.role == "customer"] + [latest]
    for text in said:
        if text.strip() and not _SMALL_TALK.match(text.strip()):
            return text
    return latest


def extractive_summary(history: Sequence[TranscriptLine], latest: str, reason: str) -> str:
    """The customer's issue, why they are handed over, what the AI tried, their last words.

    What the AI tried (its latest replies, most recent last) gets the room the other parts
    leave, so the summary stays within :data:`SUMMARY_LIMIT`.
    """
    issue = " ".join(customer_issue(history, latest).split())
    head = [f"Issue: {clip(issue, 160)}", f"Handoff reason: {clip(reason, 80)}"]
    latest = " ".join(latest.split())
    tail = [f"Latest: {clip(latest, 120)}"] if latest and latest != issue else []
    replies = [line.text for line in history if line.role == "agent"]
    if not replies:
        return fit_summary(" | ".join(head + tail))
    label = f"AI tried ({len(replies)} {'reply' if len(replies) == 1 else 'replies'}): "
    room = SUMMARY_LIMIT - len(" | ".join([*head, *tail, label]))
    recent = _distinct(replies)[-TRIED_REPLIES:]
    each = max(20, room // len(recent) - 3)
    tried = label + " / ".join(f'"{clip(reply, each)}"' for reply in recent)
    return fit_summary(" | ".join([*head, tried, *tail]))


TRIED_REPLIES = 2
"""How many of the AI's latest replies the extractive summary quotes."""


def _distinct(replies: Sequence[str]) -> list[str]:
    """The replies in order, a repeated reply kept at its latest place."""
    latest = {" ".join(reply.split()): index for index, reply in enumerate(replies)}
    return [reply for reply, _ in sorted(latest.items(), key=lambda item: item[1])]


def transcript_text(history: Sequence[TranscriptLine], latest: str, lines: int) -> str:
    recent = [line for line in history if line.role in _SPEAKERS][-lines:]
    rendered = [f"{_SPEAKERS[line.role]}: {clip(line.text, 300)}" for line in recent]
    rendered.append(f"Customer: {clip(latest, 300)}")
    return "\n".join(rendered)


class Summarizer(Protocol):
    async def summarize(self, turn: TurnContext, reason: str) -> str:
        """A summary for the human; may raise or come back empty (see :func:`write_summary`)."""
        ...


async def write_summary(summarizer: Summarizer, turn: TurnContext, reason: str) -> str:
    """The summarizer's note when it can be had, else the extractive one: never no summary."""
    try:
        written = await summarizer.summarize(turn, reason)
    except Exception as error:  # the handoff must not wait on, or fail with, its summary
        log.warning("summary unavailable (%s): using the extractive one", type(error).__name__)
    else:
        if written.strip():
            return fit_summary(written)
    return extractive_summary(turn.history, turn.text, reason)


class ExtractiveSummarizer:
    """The summary without a model: the policy agent's, and the model's fallback."""

    async def summarize(self, turn: TurnContext, reason: str) -> str:
        return extractive_summary(turn.history, turn.text, reason)


class ModelSummarizer:
    """A short non-streaming completion, written while the customer waits for the goodbye.

    It gets its own short timeout and no retries; a failure or a late answer raises, and
    :func:`write_summary` falls back to the extractive summary.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        *,
        timeout_seconds: float = 8.0,
        voice_timeout_seconds: float = 1.5,
        history_lines: int = 20,
    ) -> None:
        self._client = client.with_options(timeout=timeout_seconds, max_retries=0)
        self._voice_timeout = voice_timeout_seconds
        self._model = model
        self._history_lines = history_lines

    async def summarize(self, turn: TurnContext, reason: str) -> str:
        issue = clip(customer_issue(turn.history, turn.text), 300)
        transcript = transcript_text(turn.history, turn.text, self._history_lines)
        request = (
            f"The customer first said: {issue}\n\n"
            f"Latest conversation:\n{transcript}\n\nHandoff reason: {reason}"
        )
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": request},
        ]
        # A caller hears silence until the goodbye: on a call the summary waits less.
        timeout = self._voice_timeout if turn.route.channel is Channel.VOICE else None
        with model_call(self._model) as call, call.sending():
            completion = await asyncio.wait_for(
                self._client.chat.completions.create(
                    model=self._model, messages=messages, max_tokens=160, temperature=0.2
                ),
                timeout,
            )
            call.saw(completion)
        text = completion.choices[0].message.content if completion.choices else None
        return text or ""
