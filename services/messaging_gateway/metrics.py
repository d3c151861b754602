"""What the messaging gateway measures: customer turn to Flex task, from TaskRouter's event."""

from __future__ import annotations

from libs.platform.metrics import HANDOFF_BUCKETS, Histogram

HANDOFF_TURN_TO_TASK = Histogram(
    "baton_handoff_turn_to_task_seconds",
    "Customer turn received -> Flex task created (TaskRouter's task.created event).",
    otel_name="baton.handoff.turn_to_task.duration",
    buckets=HANDOFF_BUCKETS,
    labels=("channel",),
)

METRICS = (HANDOFF_TURN_TO_TASK,)
"""What this service records, for the dashboard and alert checks."""
