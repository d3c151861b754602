"""What the agent worker measures: how fast the agent answers and decides to hand off."""

from __future__ import annotations

from libs.platform.metrics import AGENT_BUCKETS, HANDOFF_BUCKETS, Histogram

HANDOFF_DECISION = Histogram(
    "baton_handoff_decision_seconds",
    "Customer turn received by a gateway -> the agent called the handoff tool (agent worker).",
    otel_name="baton.handoff.decision.duration",
    buckets=HANDOFF_BUCKETS,
    labels=("channel",),
)

AGENT_TIME_TO_FIRST_TOKEN = Histogram(
    "baton_agent_time_to_first_token_seconds",
    "Agent turn started -> first reply token (agent worker).",
    otel_name="baton.agent.first_token.duration",
    buckets=AGENT_BUCKETS,
    labels=("channel",),
)

AGENT_TURN = Histogram(
    "baton_agent_turn_seconds",
    "Agent turn started -> reply complete (agent worker).",
    otel_name="baton.agent.turn.duration",
    buckets=AGENT_BUCKETS,
    labels=("channel",),
)

METRICS = (HANDOFF_DECISION, AGENT_TIME_TO_FIRST_TOKEN, AGENT_TURN)
"""What this service records, for the dashboard and alert checks."""
