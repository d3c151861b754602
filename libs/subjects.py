"""Every NATS subject, stream, consumer and key-value bucket Baton uses, in one place.

Streams and buckets are declared once, by ``baton streams init`` (see
:mod:`libs.nats_connection`); services bind to them with ``declare=False``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def subject_token(identifier: str) -> str:
    """A conversation or call id as one subject token (and KV key): kept when safe, else hashed."""
    if _TOKEN.match(identifier):
        return identifier
    return "h-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]


_TEMPLATES = (
    ("baton.turns.", "{conversation}"),
    ("baton.replies.", "{conversation}"),
    ("baton.handoff.requested.", "{conversation}"),
    ("baton.handoff.result.", "{conversation}"),
    ("baton.voice.call.", "{call_sid}"),
    ("baton.voice.cancel.", "{call_sid}"),
)


def subject_template(subject: str) -> str:
    """``baton.turns.CH…`` → ``baton.turns.{conversation}``: a low-cardinality span name."""
    for prefix, placeholder in _TEMPLATES:
        if subject.startswith(prefix):
            return prefix + placeholder
    return subject


# --- JetStream streams -------------------------------------------------------------------

TURNS_STREAM = "BATON_TURNS"
"""Customer turns, one subject per conversation; also the durable log the worker reads."""
REPLIES_STREAM = "BATON_REPLIES"
"""Agent replies for digital channels, sent back to Twilio by any messaging_gateway replica."""
HANDOFF_STREAM = "BATON_HANDOFF"
"""Handoff requests and their outcomes."""
DEAD_LETTER_STREAM = "BATON_DLQ"
"""Messages a consumer gave up on after ``max_deliver`` attempts, kept for inspection."""


def turn_subject(conversation_id: str) -> str:
    return f"baton.turns.{subject_token(conversation_id)}"


TURNS_WILDCARD = "baton.turns.>"


def reply_subject(conversation_id: str) -> str:
    return f"baton.replies.{subject_token(conversation_id)}"


REPLIES_WILDCARD = "baton.replies.>"


def handoff_requested_subject(conversation_id: str) -> str:
    return f"baton.handoff.requested.{subject_token(conversation_id)}"


HANDOFF_REQUESTED_WILDCARD = "baton.handoff.requested.>"


def handoff_result_subject(conversation_id: str) -> str:
    return f"baton.handoff.result.{subject_token(conversation_id)}"


HANDOFF_RESULT_WILDCARD = "baton.handoff.result.>"


def dead_letter_subject(consumer: str) -> str:
    return f"baton.dlq.{consumer}"


DEAD_LETTER_WILDCARD = "baton.dlq.>"

# --- Core NATS subjects addressed to one relay_gateway replica (low latency, loss tolerant) --


def voice_call_subject(call_sid: str) -> str:
    """Everything addressed to a live call: tokens, end commands, hang-ups. Owner subscribes."""
    return f"baton.voice.call.{subject_token(call_sid)}"


VOICE_CALL_TEMPLATE = "baton.voice.call.{call_sid}"
"""The call subject in span names and attributes, so they stay bounded across calls."""
VOICE_CANCEL_TEMPLATE = "baton.voice.cancel.{call_sid}"


def voice_cancel_subject(call_sid: str) -> str:
    """Cancel the in-flight generation of a call (the caller interrupted)."""
    return f"baton.voice.cancel.{subject_token(call_sid)}"


# --- Durable consumers (shared by all replicas of a service) -------------------------------

AGENT_WORKER_DURABLE = "agent-worker"
HANDOFF_DISPATCHER_DURABLE = "handoff-dispatcher"
MESSAGING_REPLIES_DURABLE = "messaging-gateway-replies"

# --- Key-value buckets -------------------------------------------------------------------

CONVERSATIONS_BUCKET = "baton-conversations"
"""Per-conversation state: status (active / handoff pending / handed off), epoch, history."""
TURN_LOCKS_BUCKET = "baton-turn-locks"
"""Per-conversation leases: at most one worker handles a conversation at a time."""
HANDOFFS_BUCKET = "baton-handoffs"
"""Per-handoff delivery records: what the dispatcher did, so a redelivery never posts twice."""


@dataclass(frozen=True)
class BucketSpec:
    name: str
    history: int
    ttl_seconds: float | None


BUCKETS = (
    BucketSpec(CONVERSATIONS_BUCKET, history=1, ttl_seconds=7 * 24 * 3600),
    BucketSpec(TURN_LOCKS_BUCKET, history=1, ttl_seconds=3600),
    BucketSpec(HANDOFFS_BUCKET, history=1, ttl_seconds=30 * 24 * 3600),
)

DUPLICATE_WINDOW_SECONDS = 15 * 60
"""Twilio retries a webhook for up to minutes; a duplicate inside this window is one turn."""


def stream_configs(replicas: int) -> list[StreamConfig]:
    """The streams with explicit limits; ``replicas`` is 1 locally and 3 in a cluster."""

    def stream(
        name: str, subjects: list[str], max_age_hours: float, max_bytes: int
    ) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=max_age_hours * 3600,
            max_bytes=max_bytes,
            max_msg_size=256 * 1024,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        )

    gib = 1024**3
    return [
        stream(TURNS_STREAM, [TURNS_WILDCARD], max_age_hours=72, max_bytes=4 * gib),
        stream(REPLIES_STREAM, [REPLIES_WILDCARD], max_age_hours=24, max_bytes=2 * gib),
        stream(
            HANDOFF_STREAM,
            [HANDOFF_REQUESTED_WILDCARD, HANDOFF_RESULT_WILDCARD],
            max_age_hours=30 * 24,
            max_bytes=1 * gib,
        ),
        stream(DEAD_LETTER_STREAM, [DEAD_LETTER_WILDCARD], max_age_hours=14 * 24, max_bytes=gib),
    ]
