"""Environment for services run as processes in tests (fake Twilio credentials)."""

from __future__ import annotations

import asyncio
import os
import time

from baton_devtools.processes import ServiceProcess, start_service
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    FLOW_SID,
    OUR_NUMBER,
)


def service_env(nats_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "BATON_"))}
    env.update(
        {
            "NATS_URL": nats_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_KEY": API_KEY,
            "TWILIO_API_SECRET": API_SECRET,
            "TWILIO_PHONE_NUMBER": OUR_NUMBER,
            "TWILIO_STUDIO_HANDOFF_FLOW_SID": FLOW_SID,
        }
    )
    env.update(extra)
    return env


__all__ = ["ServiceProcess", "service_env", "start_service", "wait_for_exit"]


async def wait_for_exit(service: ServiceProcess, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while service.process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return service.process.poll()
