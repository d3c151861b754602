"""The span attributes Baton sets: searchable in Jaeger, matched by ``baton trace``."""

from __future__ import annotations

CONVERSATION_ID = "baton.conversation_id"
CALL_SID = "baton.call_sid"
CHANNEL = "baton.channel"
TURN_SEQUENCE = "baton.turn.sequence"
HANDOFF_ID = "baton.handoff.id"
EXECUTION_SID = "baton.handoff.execution_sid"
SEARCHABLE_ATTRIBUTES = (CONVERSATION_ID, CALL_SID, HANDOFF_ID, EXECUTION_SID)
"""The attributes that name a conversation, call or handoff: what ``baton trace ID`` looks for."""
