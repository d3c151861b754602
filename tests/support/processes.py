"""Running a service as its own process (``baton run …``), for crash and signal tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from baton.nats_server import free_port
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


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    url: str

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def start_service(
    name: str, env: dict[str, str], port: int | None = None, startup_seconds: float = 30.0
) -> ServiceProcess:
    port = port or free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baton.cli",
            "--log-level",
            "WARNING",
            "run",
            name,
            "--port",
            str(port),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_seconds
    async with httpx.AsyncClient() as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return ServiceProcess(process, url)
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{name} did not become ready")
            await asyncio.sleep(0.1)


async def wait_for_exit(service: ServiceProcess, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while service.process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return service.process.poll()
