"""Runs a Studio flow definition widget by widget, as strictly as Studio does.

The handoff flow is a definition file shipped in ``deploy/studio/`` (see ``flow_definitions``),
not code: the Trigger widget picks the path (``incomingRequest`` for a REST execution carrying
``Parameters.HandoffData``, ``incomingCall`` for the ``<Connect action>``), Liquid templates
read ``flow``, ``trigger``, ``widgets`` and ``contact``, and each HTTP Request widget calls the
emulated Twilio API exactly as the request is written, with the account's credentials. A request
Twilio would refuse (an unknown conversation id, a participant without ``channelId``, a
conversation that was not bridged) fails the widget; a failure with no transition ends the
execution, with no task. There is no fallback Studio does not have.

Every widget passed is a step (``transitioned_from`` → ``transitioned_to``); its output is in
the execution context under ``widgets.<name>``. An execution that sent the customer to Flex
stays active while the task is open, so Studio's one-active-execution rule answers a repeated
handoff for the same contact with 409.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from liquid import Environment, Undefined
from liquid.exceptions import LiquidError
from opentelemetry import propagate
from twilio.twiml.voice_response import VoiceResponse

from emulator.executions import ENDED, add_step, execution_context
from emulator.flow_definitions import FlowDefinition, State
from emulator.recording import STUDIO_HEADER
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, Execution
from emulator.taskrouter import channel_name, create_task

TWILIO_DOMAIN = ".twilio.com"
MAX_STEPS = 50


def to_json(value: Any) -> str:
    """Studio's ``to_json`` filter; a missing value is ``null``."""
    return json.dumps(None if isinstance(value, Undefined) else value, separators=(",", ":"))


liquid = Environment()
liquid.filters["to_json"] = to_json

CONDITIONS: dict[str, Callable[[str, str], bool]] = {
    "equal_to": lambda left, right: left == right,
    "not_equal_to": lambda left, right: left != right,
    "is_not_empty": lambda left, _: bool(left.strip()),
    "is_empty": lambda left, _: not left.strip(),
    "starts_with": lambda left, right: left.startswith(right),
    "contains": lambda left, right: right in left,
    "does_not_contain": lambda left, right: right not in left,
}


class WidgetFailed(Exception):
    """The widget ends on its failure event (Studio's ``failed``)."""


@dataclass
class FlowRun:
    """One run of a definition for one execution, against the emulator's own API."""

    app: FastAPI
    state: EmulatorState
    settings: EmulatorSettings
    execution: Execution
    definition: FlowDefinition
    twiml: str | None = None
    task_sid: str | None = None
    _steps: int = field(default=0)

    def render(self, template: str) -> str:
        return liquid.from_string(template).render(**execution_context(self.execution))

    async def run(self, event: str) -> None:
        """Run from the Trigger's ``event`` (the execution's first step already names it)."""
        target = self.definition.first_widget(event)
        while target is not None and self._steps < MAX_STEPS:
            self._steps += 1
            widget = self.definition.states[target]
            try:
                outcome, output = await self._widget(widget)
            except (LiquidError, ValueError) as error:
                outcome, output = "failed", {"error": str(error)}
            self.execution.widgets[widget.name] = output
            target = widget.next_for(outcome)
            add_step(self.execution, outcome, widget.name, target or ENDED, widget.type, output)
        if self.task_sid is None:
            self.execution.status = "ended"

    async def _widget(self, widget: State) -> tuple[str, dict[str, Any]]:
        if widget.type == "set-variables":
            return "next", self._set_variables(widget)
        if widget.type == "split-based-on":
            return self._split(widget), {"input": self.render(widget.properties.get("input", ""))}
        if widget.type == "make-http-request":
            return await self._http_request(widget)
        if widget.type == "send-to-flex":
            return self._send_call_to_flex(widget)
        return "failed", {"error": f"{widget.type} cannot run here"}

    def _set_variables(self, widget: State) -> dict[str, Any]:
        for variable in widget.properties.get("variables") or []:
            value: Any = self.render(str(variable.get("value", "")))
            if variable.get("type") == "json_object":
                value = json.loads(value) if value.strip() else {}
            self.execution.variables[str(variable["key"])] = value
        return dict(self.execution.variables)

    def _split(self, widget: State) -> str:
        for transition in widget.transitions:
            for condition in transition.get("conditions") or []:
                left = self.render(str((condition.get("arguments") or [""])[0]))
                test = CONDITIONS.get(str(condition.get("type")))
                if test is not None and test(left, str(condition.get("value", ""))):
                    return str(transition.get("event", "match"))
        return "noMatch"

    async def _http_request(self, widget: State) -> tuple[str, dict[str, Any]]:
        properties = widget.properties
        url = self.render(str(properties.get("url", "")))
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith(TWILIO_DOMAIN):
            return "failed", {"status_code": 0, "error": f"{url} is not reachable from here"}
        fields = {
            str(item["key"]): self.render(str(item.get("value", "")))
            for item in properties.get("parameters") or []
        }
        headers = {STUDIO_HEADER: self.execution.sid}
        propagate.inject(headers)
        auth = None
        if properties.get("add_twilio_auth"):
            auth = (self.settings.twilio_account_sid, self.settings.twilio_auth_token)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.settings.public_url) as api:
            response = await api.request(
                str(properties.get("method", "GET")),
                parts.path + (f"?{parts.query}" if parts.query else ""),
                data=fields or None,
                headers=headers,
                auth=auth,
            )
        output: dict[str, Any] = {
            "status_code": response.status_code,
            "content_type": response.headers.get("content-type", ""),
            "body": response.text,
        }
        try:
            output["parsed"] = response.json()
        except ValueError:
            output["parsed"] = None
        if response.is_success:
            self._link_task(output["parsed"])
        return ("success" if response.is_success else "failed"), output

    def _link_task(self, parsed: Any) -> None:
        """A Flex Interaction the flow created routes a task: the execution lasts as long."""
        routing = parsed.get("routing") if isinstance(parsed, dict) else None
        properties = routing.get("properties") if isinstance(routing, dict) else None
        task = self.state.tasks.get(str((properties or {}).get("sid") or ""))
        if task is not None:
            task.execution_sid = self.execution.sid
            self.execution.task_sid = self.task_sid = task.sid

    def _send_call_to_flex(self, widget: State) -> tuple[str, dict[str, Any]]:
        """The call waits in TaskRouter for an agent, with the widget's attributes on its task."""
        call = self.execution.trigger.get("call")
        if not isinstance(call, dict):
            return "failedToEnqueue", {"error": "Send to Flex here needs a call"}
        try:
            attributes = json.loads(self.render(str(widget.properties.get("attributes") or "{}")))
        except ValueError:
            return "failedToEnqueue", {"error": "attributes are not a JSON object"}
        if not isinstance(attributes, dict):
            return "failedToEnqueue", {"error": "attributes are not a JSON object"}
        call_sid, caller = str(call.get("CallSid", "")), str(call.get("From", ""))
        for key, value in {
            "call_sid": call_sid,
            "from": caller,
            "to": str(call.get("To", "")),
            "direction": "inbound",
            "type": "inbound",
            "name": caller,
            "customerAddress": caller,
            "channel": "voice",
        }.items():
            attributes.setdefault(key, value)
        workspace = self.settings.emulator_taskrouter_workspace_sid
        task = create_task(
            self.state,
            self.settings,
            attributes=attributes,
            workflow_sid=str(widget.properties.get("workflow") or "") or None,
            channel=channel_name(workspace, str(widget.properties.get("channel") or "voice")),
        )
        task.call_sid = call_sid or None
        task.execution_sid = self.execution.sid
        self.execution.task_sid = self.task_sid = task.sid
        response = VoiceResponse()
        response.enqueue(workflow_sid=task.workflow_sid).task(json.dumps(attributes))
        self.twiml = str(response)
        return "enqueued", {"sid": task.sid}

    def call_twiml(self) -> str:
        """What the call continues with: the queue, else the flow ended and so does the call."""
        if self.twiml is not None:
            return self.twiml
        response = VoiceResponse()
        response.hangup()
        return str(response)
