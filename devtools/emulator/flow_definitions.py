"""Studio flow definitions: the shipped ones in ``deploy/studio/``, and those deployed by REST.

The handoff flow (``TWILIO_STUDIO_HANDOFF_FLOW_SID``) runs the definition deployed to it with
``POST /v2/Flows/{FW}`` (what ``baton studio deploy`` sends); until one is deployed it runs the
shipped file for the account's mode: ``agent-handoff.json`` with a Conversation Orchestrator
configuration, ``agent-handoff-classic.json`` without. Account-specific values are
``${NAME}`` placeholders, filled in at deploy time (here from the emulator's own account).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import TwilioError
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState
from emulator.taskrouter import channel_sid

ORCHESTRATOR_FLOW = "agent-handoff.json"
CLASSIC_FLOW = "agent-handoff-classic.json"
WIDGET_TYPES = frozenset(
    {"trigger", "set-variables", "split-based-on", "make-http-request", "send-to-flex"}
)
"""The Studio widgets the emulator runs: every one the shipped flows use."""
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
INVALID_DEFINITION = 20001


@dataclass(frozen=True)
class State:
    name: str
    type: str
    properties: dict[str, Any]
    transitions: list[dict[str, Any]]

    def next_for(self, event: str) -> str | None:
        for transition in self.transitions:
            if transition.get("event") == event:
                return transition.get("next") or None
        return None


@dataclass(frozen=True)
class FlowDefinition:
    states: dict[str, State]
    initial_state: str
    raw: dict[str, Any]

    def first_widget(self, event: str) -> str | None:
        """Where the Trigger widget goes on ``event`` (``incomingRequest``, ``incomingCall``)."""
        return self.states[self.initial_state].next_for(event)


def shipped_directory(settings: EmulatorSettings) -> Path:
    if settings.emulator_studio_directory:
        return Path(settings.emulator_studio_directory)
    return Path(__file__).resolve().parents[2] / "deploy" / "studio"


def placeholders(settings: EmulatorSettings) -> dict[str, str]:
    """What ``baton studio deploy`` fills in, from the emulator's own account."""
    workspace = settings.emulator_taskrouter_workspace_sid
    return {
        "FLEX_WORKSPACE_SID": workspace,
        "FLEX_WORKFLOW_SID": settings.emulator_taskrouter_workflow_sid,
        "FLEX_VOICE_CHANNEL_SID": channel_sid(workspace, "voice"),
        "FLEX_CHAT_CHANNEL_SID": channel_sid(workspace, "chat"),
        "TWILIO_CONVERSATION_CONFIGURATION_ID": settings.twilio_conversation_configuration_id or "",
    }


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return PLACEHOLDER.sub(value, text)


def parse_definition(raw: Any) -> FlowDefinition:
    """Check a definition as Studio's validator does; a bad one is a 400 naming the problem."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise TwilioError(400, "Definition must be valid JSON", INVALID_DEFINITION) from error
    if not isinstance(raw, dict) or not isinstance(raw.get("states"), list):
        raise TwilioError(400, "Definition must have a list of states", INVALID_DEFINITION)
    states: dict[str, State] = {}
    for item in raw["states"]:
        state = State(
            str(item.get("name", "")),
            str(item.get("type", "")),
            dict(item.get("properties") or {}),
            list(item.get("transitions") or []),
        )
        if state.type not in WIDGET_TYPES:
            raise TwilioError(400, f"Widget {state.name!r} has an unsupported type {state.type!r}")
        if state.name in states:
            raise TwilioError(400, f"Widget name {state.name!r} is used twice")
        states[state.name] = state
    for state in states.values():
        for transition in state.transitions:
            target = transition.get("next")
            if target and target not in states:
                raise TwilioError(400, f"Widget {state.name!r} transitions to unknown {target!r}")
    unfilled = PLACEHOLDER.findall(json.dumps(raw))
    if unfilled:
        raise TwilioError(400, f"Definition has unfilled values: {sorted(set(unfilled))}")
    initial = str(raw.get("initial_state", ""))
    if initial not in states:
        raise TwilioError(400, f"initial_state {initial!r} is not a widget")
    return FlowDefinition(states, initial, raw)


def shipped_definition(settings: EmulatorSettings, name: str | None = None) -> FlowDefinition:
    """A shipped flow with the emulator's account filled in."""
    chosen = name or (
        ORCHESTRATOR_FLOW if settings.twilio_conversation_configuration_id else CLASSIC_FLOW
    )
    text = (shipped_directory(settings) / chosen).read_text()
    return parse_definition(fill_placeholders(text, placeholders(settings)))


def known_flow(state: EmulatorState, settings: EmulatorSettings, flow_sid: str) -> bool:
    """The account's handoff flow, or one created through the API: Studio 404s any other."""
    return flow_sid in (settings.twilio_studio_handoff_flow_sid, *state.flows)


def definition_for(
    state: EmulatorState, settings: EmulatorSettings, flow_sid: str
) -> FlowDefinition | None:
    """The definition a flow runs: the deployed one, else the shipped handoff flow."""
    deployed = state.flows_deployed.get(flow_sid)
    if deployed is not None:
        return parse_definition(deployed.definition)
    if flow_sid == settings.twilio_studio_handoff_flow_sid:
        return shipped_definition(settings, settings.emulator_studio_flow)
    return None


def first_widget(definition: FlowDefinition | None, event: str) -> str:
    """The Trigger's first transition, for an execution's first step."""
    target = definition.first_widget(event) if definition is not None else None
    return target or "Ended"
