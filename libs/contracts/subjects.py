"""Every NATS subject, stream, consumer and key-value bucket Baton uses, in one place.

A subject family is a prefix plus one id token (a conversation, a call, a consumer); its
wildcard (what a stream or subscriber covers) and its span template (what a span is named
after, so Jaeger's operation list stays bounded) are derived from that one declaration.
Streams and buckets are declared once, by ``baton streams init`` (see
:mod:`libs.platform.streams`); services bind to them with ``declare=False``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def subject_token(identifier: str) -> str:
    """A conversation or call id as one subject token (and KV key): kept when safe, else hashed."""
    if _TOKEN.match(identifier):
        return identifier
    return "h-" + hashlib.sha256(identifier.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class SubjectFamily:
    """``<prefix>.<id>``: one subject per conversation, call or consumer."""

    prefix: str
    placeholder: str
    """What the id token names, shown in the span template (``{conversation}``)."""

    def subject(self, identifier: str) -> str:
        return f"{self.prefix}.{subject_token(identifier)}"

    @property
    def wildcard(self) -> str:
        return f"{self.prefix}.>"

    @property
    def template(self) -> str:
        return f"{self.prefix}.{{{self.placeholder}}}"

    def covers(self, subject: str) -> bool:
        return subject.startswith(f"{self.prefix}.")


# --- JetStream subjects ------------------------------------------------------------------

TURNS = SubjectFamily("baton.turns", "conversation")
"""Customer turns, one subject per conversation; also the durable log the worker reads."""
REPLIES = SubjectFamily("baton.replies", "conversation")
"""Agent replies for digital channels, sent back to Twilio by any messaging_gateway replica."""
HANDOFF_REQUESTED = SubjectFamily("baton.handoff.requested", "conversation")
HANDOFF_RESULT = SubjectFamily("baton.handoff.result", "conversation")
DEAD_LETTERS = SubjectFamily("baton.dlq", "consumer")

# --- Core NATS subjects addressed to one relay_gateway replica (low latency, loss tolerant) --

VOICE_CALL = SubjectFamily("baton.voice.call", "call_sid")
"""Everything addressed to a live call: tokens, end commands, hang-ups. The owner subscribes."""
VOICE_CANCEL = SubjectFamily("baton.voice.cancel", "call_sid")
"""Cancel the in-flight generation of a call (the caller interrupted)."""

FAMILIES = (
    TURNS,
    REPLIES,
    HANDOFF_REQUESTED,
    HANDOFF_RESULT,
    DEAD_LETTERS,
    VOICE_CALL,
    VOICE_CANCEL,
)


def subject_template(subject: str) -> str:
    """``baton.turns.CH…`` → ``baton.turns.{conversation}``: a low-cardinality span name."""
    for family in FAMILIES:
        if family.covers(subject):
            return family.template
    return subject


# --- JetStream streams -------------------------------------------------------------------

TURNS_STREAM = "BATON_TURNS"
REPLIES_STREAM = "BATON_REPLIES"
HANDOFF_STREAM = "BATON_HANDOFF"
"""Handoff requests and their outcomes."""
DEAD_LETTER_STREAM = "BATON_DLQ"
"""Messages a consumer gave up on, kept for inspection and replay (``baton dlq``)."""

# --- Durable consumers (shared by all replicas of a service) -------------------------------

AGENT_WORKER_DURABLE = "agent-worker"
HANDOFF_DISPATCHER_DURABLE = "handoff-dispatcher"
MESSAGING_REPLIES_DURABLE = "messaging-gateway-replies"

# --- Key-value buckets -------------------------------------------------------------------

CONVERSATIONS_BUCKET = "baton-conversations"
"""Per-conversation state: status (active / handoff pending / handed off), epoch, history,
and the worker answering its turns now (a lease)."""
HANDOFFS_BUCKET = "baton-handoffs"
"""Per-handoff delivery records: what the dispatcher did, so a redelivery never posts twice."""
REPLIES_BUCKET = "baton-replies"
"""Per-reply sending records: a reply whose send may have happened is looked up, not resent."""
