"""The chaos suite's stack: a real nats-server, the emulator and every service as a process.

Everything a scenario breaks is a process the stack can kill and bring back: nats-server
(SIGKILL or SIGTERM, restarted on the same port and store), agent worker and dispatcher
replicas (SIGKILL, restarted). Services run with their defaults, so what is measured is what
ships; logs go to one file per process in the run's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats

from baton_devtools.nats_server import LocalNatsServer, free_port, start_nats_server
from baton_devtools.processes import ServiceProcess, ready, spawn_baton, start_service
from emulator import fake_account
from libs.platform.streams import reset_streams

FAILED_MESSAGE = "Sorry, no person could be reached: the bot is still here."
"""The handoff failure notice, set explicitly so the tally recognises it."""


@dataclass
class Replica:
    name: str
    port: int
    log_path: str
    process: ServiceProcess | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None


@dataclass
class ChaosStack:
    workdir: Path
    nats_port: int
    emulator_url: str
    gateway_url: str
    env: dict[str, str]
    nats: LocalNatsServer | None = None
    emulator: ServiceProcess | None = None
    replicas: list[Replica] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def store_dir(self) -> str:
        return str(self.workdir / "nats-store")

    def of(self, service: str) -> list[Replica]:
        return [replica for replica in self.replicas if replica.name == service]

    @classmethod
    def create(cls, workdir: Path, *, workers: int = 3, dispatchers: int = 2) -> ChaosStack:
        workdir.mkdir(parents=True, exist_ok=True)
        gateway_port, emulator_port = free_port(), free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        stack = cls(
            workdir=workdir,
            nats_port=free_port(),
            emulator_url=emulator_url,
            gateway_url=gateway_url,
            env={},
        )
        stack.env = stack._environment()
        logs = workdir / "logs"
        logs.mkdir(exist_ok=True)
        stack.replicas.append(
            Replica("messaging-gateway", gateway_port, str(logs / "messaging-gateway.log"))
        )
        for index in range(workers):
            stack.replicas.append(
                Replica("agent-worker", free_port(), str(logs / f"agent-worker-{index}.log"))
            )
        for index in range(dispatchers):
            stack.replicas.append(
                Replica(
                    "handoff-dispatcher", free_port(), str(logs / f"handoff-dispatcher-{index}.log")
                )
            )
        return stack

    def _environment(self) -> dict[str, str]:
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "BATON_", "OTEL_"))
        }
        return {
            **inherited,
            **fake_account.environment(),
            "NATS_URL": self.nats_url,
            "TWILIO_API_BASE_URL": self.emulator_url,
            "PUBLIC_BASE_URL": self.gateway_url,
            "BATON_HANDOFF_FAILED_MESSAGE": FAILED_MESSAGE,
            "EMULATOR_PUBLIC_URL": self.emulator_url,
            "EMULATOR_SMS_WEBHOOK_URL": f"{self.gateway_url}/messaging/sms",
        }

    async def start(self) -> None:
        self.start_nats()
        client = await nats.connect(self.nats_url)
        try:
            await reset_streams(client.jetstream(), replicas=1)
        finally:
            await client.close()
        port = int(self.emulator_url.rsplit(":", 1)[1])
        process = spawn_baton(
            ["emulator", "--port", str(port)], self.env, str(self.workdir / "logs" / "emulator.log")
        )
        self.emulator = await ready("emulator", process, self.emulator_url, "/_emulator/health")
        await asyncio.gather(*(self.start_replica(replica) for replica in self.replicas))

    async def start_replica(self, replica: Replica) -> None:
        replica.process = await start_service(
            replica.name, self.env, port=replica.port, log_path=replica.log_path
        )

    def kill_replica(self, replica: Replica) -> None:
        if replica.process is not None and replica.alive:
            replica.process.signal(signal.SIGKILL)
            replica.process.process.wait(timeout=10)

    async def revive(self) -> None:
        """Bring back every replica a scenario left dead (NATS must be up)."""
        await asyncio.gather(
            *(self.start_replica(replica) for replica in self.replicas if not replica.alive)
        )

    def start_nats(self) -> None:
        log = str(self.workdir / "logs" / "nats-server.log")
        self.nats = start_nats_server(port=self.nats_port, store_dir=self.store_dir, log_file=log)

    def kill_nats(self) -> None:
        if self.nats is not None:
            self.nats.kill()

    def stop_nats(self) -> None:
        """A graceful stop (SIGTERM); the store stays."""
        if self.nats is not None:
            self.nats.process.terminate()
            self.nats.process.wait(timeout=30)

    async def wait_ready(self, within_seconds: float = 60.0) -> None:
        """Every replica answers ``/readyz`` (connected to NATS again)."""
        deadline = asyncio.get_running_loop().time() + within_seconds
        async with httpx.AsyncClient(timeout=2) as client:
            for replica in self.replicas:
                assert replica.process is not None
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.get(f"{replica.process.url}/readyz")
                        if response.status_code == 200:
                            break
                    if asyncio.get_running_loop().time() > deadline:
                        raise RuntimeError(f"{replica.name} is not ready again")
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.process is not None:
                replica.process.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self.nats is not None and self.nats.process.poll() is None:
            self.nats.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.nats.process.wait(timeout=10)
