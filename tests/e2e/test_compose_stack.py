"""``docker compose up`` hands a customer to a human: the images build, the composed stack takes
a text and a call through all four services to a Flex task carrying the HandoffData, the trace
of each handoff reaches Jaeger, and a rolling restart of the agent workers in the middle of a
conversation loses nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from services.agent_worker.knowledge import DEFAULT_FAQ
from services.agent_worker.policy_agent import HANDOFF_GOODBYE
from services.messaging_gateway.webhooks import sms_conversation_id
from tests.deploy.compose_file import compose_environment
from tests.e2e.stack import (
    REPLY_SECONDS,
    ROLLED_SERVICE,
    SMS_TRACE_SERVICES,
    TRACE_SECONDS,
    VOICE_TRACE_SERVICES,
    ComposeStack,
    compose_model,
    eventually,
    handoff_attributes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
"""The first test also builds the images and waits for every health check."""

ASK_FOR_A_HUMAN = "I want to talk to a human"
QUESTIONS = (
    "what are your opening hours?",
    "how do I track my order?",
    "how do returns work?",
    "how do I reset my password?",
)
"""FAQ questions: each has its own answer, so a lost or repeated turn shows in the replies."""


def answer(question: str) -> str:
    entry = DEFAULT_FAQ.match(question)
    assert entry is not None, question
    return entry.answer


def services_of(trace: dict[str, Any] | None) -> set[str]:
    processes = (trace or {}).get("processes", {}).values()
    return {str(process["serviceName"]) for process in processes}


def operations_of(trace: dict[str, Any] | None) -> set[str]:
    return {str(span["operationName"]) for span in (trace or {}).get("spans", [])}


def assert_handoff_task(task: dict[str, Any] | None, data: dict[str, Any], channel: str) -> None:
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


def test_an_sms_asking_for_a_human_becomes_a_flex_task_traced_in_jaeger(
    stack: ComposeStack,
) -> None:
    customer = "+15005550311"
    stack.text(customer, ASK_FOR_A_HUMAN)
    task = stack.task_for(customer)
    assert stack.replies(customer, 1) == [HANDOFF_GOODBYE]
    (execution,) = stack.executions_to(customer)
    data = execution["parameters"]["HandoffData"]
    assert_handoff_task(task, data, "sms")
    assert task is not None and task["customer"] == customer
    gateway = compose_environment(compose_model()["services"]["messaging-gateway"])
    ours = (gateway["TWILIO_ACCOUNT_SID"], gateway["TWILIO_PHONE_NUMBER"])
    assert data["conversationId"] == sms_conversation_id(*ours, customer)

    trace_id = task["traceId"]
    assert trace_id, "the Flex task does not name the trace of its handoff"
    trace = eventually(
        lambda: stack.trace(trace_id),
        lambda found: services_of(found) >= SMS_TRACE_SERVICES,
        TRACE_SECONDS,
    )
    assert services_of(trace) >= SMS_TRACE_SERVICES, services_of(trace)
    assert "handoff.dispatch" in operations_of(trace)


def test_a_call_asking_for_a_human_becomes_a_flex_task_traced_in_jaeger(
    stack: ComposeStack,
) -> None:
    caller = "+15005550312"
    question = QUESTIONS[0]
    prompts = [question, ASK_FOR_A_HUMAN]
    placed = stack.admin("POST", "/calls", json={"from": caller, "prompts": prompts})
    call_sid = placed["call_sid"]
    call = eventually(
        lambda: stack.admin("GET", f"/calls/{call_sid}"),
        lambda found: found["state"] == "in-queue",
        REPLY_SECONDS,
    )
    assert call["state"] == "in-queue", call
    spoken = [(line["role"], line["text"]) for line in call["transcript"]]
    assert ("bot", answer(question)) in spoken
    assert ("caller", ASK_FOR_A_HUMAN) in spoken
    data = json.loads(call["handoff_data"])
    task = stack.task_for(caller)
    assert_handoff_task(task, data, "voice")
    assert task is not None and task["callSid"] == call_sid
    assert data["conversationId"] == call_sid

    def handoff_traces() -> list[dict[str, Any]]:
        turns = stack.traces("relay-gateway", "voice.turn", {"baton.call_sid": call_sid})
        return [trace for trace in turns if services_of(trace) >= VOICE_TRACE_SERVICES]

    assert eventually(handoff_traces, bool, TRACE_SECONDS), "no voice handoff trace in Jaeger"
    stack.admin("POST", f"/calls/{call_sid}/hangup")


def test_a_rolling_restart_of_the_agent_workers_mid_conversation_loses_nothing(
    stack: ComposeStack,
) -> None:
    customer = "+15005550313"
    workers = stack.containers(ROLLED_SERVICE)
    assert len(workers) >= 2, "a rolling restart needs another replica to serve meanwhile"
    assert len(workers) < len(QUESTIONS)
    asked = QUESTIONS[: len(workers) + 1]
    expected = [answer(question) for question in asked]

    stack.text(customer, asked[0])
    assert stack.replies(customer, 1) == expected[:1]
    with ThreadPoolExecutor(max_workers=1) as restarts:
        for count, (worker, question) in enumerate(zip(workers, asked[1:], strict=True), 2):
            restarted = restarts.submit(stack.restart, worker)
            stack.text(customer, question)
            assert stack.replies(customer, count) == expected[:count], f"restarting {worker.Name}"
            restarted.result()
            assert stack.wait_healthy(worker) == "running/healthy", worker.Name

    stack.text(customer, ASK_FOR_A_HUMAN)
    task = stack.task_for(customer)
    assert stack.replies(customer, len(expected) + 1) == [*expected, HANDOFF_GOODBYE]
    assert len(stack.executions_to(customer)) == 1
    assert task is not None
    customer_lines = [line["body"] for line in task["transcript"] if line["role"] == "customer"]
    assert customer_lines == [*asked, ASK_FOR_A_HUMAN]
