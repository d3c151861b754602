"""What a customer does in the end-to-end tests, and what must then hold, through the emulator
alone: the composed stack runs them, and so does the in-process route stack (which rehearses
them wherever no Docker engine answers)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from services.agent_worker.knowledge import DEFAULT_FAQ
from services.agent_worker.policy_agent import HANDOFF_GOODBYE
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.deploy.compose_file import compose_environment
from tests.e2e.stack import EmulatorDriver, compose_model, handoff_attributes

ASK_FOR_A_HUMAN = "I want to talk to a human"
QUESTIONS = (
    "what are your opening hours?",
    "how do I track my order?",
    "how do returns work?",
    "how do I reset my password?",
)
"""FAQ questions with an answer each, so a lost or repeated turn shows in the replies."""

Task = dict[str, Any]


def answer(question: str) -> str:
    entry = DEFAULT_FAQ.match(question)
    assert entry is not None, question
    return entry.answer


def our_account_and_number() -> tuple[str, str]:
    gateway = compose_environment(compose_model()["services"]["messaging-gateway"])
    return gateway["TWILIO_ACCOUNT_SID"], gateway["TWILIO_PHONE_NUMBER"]


def assert_handoff_task(task: Task | None, data: dict[str, Any], channel: str) -> Task:
    """The Flex task carries the HandoffData: reason, summary, the composed routing attributes
    and the conversation."""
    assert task is not None, "no Flex task appeared"
    attributes = task["attributes"]
    assert task["reason"] and task["reason"] == data["attributes"]["reason"]
    assert task["summary"] and task["summary"] == data["attributes"]["summary"]
    for key, value in handoff_attributes().items():
        assert attributes[key] == value, key
    assert attributes["conversationId"] == data["conversationId"]
    assert (task["channel"], task["status"]) == (channel, "pending")
    return task


def texted_to_a_human(emulator: EmulatorDriver, customer: str) -> Task:
    """One SMS asking for a human: the bot says goodbye and a Flex task appears."""
    emulator.text(customer, ASK_FOR_A_HUMAN)
    task = emulator.task_for(customer)
    assert emulator.replies(customer, 1) == [HANDOFF_GOODBYE]
    (execution,) = emulator.executions_to(customer)
    data = execution["parameters"]["HandoffData"]
    task = assert_handoff_task(task, data, "sms")
    assert task["customer"] == customer
    assert data["conversationId"] == sms_conversation_id(*our_account_and_number(), customer)
    return task


def called_for_a_human(emulator: EmulatorDriver, caller: str) -> tuple[str, Task]:
    """One call: a question answered, then a human asked for; the caller waits in the queue."""
    question = QUESTIONS[0]
    call_sid = emulator.call(caller, [question, ASK_FOR_A_HUMAN])
    call = emulator.call_once(call_sid, "in-queue")
    assert call["state"] == "in-queue", call
    spoken = [(line["role"], line["text"]) for line in call["transcript"]]
    assert ("bot", answer(question)) in spoken
    assert ("caller", ASK_FOR_A_HUMAN) in spoken
    data = json.loads(call["handoff_data"])
    task = assert_handoff_task(emulator.task_for(caller), data, "voice")
    assert task["callSid"] == call_sid and data["conversationId"] == call_sid
    emulator.admin("POST", f"/calls/{call_sid}/hangup")
    return call_sid, task


def conversation_across(
    emulator: EmulatorDriver, customer: str, disruptions: Sequence[Callable[[], None]]
) -> Task:
    """A texted conversation with one question answered, then one more question during each
    disruption, then a human asked for: every answer arrives once, in order, and the human sees
    every line."""
    assert len(disruptions) < len(QUESTIONS)
    asked = QUESTIONS[: len(disruptions) + 1]
    expected = [answer(question) for question in asked]
    emulator.text(customer, asked[0])
    assert emulator.replies(customer, 1) == expected[:1]
    for count, (disrupt, question) in enumerate(zip(disruptions, asked[1:], strict=True), 2):
        disrupt()
        emulator.text(customer, question)
        replies = emulator.replies(customer, count)
        assert replies == expected[:count], f"after disruption {count - 1}"
    emulator.text(customer, ASK_FOR_A_HUMAN)
    task = emulator.task_for(customer)
    assert emulator.replies(customer, len(expected) + 1) == [*expected, HANDOFF_GOODBYE]
    assert len(emulator.executions_to(customer)) == 1
    assert task is not None
    customer_lines = [line["body"] for line in task["transcript"] if line["role"] == "customer"]
    assert customer_lines == [*asked, ASK_FOR_A_HUMAN]
    return task
