"""A service whose NATS is unreachable never hangs: it logs each attempt, gives up after
``BATON_NATS_CONNECT_SECONDS`` with one line naming ``NATS_URL``, and a signal ends it at once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest

from baton_devtools.nats_server import free_port
from tests.support.processes import service_env


def start(service: str, connect_seconds: float) -> tuple[subprocess.Popen[bytes], str]:
    closed = f"nats://user:s3cret@127.0.0.1:{free_port()}"
    env = service_env(
        closed,
        BATON_NATS_CONNECT_SECONDS=str(connect_seconds),
        PUBLIC_BASE_URL="https://baton.example.test",
        BATON_LOG_FORMAT="text",
    )
    command = [sys.executable, "-m", "baton.cli", "--log-level", "WARNING", "--log-format",
               "text", "run", service, "--port", str(free_port()),
               "--admin-port", str(free_port())]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    return process, closed


async def first_attempt_logged(process: subprocess.Popen[bytes]) -> bytes:
    assert process.stderr is not None
    line = await asyncio.to_thread(process.stderr.readline)
    assert b"not reachable (attempt 1" in line, line
    return line


@pytest.mark.slow
@pytest.mark.parametrize("service", ["messaging-gateway", "agent-worker"])
async def test_unreachable_nats_ends_start_up_with_one_line(service: str) -> None:
    process, closed = start(service, connect_seconds=1.5)
    _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert process.returncode not in (0, None)
    attempts = [line for line in lines if "not reachable (attempt" in line]
    assert len(attempts) >= 2, lines
    assert "Traceback" not in stderr.decode()
    last = lines[-1]
    assert last.startswith("baton: cannot reach NATS at NATS_URL=nats://***@127.0.0.1:"), last
    assert "s3cret" not in stderr.decode(), "the password in NATS_URL is never shown"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_ends_a_starting_service_at_once(signum: int) -> None:
    process, _ = start("relay-gateway", connect_seconds=120)
    try:
        await first_attempt_logged(process)
        sent = time.monotonic()
        process.send_signal(signum)
        code = await asyncio.to_thread(process.wait, 5)
        assert time.monotonic() - sent < 3.0, "it waited for NATS instead of stopping"
        assert code == 128 + signum
    finally:
        if process.poll() is None:
            process.kill()
