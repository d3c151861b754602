"""The streams and buckets with their limits, declared once (``baton streams init``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RawStreamMsg,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError, ServerError

from libs.contracts.subjects import (
    CONVERSATIONS_BUCKET,
    DEAD_LETTER_STREAM,
    DEAD_LETTERS,
    HANDOFF_REQUESTED,
    HANDOFF_RESULT,
    HANDOFF_STREAM,
    HANDOFFS_BUCKET,
    REPLIES,
    REPLIES_BUCKET,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
)

log = logging.getLogger("baton.streams")


@dataclass(frozen=True)
class BucketSpec:
    name: str
    history: int
    ttl_seconds: float | None


BUCKETS = (
    BucketSpec(CONVERSATIONS_BUCKET, history=1, ttl_seconds=7 * 24 * 3600),
    BucketSpec(HANDOFFS_BUCKET, history=1, ttl_seconds=30 * 24 * 3600),
    BucketSpec(REPLIES_BUCKET, history=1, ttl_seconds=2 * 24 * 3600),
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
        stream(TURNS_STREAM, [TURNS.wildcard], max_age_hours=72, max_bytes=4 * gib),
        stream(REPLIES_STREAM, [REPLIES.wildcard], max_age_hours=24, max_bytes=2 * gib),
        stream(
            HANDOFF_STREAM,
            [HANDOFF_REQUESTED.wildcard, HANDOFF_RESULT.wildcard],
            max_age_hours=30 * 24,
            max_bytes=1 * gib,
        ),
        stream(DEAD_LETTER_STREAM, [DEAD_LETTERS.wildcard], max_age_hours=14 * 24, max_bytes=gib),
    ]


async def declare_streams(js: JetStreamContext, replicas: int) -> list[str]:
    """Create or update every stream and bucket; the one place their configuration is applied."""
    declared: list[str] = []
    for config in stream_configs(replicas):
        await _add_or_update_stream(js, config)
        declared.append(str(config.name))
    for bucket in BUCKETS:
        config_of_bucket = _bucket_config(bucket, replicas)
        await store_created(functools.partial(js.create_key_value, config_of_bucket))
        declared.append(f"KV_{bucket.name}")
    return declared


async def reset_streams(js: JetStreamContext, replicas: int) -> list[str]:
    """Delete every Baton stream and bucket, then declare them empty (local stack, tests)."""
    for config in stream_configs(replicas):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(str(config.name))
    for spec in BUCKETS:
        with contextlib.suppress(NotFoundError):
            await js.delete_key_value(spec.name)
    return await declare_streams(js, replicas)


def _bucket_config(bucket: BucketSpec, replicas: int) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=bucket.name,
        history=bucket.history,
        ttl=bucket.ttl_seconds,
        storage=StorageType.FILE,
        replicas=replicas,
    )


STORE_NOT_READY = 10049
"""nats-server could not create a stream's store. Seen on a busy host right after a stream of
the same name was deleted (``baton streams init --reset``); a moment later it succeeds."""


async def store_created(create: Callable[[], Awaitable[object]], attempts: int = 8) -> None:
    """Create a stream or bucket, trying again for a few seconds while its store cannot be made."""
    for attempt in range(attempts):
        try:
            await create()
            return
        except ServerError as error:
            if error.err_code != STORE_NOT_READY or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)


async def _add_or_update_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(str(config.name))
    except NotFoundError:
        await store_created(functools.partial(js.add_stream, config))
        log.info("created stream %s", config.name)
        return
    try:
        await js.update_stream(config)
    except BadRequestError as error:  # e.g. replicas cannot change on a single server
        log.warning("stream %s kept its configuration: %s", config.name, error)


async def stored_messages(
    js: JetStreamContext, stream: str, subject: str
) -> AsyncIterator[RawStreamMsg]:
    """Every message a stream holds on ``subject`` (a wildcard too), oldest first."""
    sequence = 0
    while True:
        try:
            raw = await js.get_msg(stream, seq=sequence + 1, subject=subject, next=True)
        except NotFoundError:
            return
        assert raw.seq is not None
        sequence = raw.seq
        yield raw
