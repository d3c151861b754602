"""What the relay gateway measures: the silence a caller hears, and the calls it holds."""

from __future__ import annotations

from libs.platform.metrics import (
    OVERHEAD_BUCKETS,
    VOICE_TURN_BUCKETS,
    Counter,
    Histogram,
    LiveCount,
)

VOICE_TURN_LATENCY = Histogram(
    "baton_voice_turn_latency_seconds",
    "Caller's final prompt read from the socket -> first reply frame sent to Twilio.",
    otel_name="baton.voice.turn.duration",
    buckets=VOICE_TURN_BUCKETS,
)

VOICE_PROMPT_STORED = Histogram(
    "baton_voice_prompt_store_seconds",
    "Prompt read from the socket -> turn stored in JetStream: the gateway's own overhead.",
    otel_name="baton.voice.prompt_store.duration",
    buckets=OVERHEAD_BUCKETS,
)

VOICE_LIVE_CALLS = LiveCount(
    "baton_voice_live_calls",
    "ConversationRelay sockets this relay gateway holds.",
    otel_name="baton.voice.calls.live",
)

VOICE_FRAMES_IGNORED = Counter(
    "baton_voice_frames_ignored",
    "Frames from a ConversationRelay socket that did nothing (malformed, oversized, over the "
    "call's allowance...), by reason; the call goes on.",
    otel_name="baton.voice.frame.ignored",
    labels=("reason",),
)

VOICE_SOCKETS_REFUSED = Counter(
    "baton_voice_sockets_refused",
    "Relay socket upgrades refused after a valid signature: the call already has a socket "
    "(403), or the replica holds BATON_VOICE_MAX_LIVE_CALLS (503).",
    otel_name="baton.voice.socket.refused",
    labels=("reason",),
)

METRICS = (
    VOICE_TURN_LATENCY,
    VOICE_PROMPT_STORED,
    VOICE_LIVE_CALLS,
    VOICE_FRAMES_IGNORED,
    VOICE_SOCKETS_REFUSED,
)
"""What this service records, for the dashboard and alert checks."""
