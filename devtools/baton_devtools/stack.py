"""``baton up``: the whole route on one machine with no Twilio account.

Starts (or reuses) NATS, declares the streams, then the emulator and the four services as
child processes with embedded defaults; values already in the environment win. Logs go to
``.baton/logs/``, spans to ``.baton/traces/`` (one file per process, read by ``baton trace``).
Ctrl-C stops everything.
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

from baton.services import SERVICES, service
from baton_devtools.nats_server import LocalNatsServer, port_open, start_nats_server
from emulator import fake_account
from emulator.settings import DEFAULT_PORT as EMULATOR_PORT

STATE_DIR = Path(".baton")

EMULATOR_DEFAULTS = {
    **fake_account.environment(),
    "BATON_HANDOFF_ATTRIBUTES": '{"department": "support", "priority": "normal"}',
}


@dataclass
class Child:
    name: str
    url: str
    process: subprocess.Popen[bytes]


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
    parts = urlsplit(nats_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    if port_open(host, port):
        print(f"NATS         {nats_url} (already running)")
        return None
    STATE_DIR.mkdir(exist_ok=True)
    server = start_nats_server(
        port=port, store_dir=str(STATE_DIR / "nats"), log_file=str(STATE_DIR / "nats.log")
    )
    print(f"NATS         {server.url} (started, data in {STATE_DIR / 'nats'})")
    return server


def _spawn(name: str, args: list[str], env: dict[str, str], url: str) -> Child:
    logs = STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "baton.cli", *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Child(name, url, process)


def run_stack(workers: int = 2, keep_state: bool = False) -> None:
    nats_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    emulator_url = f"http://127.0.0.1:{EMULATOR_PORT}"
    nats_server = _ensure_nats(nats_url)
    env = _base_env(nats_url, emulator_url)
    # The emulator starts empty; conversations handed off in an earlier run would stay muted.
    init = ["streams", "init"] if keep_state else ["streams", "init", "--reset"]
    subprocess.run([sys.executable, "-m", "baton.cli", *init], env=env, check=True)

    messaging_url = f"http://127.0.0.1:{service('messaging-gateway').port}"
    relay_url = f"http://127.0.0.1:{service('relay-gateway').port}"
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
    }
    children = [
        _spawn("emulator", ["emulator", "--port", str(EMULATOR_PORT)], emulator_env, emulator_url)
    ]
    for spec in SERVICES:
        name, port = spec.name, spec.port
        copies = workers if name == "agent-worker" else 1
        for index in range(copies):
            child_port = port + 10 * index
            child_env = {
                **env,
                "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}"),
                "BATON_INSTANCE_ID": f"{name}-{index}",
            }
            label = name if copies == 1 else f"{name}-{index}"
            url = f"http://127.0.0.1:{child_port}"
            children.append(_spawn(label, ["run", name, "--port", str(child_port)], child_env, url))
    _print_table(children)
    _wait(children, nats_server)


def _print_table(children: list[Child]) -> None:
    time.sleep(1.5)
    for child in children:
        state = "running" if child.process.poll() is None else f"exited {child.process.returncode}"
        print(f"{child.name:<22} {child.url:<26} {state}")
    print(f"Agent desktop          http://127.0.0.1:{EMULATOR_PORT}/desktop")
    print(f"Logs                   {STATE_DIR / 'logs'}/")
    print(f"Traces                 {STATE_DIR / 'traces'}/   baton trace <conversation-or-call>")
    print("Try it:                baton sms 'I want to talk to a human'   or   baton call")
    print("                       (Ctrl-C stops the stack)")


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
                    print(f"{child.name} exited ({child.process.returncode}); see its log")
                    stopping = True
            time.sleep(0.5)
    finally:
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
