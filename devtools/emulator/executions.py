"""Studio executions as records: how one starts, what its widgets read, and its steps.

Shared by the REST API (``studio``), the flow webhook (``studio_webhooks``) and the flow
runner, which appends a step for every widget it passes.
"""

from __future__ import annotations

from typing import Any

from emulator.store import EmulatorState, Execution, ExecutionStep
from emulator.wire import new_sid, utc_now

TRIGGER = "Trigger"
ENDED = "Ended"


def contact_sid(state: EmulatorState, flow_sid: str, to: str) -> str:
    """Studio keeps one contact per address and flow."""
    for execution in state.executions.values():
        if execution.flow_sid == flow_sid and execution.to == to:
            return execution.contact_sid
    return new_sid("FC")


def new_execution(
    state: EmulatorState,
    flow_sid: str,
    *,
    to: str,
    from_: str,
    parameters: dict[str, Any],
    trigger: dict[str, Any],
    event: str,
    first_widget: str = ENDED,
) -> Execution:
    """Store an active execution; its first step is the Trigger widget firing ``event``, to the
    widget the flow's definition names (``Ended`` for a flow without one)."""
    now = utc_now()
    execution = Execution(
        sid=new_sid("FN"),
        flow_sid=flow_sid,
        contact_sid=contact_sid(state, flow_sid, to),
        to=to,
        from_=from_,
        parameters=parameters,
        status="active",
        date_created=now,
        date_updated=now,
        trigger=trigger,
    )
    add_step(execution, event, TRIGGER, first_widget, "trigger", dict(trigger))
    state.executions[execution.sid] = execution
    return execution


def execution_context(execution: Execution) -> dict[str, Any]:
    """What the flow's widgets read: ``flow.data`` is the parsed ``Parameters``."""
    return {
        "flow": {
            "flow_sid": execution.flow_sid,
            "sid": execution.sid,
            "channel": {"address": execution.from_},
            "data": execution.parameters,
            "variables": execution.variables,
        },
        "contact": {"channel": {"address": execution.to}},
        "trigger": execution.trigger,
        "widgets": execution.widgets,
    }


def add_step(
    execution: Execution,
    name: str,
    transitioned_from: str,
    transitioned_to: str,
    step_type: str,
    context: dict[str, Any] | None = None,
) -> ExecutionStep:
    """Record a widget transition; ``name`` is the event that caused it."""
    step = ExecutionStep(
        sid=new_sid("FT"),
        name=name,
        transitioned_from=transitioned_from,
        transitioned_to=transitioned_to,
        type=step_type,
        context=context or {},
        date_created=utc_now(),
    )
    execution.steps.append(step)
    execution.date_updated = step.date_created
    return step


def end_execution(state: EmulatorState, execution_sid: str | None) -> None:
    """The flow is over for this contact: a new handoff may start a new execution."""
    execution = state.executions.get(execution_sid or "")
    if execution is not None and execution.status == "active":
        execution.status = "ended"
        execution.date_updated = utc_now()
