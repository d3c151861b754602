"""``docker compose up`` hands a customer to a human: the images build, the composed stack takes
a text and a call through all four services to a Flex task carrying the HandoffData, the trace
of each handoff reaches Jaeger, and a rolling restart of the agent workers in the middle of a
conversation loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from testcontainers.compose import ComposeContainer

from tests.e2e.scenarios import called_for_a_human, conversation_across, texted_to_a_human
from tests.e2e.stack import (
    ROLLED_SERVICE,
    SMS_TRACE_SERVICES,
    TRACE_SECONDS,
    VOICE_TRACE_SERVICES,
    ComposeStack,
    eventually,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
"""The first test also builds the images and waits for every health check."""


def services_of(trace: dict[str, Any] | None) -> set[str]:
    processes = (trace or {}).get("processes", {}).values()
    return {str(process["serviceName"]) for process in processes}


def operations_of(trace: dict[str, Any] | None) -> set[str]:
    return {str(span["operationName"]) for span in (trace or {}).get("spans", [])}


def test_an_sms_asking_for_a_human_becomes_a_flex_task_traced_in_jaeger(
    stack: ComposeStack,
) -> None:
    task = texted_to_a_human(stack.emulator, "+15005550311")
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
    call_sid, _ = called_for_a_human(stack.emulator, "+15005550312")

    def handoff_traces() -> list[dict[str, Any]]:
        turns = stack.traces("relay-gateway", "voice.turn", {"baton.call_sid": call_sid})
        return [trace for trace in turns if services_of(trace) >= VOICE_TRACE_SERVICES]

    assert eventually(handoff_traces, bool, TRACE_SECONDS), "no voice handoff trace in Jaeger"


class RollingRestart:
    """Restarts replicas one at a time: each starts once the one before is back and healthy."""

    def __init__(self, stack: ComposeStack, pool: ThreadPoolExecutor) -> None:
        self._stack = stack
        self._pool = pool
        self._pending: tuple[ComposeContainer, Future[None]] | None = None

    def of(self, replica: ComposeContainer) -> Callable[[], None]:
        def restart() -> None:
            self.settle()
            self._pending = (replica, self._pool.submit(self._stack.restart, replica))

        return restart

    def settle(self) -> None:
        if self._pending is None:
            return
        replica, restarting = self._pending
        restarting.result()
        assert self._stack.wait_healthy(replica) == "running/healthy", replica.Name
        self._pending = None


def test_a_rolling_restart_of_the_agent_workers_mid_conversation_loses_nothing(
    stack: ComposeStack,
) -> None:
    replicas = stack.containers(ROLLED_SERVICE)
    assert len(replicas) >= 2, "a rolling restart needs another replica to serve meanwhile"
    with ThreadPoolExecutor(max_workers=1) as pool:
        rolling = RollingRestart(stack, pool)
        conversation_across(
            stack.emulator, "+15005550313", [rolling.of(replica) for replica in replicas]
        )
        rolling.settle()
