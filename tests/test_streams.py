"""Streams and buckets are declared once, with explicit limits; the local stack starts empty."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, ServerError

from libs.contracts.subjects import CONVERSATIONS_BUCKET, TURNS_STREAM
from libs.platform.streams import (
    DUPLICATE_WINDOW_SECONDS,
    STORE_NOT_READY,
    store_created,
    stream_configs,
)


async def test_streams_have_explicit_limits_and_a_duplicate_window(js: JetStreamContext) -> None:
    for config in stream_configs(1):
        info = await js.stream_info(str(config.name))
        assert info.config.duplicate_window == DUPLICATE_WINDOW_SECONDS
        assert info.config.max_age and info.config.max_bytes and info.config.max_msg_size
        assert info.config.num_replicas == 1
    assert [c.num_replicas for c in stream_configs(3)] == [3, 3, 3, 3]


def run_baton(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NATS_URL": nats_url}
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"baton {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done


async def test_streams_init_keeps_data_and_reset_empties_it(
    nats_url: str, js: JetStreamContext
) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    await kv.put("conv-1", b"{}")
    await js.publish("baton.turns.conv-1", b"{}", stream=TURNS_STREAM)

    kept = run_baton(nats_url, "streams", "init")
    assert "declared on" in kept.stdout
    assert (await js.stream_info(TURNS_STREAM)).state.messages == 1
    assert (await kv.get("conv-1")).value == b"{}"

    emptied = run_baton(nats_url, "streams", "init", "--reset")
    assert "emptied and declared" in emptied.stdout
    assert (await js.stream_info(TURNS_STREAM)).state.messages == 0
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    with pytest.raises(KeyNotFoundError):
        await kv.get("conv-1")


class Store:
    """A stream creation that fails with ``errors`` first, as a busy nats-server does."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def create(self) -> None:
        self.calls += 1
        if self.errors:
            raise ServerError(code=500, err_code=self.errors.pop(0), description="store")


async def test_a_store_still_being_removed_is_created_a_moment_later() -> None:
    store = Store(STORE_NOT_READY, STORE_NOT_READY)
    await store_created(store.create)
    assert store.calls == 3


async def test_any_other_server_error_and_a_store_that_never_comes_are_raised() -> None:
    other = Store(10_000)
    with pytest.raises(ServerError):
        await store_created(other.create)
    assert other.calls == 1
    never = Store(*[STORE_NOT_READY] * 3)
    with pytest.raises(ServerError):
        await store_created(never.create, attempts=3)
    assert never.calls == 3
