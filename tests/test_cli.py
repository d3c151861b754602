"""The ``baton`` command never surprises: its version, its defaults, errors in one line and in
words, where ``baton trace`` looked, and a ``baton up`` that checks what it started."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic_settings import BaseSettings

from baton.cli import main as baton
from baton.services import SERVICES
from baton_devtools.nats_server import bindable, free_port, port_open, start_nats_server
from baton_devtools.stack import Ports, streams_command
from baton_devtools.trace_viewer import trace_viewer_router
from libs.contracts.subjects import TURNS, TURNS_STREAM
from libs.platform.admin import ADMIN_PORT_OFFSET
from libs.platform.build_info import version
from libs.platform.settings import load_settings, pattern_in_words
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from tests.support.processes import service_env
from tests.support.servers import serve


def run_baton(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              stdin: str = "") -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", *args],
        env=env or service_env("nats://127.0.0.1:4222"),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        baton(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"baton {version()}"


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (["up"], "(default: 8080)"),
        (["up"], "--reset-streams"),
        (["sms", "x"], "(default: 10.0)"),
        (["sms", "x"], "(default: +15005550006)"),
        (["run", "relay-gateway"], "(default: 127.0.0.1)"),
        (["trace"], "(default: 10)"),
        ([], "(default: auto)"),
    ],
)
def test_help_shows_defaults(
    command: list[str], default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        baton([*command[:1], "--help"] if command else ["--help"])
    assert default in capsys.readouterr().out


def test_a_bad_setting_is_told_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "BATON_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_PHONE_NUMBER", "5550001")
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    with pytest.raises(SystemExit) as exited:
        load_settings(HandoffDispatcherSettings)
    message = str(exited.value.code)
    assert message.startswith("baton: invalid configuration: ")
    assert "TWILIO_ACCOUNT_SID must start with AC and have 34 characters" in message
    assert "TWILIO_PHONE_NUMBER must be a phone number in E.164 form" in message
    assert "TWILIO_AUTH_TOKEN is not set" in message
    assert "^" not in message and "pattern" not in message and "AC123" not in message


def _settings_classes() -> Iterator[type[BaseSettings]]:
    for spec in SERVICES:
        yield spec.load_settings_class()


def test_every_pattern_a_setting_must_match_is_told_in_words() -> None:
    patterns = {
        str(constraint.pattern)
        for cls in _settings_classes()
        for info in cls.model_fields.values()
        for constraint in info.metadata
        if getattr(constraint, "pattern", None)
    }
    assert len(patterns) >= 6
    for pattern in patterns:
        assert not pattern_in_words(pattern).startswith("must match"), pattern


@pytest.mark.parametrize("command", [["sms", "hello"], ["call"]])
def test_client_commands_fail_in_one_line_when_the_emulator_is_down(command: list[str]) -> None:
    emulator = f"http://127.0.0.1:{free_port()}"
    done = run_baton(*command, "--emulator", emulator, stdin="hello\n")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"baton {command[0]}: cannot reach the emulator at {emulator}")
    assert "baton up" in line


def test_streams_init_fails_in_one_line_when_nats_is_down() -> None:
    nats_url = f"nats://127.0.0.1:{free_port()}"
    done = run_baton("streams", "init", env=service_env(nats_url))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"baton streams: cannot reach NATS at {nats_url}")


def test_baton_trace_says_where_it_looked_and_how_to_record(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    listing = run_baton("trace", "--dir", str(missing))
    assert listing.returncode == 0
    assert f"{missing} does not exist" in listing.stdout
    assert "BATON_TRACE_DIR" in listing.stdout and "baton up" in listing.stdout
    (tmp_path / "empty").mkdir()
    one = run_baton("trace", "CA0001", "--dir", str(tmp_path / "empty"))
    assert "No spans name CA0001" in one.stdout and "holds no span files" in one.stdout


def span_line(span_id: str, parent: str | None, name: str, start_ms: float, **attrs: str) -> str:
    return json.dumps(
        {
            "trace_id": "ab" * 16,
            "span_id": span_id,
            "parent_span_id": parent,
            "name": name,
            "service": "handoff-dispatcher",
            "start_ns": int(start_ms * 1e6),
            "end_ns": int((start_ms + 2) * 1e6),
            "attributes": attrs,
        }  # fmt: skip
    )


async def test_the_trace_viewer_draws_a_timeline_from_the_span_files(tmp_path: Path) -> None:
    root = span_line("01" * 8, None, "handoff.dispatch", 1.0, **{"baton.call_sid": "CA1"})
    child = span_line("02" * 8, "01" * 8, "studio.execution.create", 1.5)
    (tmp_path / "dispatcher-1.jsonl").write_text(root + "\n" + child + "\n")
    app = FastAPI()
    app.include_router(trace_viewer_router(lambda: tmp_path))
    async with serve(app) as url, httpx.AsyncClient() as client:
        listing = await client.get(f"{url}/traces")
        page = await client.get(f"{url}/traces/{'ab' * 16}")
        by_call = await client.get(f"{url}/traces/CA1")
        missing = await client.get(f"{url}/traces/CA2")
    assert f"/traces/{'ab' * 16}" in listing.text and "call_sid CA1" in listing.text
    assert page.status_code == 200 and by_call.status_code == 200
    assert by_call.text.split("</title>")[1] == page.text.split("</title>")[1]
    assert page.text.index("handoff.dispatch") < page.text.index("studio.execution.create")
    assert "padding-left:22px" in page.text, "the Studio call is drawn under its parent"
    assert missing.status_code == 404 and str(tmp_path) in missing.text


# --- baton up ----------------------------------------------------------------------------


def test_ports_follow_one_base() -> None:
    ports = Ports(9100)
    by_name = {spec.name: spec for spec in SERVICES}
    assert ports.service(by_name["relay-gateway"]) == 9100
    assert ports.service(by_name["messaging-gateway"]) == 9101
    assert ports.service(by_name["agent-worker"], 1) == 9112
    assert ports.emulator == 9110
    assert Ports().emulator == 8090 and Ports().service(by_name["handoff-dispatcher"]) == 8083


def test_streams_are_emptied_only_on_a_nats_started_here() -> None:
    assert (
        streams_command(started_here=True, keep_state=False, reset_streams=False)[-1] == "--reset"
    )
    assert "--reset" not in streams_command(
        started_here=False, keep_state=False, reset_streams=False
    )
    assert "--reset" not in streams_command(started_here=True, keep_state=True, reset_streams=False)
    assert (
        streams_command(started_here=False, keep_state=False, reset_streams=True)[-1] == "--reset"
    )


def free_port_block(size: int = 13) -> int:
    """A base port with ``size`` free ports above it, and their admin ports (``+1000``) free.

    Chosen in 20000–31999: below the kernel's ephemeral range and above the parallel test
    workers' own ports (:func:`~baton_devtools.nats_server.free_port`), so no other test can
    take one between the check and ``baton up``.
    """
    chooser = random.Random()
    for _ in range(200):
        base = chooser.randrange(20_000, 31_000 - size)
        wanted = [base + i for i in range(size)]
        if all(bindable(port) and bindable(port + ADMIN_PORT_OFFSET) for port in wanted):
            return base
    raise RuntimeError("no free block of ports")


class Output:
    """A child's output lines, read on a thread so a wait never blocks on a pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stream], daemon=True).start()

    def until(self, text: str, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and self.lines.empty()):
                errors = self.process.stderr.read() if self.process.poll() is not None else ""
                raise AssertionError(f"{text!r} not printed; got {self.seen} {errors}")
            try:
                self.seen.append(self.lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        return self.seen


async def first_desktop_task(client: httpx.AsyncClient, emulator: str) -> dict[str, Any]:
    """The desktop's first task once its trace has reached the span files (written every 0.5 s)."""
    deadline = time.monotonic() + 15
    while True:
        tasks = (await client.get(f"{emulator}/_emulator/desktop/tasks")).json()["tasks"]
        if tasks and tasks[0].get("traceUrl"):
            page = await client.get(tasks[0]["traceUrl"])
            if page.status_code == 200 and "studio.execution.create" in page.text:
                task: dict[str, Any] = tasks[0]
                return task
        assert time.monotonic() < deadline, f"no task with a viewable trace: {tasks}"
        await asyncio.sleep(0.2)


def start_up(tmp_path: Path, nats_url: str, base: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "BATON_", "OTEL_"))}
    env["NATS_URL"] = nats_url
    return subprocess.Popen(
        [sys.executable, "-m", "baton.cli", "up", "--workers", "1", "--port-base", str(base)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
async def test_baton_up_on_a_port_base_reports_ready_and_keeps_a_foreign_nats_streams(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    await js.publish(TURNS.subject("another-stack"), b"{}", stream=TURNS_STREAM)
    base = free_port_block()
    process = start_up(tmp_path, nats_url, base)
    try:
        printed = Output(process).until("Try it:", 120)
        assert any("already running: not started here" in line for line in printed)
        assert any("contents kept: this NATS was already running" in line for line in printed)
        ready = [line.split()[0] for line in printed if line.rstrip().endswith(" ready")]
        assert ready == ["emulator", *(spec.name for spec in SERVICES)]
        assert any(f"http://127.0.0.1:{base + 10}/desktop" in line for line in printed)
        assert (await js.stream_info(TURNS_STREAM)).state.messages >= 1, "streams were kept"
        emulator = f"http://127.0.0.1:{base + 10}"
        texted = run_baton("sms", "I want to talk to a human", "--emulator", emulator)
        assert "agent>" in texted.stdout, texted.stderr
        async with httpx.AsyncClient() as client:
            task = await first_desktop_task(client, emulator)
            viewer = await client.get(task["traceUrl"])
        assert task["traceUrl"] == f"{emulator}/traces/{task['traceId']}"
        assert viewer.status_code == 200, "the desktop's trace link opens under `baton up`"
        assert "studio.execution.create" in viewer.text and "tool handoff" in viewer.text
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode == 0


@pytest.mark.slow
def test_baton_up_names_what_failed_and_stops_the_rest(tmp_path: Path) -> None:
    base = free_port_block()
    nats = start_nats_server()  # its own: no other test's messages for the stack to pick up
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", base + 1))  # the messaging gateway's port
            taken.listen()
            process = start_up(tmp_path, nats.url, base)
            _, errors = process.communicate(timeout=120)
    finally:
        nats.stop()
    assert process.returncode == 1
    assert errors.startswith("baton up: the stack did not start:")
    assert f"messaging-gateway (http://127.0.0.1:{base + 1}) exited" in errors
    assert "Traceback" not in errors.splitlines()[0]
    assert not port_open("127.0.0.1", base + 10), "the emulator was stopped"
    assert not port_open("127.0.0.1", base), "the relay gateway was stopped"
