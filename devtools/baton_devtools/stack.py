"""``baton up``: the whole route on one machine with no Twilio account.

Starts (or reuses) NATS, declares the streams, then the emulator and the four services as
child processes with embedded defaults; values already in the environment win. It reports
each process ready only once its readiness endpoint answers, and stops everything, naming
what failed and why, when one does not. Logs go to ``.baton/logs/``, spans to
``.baton/traces/`` (one file per process, read by ``baton trace`` and the trace viewer).
Ctrl-C stops everything.

Streams are emptied only on a NATS server this command started itself (the emulator starts
empty, so conversations handed off in an earlier run would stay muted); on a server that was
already running, which may hold another stack's streams, they are only declared, unless
``--reset-streams`` asks for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from baton.command_errors import CommandFailed
from baton.services import SERVICES, ServiceSpec
from baton_devtools.nats_server import LocalNatsServer, port_open, start_nats_server
from emulator import fake_account
from emulator.settings import DEFAULT_PORT as EMULATOR_PORT
from libs.platform.admin import ADMIN_PORT_OFFSET

STATE_DIR = Path(".baton")
DEFAULT_PORT_BASE = 8080
READY_SECONDS = 60.0

EMULATOR_DEFAULTS = {
    **fake_account.environment(),
    "BATON_HANDOFF_ATTRIBUTES": '{"department": "support", "priority": "normal"}',
    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=local",
}


@dataclass(frozen=True)
class Ports:
    """Every HTTP port of the stack, from one base: relay +0, messaging +1, worker +2 (more
    workers +12, +22, …), dispatcher +3, emulator and agent desktop +10."""

    base: int = DEFAULT_PORT_BASE

    def service(self, spec: ServiceSpec, index: int = 0) -> int:
        return self.base + (spec.port - DEFAULT_PORT_BASE) + 10 * index

    @property
    def emulator(self) -> int:
        return self.base + (EMULATOR_PORT - DEFAULT_PORT_BASE)


@dataclass
class Child:
    name: str
    url: str
    ready_path: str
    process: subprocess.Popen[bytes]
    log: Path
    admin_url: str = ""
    """The admin listener (``/metrics``, ``/internal/*``), when the child has one."""

    def last_lines(self, count: int = 3) -> list[str]:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if line.strip()][-count:]


def _base_env(nats_url: str, emulator_url: str) -> dict[str, str]:
    env = {
        **EMULATOR_DEFAULTS,
        "TWILIO_API_BASE_URL": emulator_url,
        "BATON_TRACE_DIR": str((STATE_DIR / "traces").resolve()),
    }
    env.update(os.environ)
    env["NATS_URL"] = nats_url
    return env


def _ensure_nats(nats_url: str) -> LocalNatsServer | None:
    """A server this command starts, or ``None`` when one already answers at ``nats_url``."""
    parts = urlsplit(nats_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    if port_open(host, port):
        print(f"NATS         {nats_url} (already running: not started here)")
        return None
    STATE_DIR.mkdir(exist_ok=True)
    server = start_nats_server(
        port=port, store_dir=str(STATE_DIR / "nats"), log_file=str(STATE_DIR / "nats.log")
    )
    print(f"NATS         {server.url} (started, data in {STATE_DIR / 'nats'})")
    return server


def streams_command(started_here: bool, keep_state: bool, reset_streams: bool) -> list[str]:
    """``streams init``, with ``--reset`` only for a NATS started here (or when asked)."""
    reset = reset_streams or (started_here and not keep_state)
    return ["streams", "init", "--reset"] if reset else ["streams", "init"]


def _declare_streams(env: dict[str, str], command: list[str], started_here: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", *command], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise CommandFailed(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    if "--reset" in command:
        print("Streams      emptied and declared")
    elif not started_here:
        print(
            "Streams      declared, contents kept: this NATS was already running "
            "(--reset-streams empties them)"
        )
    else:
        print("Streams      declared, contents kept (--keep-state)")


def _spawn(name: str, args: list[str], env: dict[str, str], url: str, ready_path: str) -> Child:
    logs = STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "--log-format", "json", *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Child(name, url, ready_path, process, log)


def run_stack(
    workers: int = 2,
    keep_state: bool = False,
    port_base: int = DEFAULT_PORT_BASE,
    reset_streams: bool = False,
    ready_seconds: float = READY_SECONDS,
) -> None:
    ports = Ports(port_base)
    nats_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    emulator_url = f"http://127.0.0.1:{ports.emulator}"
    nats_server = _ensure_nats(nats_url)
    children: list[Child] = []
    try:
        env = _base_env(nats_url, emulator_url)
        started_here = nats_server is not None
        command = streams_command(started_here, keep_state, reset_streams)
        _declare_streams(env, command, started_here)
        children = _start_children(env, ports, workers, emulator_url)
        _wait_until_ready(children, ready_seconds)
        _print_table(children, emulator_url)
    except BaseException:
        _stop(children, nats_server)
        raise
    _wait(children, nats_server)


def _start_children(
    env: dict[str, str], ports: Ports, workers: int, emulator_url: str
) -> list[Child]:
    by_name = {spec.name: spec for spec in SERVICES}
    messaging_url = f"http://127.0.0.1:{ports.service(by_name['messaging-gateway'])}"
    relay_url = f"http://127.0.0.1:{ports.service(by_name['relay-gateway'])}"
    emulator_env = {
        **env,
        "EMULATOR_PUBLIC_URL": emulator_url,
        "EMULATOR_SMS_WEBHOOK_URL": f"{messaging_url}/messaging/sms",
        "EMULATOR_CONVERSATIONS_WEBHOOK_URL": f"{messaging_url}/messaging/conversations",
        "EMULATOR_ORCHESTRATOR_WEBHOOK_URL": f"{messaging_url}/messaging/orchestrator",
        "EMULATOR_RELAY_VOICE_URL": f"{relay_url}/voice/incoming",
        "EMULATOR_RELAY_STATUS_URL": f"{relay_url}/voice/status",
        "EMULATOR_HANDBACK_URL": f"{messaging_url}/messaging/handback",
        "EMULATOR_TASKROUTER_EVENTS_URL": f"{messaging_url}/messaging/taskrouter-events",
        # "View trace" in the agent desktop opens the bundled viewer of .baton/traces.
        "EMULATOR_TRACE_URL": f"{emulator_url}/traces/{{trace_id}}",
    }
    emulator_args = ["emulator", "--port", str(ports.emulator)]
    children = [_spawn("emulator", emulator_args, emulator_env, emulator_url, "/_emulator/health")]
    for spec in SERVICES:
        copies = workers if spec.name == "agent-worker" else 1
        for index in range(copies):
            port = ports.service(spec, index)
            child_env = {
                **env,
                "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}"),
                "BATON_INSTANCE_ID": f"{spec.name}-{index}",
            }
            label = spec.name if copies == 1 else f"{spec.name}-{index}"
            url = f"http://127.0.0.1:{port}"
            admin = port + ADMIN_PORT_OFFSET
            args = ["run", spec.name, "--port", str(port), "--admin-port", str(admin)]
            child = _spawn(label, args, child_env, url, "/readyz")
            child.admin_url = f"http://127.0.0.1:{admin}"
            children.append(child)
    return children


def _wait_until_ready(children: list[Child], seconds: float) -> None:
    """Poll every child's readiness until all answer 200; name each one that did not."""
    pending = {child.name: child for child in children}
    started = time.monotonic()
    deadline = started + seconds
    with httpx.Client(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for name, child in list(pending.items()):
                if child.process.poll() is not None:
                    break
                try:
                    if client.get(child.url + child.ready_path).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if any(c.process.poll() is not None for c in pending.values()):
                break
            time.sleep(0.2)
    if not pending:
        return
    reasons = []
    waited = time.monotonic() - started
    for child in pending.values():
        code = child.process.poll()
        state = f"exited {code}" if code is not None else f"not ready after {waited:.0f} s"
        tail = " | ".join(child.last_lines())
        reasons.append(f"{child.name} ({child.url}) {state}; {child.log}: {tail or 'no output'}")
    raise CommandFailed("the stack did not start:\n  " + "\n  ".join(reasons))


def _print_table(children: list[Child], emulator_url: str) -> None:
    for child in children:
        metrics = f"(metrics {child.admin_url}/metrics) " if child.admin_url else ""
        print(f"{child.name:<22} {child.url:<26} {metrics}ready")
    print(f"Agent desktop          {emulator_url}/desktop")
    print(f"Traces                 {emulator_url}/traces   or   baton trace <conversation-or-call>")
    print(f"Logs                   {STATE_DIR / 'logs'}/")
    print("Try it:                baton sms 'I want to talk to a human'   or   baton call")
    print("                       (Ctrl-C stops the stack)", flush=True)


def _wait(children: list[Child], nats_server: LocalNatsServer | None) -> None:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    print(f"{child.name} exited ({child.process.returncode}); see {child.log}")
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop(children, nats_server)


def _stop(children: list[Child], nats_server: LocalNatsServer | None) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.process.kill()
    if nats_server is not None:
        nats_server.stop()
