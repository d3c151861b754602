"""Running a service as its own process (``baton run …``): the benchmark, the chaos suite and
the crash, signal and drain tests use it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from baton_devtools.nats_server import free_port


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    url: str
    admin_url: str = ""
    """The admin listener (``/metrics``, ``/internal/*``)."""

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        """Kill at once (a crash); see ``terminate`` for a graceful stop."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=timeout)


async def start_service(
    name: str,
    env: dict[str, str],
    port: int | None = None,
    startup_seconds: float = 30.0,
    log_path: str | None = None,
) -> ServiceProcess:
    """Start ``baton run <name>`` and wait until it is ready; output to ``log_path`` if given."""
    port = port or free_port()
    admin_port = free_port()
    command = ["run", name, "--port", str(port), "--admin-port", str(admin_port)]
    process = spawn_baton(command, env, log_path)
    started = await ready(name, process, f"http://127.0.0.1:{port}", "/readyz", startup_seconds)
    started.admin_url = f"http://127.0.0.1:{admin_port}"
    return started


def spawn_baton(
    command: list[str], env: dict[str, str], log_path: str | None = None
) -> subprocess.Popen[bytes]:
    """``python -m baton.cli --log-level WARNING <command>`` as a child process."""
    arguments = [sys.executable, "-m", "baton.cli", "--log-level", "WARNING", *command]
    if log_path is None:
        return subprocess.Popen(arguments, env=env)
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(arguments, env=env, stdout=log_file, stderr=subprocess.STDOUT)


async def ready(
    name: str,
    process: subprocess.Popen[bytes],
    url: str,
    probe: str,
    startup_seconds: float = 30.0,
) -> ServiceProcess:
    """Wait until ``url + probe`` answers 200; a process that exits or never answers raises."""
    deadline = time.monotonic() + startup_seconds
    async with httpx.AsyncClient() as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            try:
                if (await client.get(f"{url}{probe}")).status_code == 200:
                    return ServiceProcess(process, url)
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{name} did not become ready")
            await asyncio.sleep(0.1)
