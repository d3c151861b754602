"""What each service may publish and subscribe to on NATS, derived from the subjects it uses.

One NATS user per service, each allowed only its own subjects (:mod:`libs.contracts.subjects`)
and the JetStream API calls for its own streams, consumers and buckets: a compromised agent
worker cannot read another service's consumer, delete a stream or publish a handoff result.
``deploy/nats/values.yaml`` ships these permissions as the NATS chart's authorization block;
``docs/operations.md`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from libs.contracts.subjects import (
    AGENT_WORKER_DURABLE,
    CONVERSATIONS_BUCKET,
    DEAD_LETTER_STREAM,
    DEAD_LETTERS,
    HANDOFF_DISPATCHER_DURABLE,
    HANDOFF_REQUESTED,
    HANDOFF_RESULT,
    HANDOFF_STREAM,
    HANDOFFS_BUCKET,
    MESSAGING_REPLIES_DURABLE,
    REPLIES,
    REPLIES_BUCKET,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
    VOICE_CALL,
    VOICE_CANCEL,
)

INBOX = "_INBOX.>"
"""Replies to a service's own requests (JetStream API answers, publish acks, ``end``)."""
JETSTREAM_INFO = "$JS.API.INFO"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False
    """May answer requests made to it (the relay gateway answers ``end``)."""

    def config(self) -> dict[str, Any]:
        """The ``permissions`` block of a user in nats-server's configuration."""
        block: dict[str, Any] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.allow_responses:
            block["allow_responses"] = True
        return block


def stream_api(stream: str) -> list[str]:
    """Binding to a stream and reading its messages by sequence or subject."""
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
    ]


def consumer_api(stream: str, durable: str) -> list[str]:
    """Binding to, pulling from and settling one durable pull consumer."""
    return [
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
        *stream_api(stream),
    ]


def bucket_api(bucket: str) -> list[str]:
    """Reading and writing a KV bucket (``KV_<bucket>`` stream, ``$KV.<bucket>.`` keys)."""
    return [*stream_api(f"KV_{bucket}"), f"$KV.{bucket}.>"]


@dataclass(frozen=True)
class ServiceUse:
    """The NATS a service uses, in the terms of :mod:`libs.contracts.subjects`."""

    publishes: tuple[str, ...] = ()
    subscribes: tuple[str, ...] = ()
    consumers: tuple[tuple[str, str], ...] = ()
    streams_read: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    answers_requests: bool = False
    extra_publish: tuple[str, ...] = field(default=())

    def permissions(self) -> Permissions:
        publish = [JETSTREAM_INFO, *self.publishes, DEAD_LETTERS.wildcard, *self.extra_publish]
        for stream, durable in self.consumers:
            publish += consumer_api(stream, durable)
        for stream in self.streams_read:
            publish += stream_api(stream)
        for bucket in self.buckets:
            publish += bucket_api(bucket)
        return Permissions(
            publish=tuple(dict.fromkeys(publish)),
            subscribe=tuple(dict.fromkeys([INBOX, *self.subscribes])),
            allow_responses=self.answers_requests,
        )


SERVICE_USE = {
    "relay-gateway": ServiceUse(
        publishes=(TURNS.wildcard, VOICE_CALL.wildcard, VOICE_CANCEL.wildcard),
        subscribes=(VOICE_CALL.wildcard,),
        buckets=(CONVERSATIONS_BUCKET,),
        answers_requests=True,
    ),
    "messaging-gateway": ServiceUse(
        publishes=(TURNS.wildcard,),
        consumers=((REPLIES_STREAM, MESSAGING_REPLIES_DURABLE),),
        buckets=(CONVERSATIONS_BUCKET, REPLIES_BUCKET),
    ),
    "agent-worker": ServiceUse(
        publishes=(REPLIES.wildcard, HANDOFF_REQUESTED.wildcard, VOICE_CALL.wildcard),
        subscribes=(VOICE_CANCEL.wildcard,),
        consumers=((TURNS_STREAM, AGENT_WORKER_DURABLE),),
        streams_read=(TURNS_STREAM,),
        buckets=(CONVERSATIONS_BUCKET,),
    ),
    "handoff-dispatcher": ServiceUse(
        publishes=(HANDOFF_RESULT.wildcard, REPLIES.wildcard, VOICE_CALL.wildcard),
        consumers=((HANDOFF_STREAM, HANDOFF_DISPATCHER_DURABLE),),
        streams_read=(DEAD_LETTER_STREAM,),
        buckets=(CONVERSATIONS_BUCKET, HANDOFFS_BUCKET),
    ),
}
"""What each service publishes, subscribes to, consumes, reads and keeps in buckets."""
ADMIN = Permissions(publish=("$JS.>", "$KV.>", "baton.>"), subscribe=(INBOX,))
"""``baton streams init`` and ``baton dlq``: declare streams, list and replay dead letters."""


def service_permissions() -> dict[str, Permissions]:
    """Every service's permissions, and the operator's (``baton-admin``)."""
    permissions = {name: use.permissions() for name, use in SERVICE_USE.items()}
    permissions["baton-admin"] = ADMIN
    return permissions


def password_variable(user: str) -> str:
    """The environment variable holding a user's password in the NATS pods."""
    return user.upper().replace("-", "_") + "_NATS_PASSWORD"


def authorization_users() -> list[dict[str, Any]]:
    """nats-server ``authorization.users``, each password read from the server's environment."""
    return [
        {
            "user": user,
            "password": f"<< ${password_variable(user)} >>",
            "permissions": permissions.config(),
        }
        for user, permissions in service_permissions().items()
    ]
