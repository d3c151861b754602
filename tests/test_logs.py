"""One log format for Baton, uvicorn and FastStream: JSON lines off a terminal, text on one,
and the trace of every line written inside a span."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider

from baton_devtools.nats_server import free_port
from libs.platform.logs import OWN_HANDLERS, configure_logging
from tests.support.processes import service_env
from tests.support.twilio_fakes import post_signed_form, sid


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("not ready")


async def test_a_service_process_writes_json_lines_in_one_format(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "gateway.log"
    with log_file.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "run", "messaging-gateway", "--port", str(port),
             "--admin-port", str(free_port())],  # fmt: skip
            env=service_env(nats_url, PUBLIC_BASE_URL=url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(url, process)
            async with httpx.AsyncClient() as client:
                refused = await post_signed_form(
                    client,
                    f"{url}/messaging/sms",
                    {"MessageSid": sid("SM"), "Body": "hi"},
                    public_url="https://elsewhere.example.com/messaging/sms",
                )
            assert refused.status_code == 403
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log_file.read_text()
    assert "\x1b[" not in text and "\\u001b" not in text, "no ANSI colour codes"
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "uvicorn.access", "baton.webhooks", "faststream.nats"} <= loggers
    for line in lines:
        assert {"time", "level", "logger", "message", "service"} <= set(line), line
        assert line["service"] == "messaging-gateway"
    [refusal] = [line for line in lines if line["logger"] == "baton.webhooks"]
    [access] = [line for line in lines if line["logger"] == "uvicorn.access" and "403" in str(line)]
    assert refusal["trace_id"] == access["trace_id"], "both lines lead to the request's trace"
    assert len(refusal["trace_id"]) == 32 and len(refusal["span_id"]) == 16


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    libraries = {name: list(logging.getLogger(name).handlers) for name in OWN_HANDLERS}
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, handlers in libraries.items():
        logging.getLogger(name).handlers[:] = handlers


def test_a_terminal_gets_text_with_the_trace_and_a_pipe_gets_json(restored_logging: None) -> None:
    tracer = TracerProvider().get_tracer("test")
    terminal = Terminal()
    configure_logging("INFO", "auto", service="relay-gateway", stream=terminal)
    with tracer.start_as_current_span("voice.turn") as span:
        logging.getLogger("baton.test").warning("caller waited %s ms", 1200)
    context = span.get_span_context()
    written = terminal.getvalue()
    assert "WARNING baton.test: caller waited 1200 ms" in written
    assert f"[trace_id={context.trace_id:032x} span_id={context.span_id:016x}]" in written
    assert not written.lstrip().startswith("{")

    pipe = io.StringIO()
    configure_logging("INFO", "auto", service="relay-gateway", stream=pipe)
    logging.getLogger("baton.test").info("outside any span")
    line = json.loads(pipe.getvalue())
    assert line["message"] == "outside any span" and "trace_id" not in line
    assert "exc_info" not in line and "trace_suffix" not in line


EXPIRED_FETCH = compile(
    "import asyncio\ndef _fetch_n():\n    raise asyncio.TimeoutError\n",
    str(Path("site-packages", "nats", "js", "client.py")),
    "exec",
)


def raised_by(source: object, name: str) -> BaseException:
    namespace: dict[str, object] = {}
    exec(source, namespace)  # noqa: S102 (a test's own code, compiled under nats-py's file name)
    try:
        namespace[name]()  # type: ignore[operator]
    except BaseException as error:  # noqa: BLE001
        return error
    raise AssertionError("did not raise")


def supervisor_line(error: BaseException) -> dict[str, object]:
    pipe = io.StringIO()
    configure_logging("INFO", "json", service="agent-worker", stream=pipe)
    logging.getLogger("faststream.nats").error(
        "Task-7 raised an exception, retrying...", exc_info=error
    )
    return dict(json.loads(pipe.getvalue()))


def test_an_expired_pull_request_restarts_the_loop_without_an_error_line(
    restored_logging: None,
) -> None:
    line = supervisor_line(raised_by(EXPIRED_FETCH, "_fetch_n"))
    assert line["level"] == "INFO" and "exc_info" not in line
    assert line["message"] == "a pull request expired as it was answered; fetching again"


def test_any_other_failure_of_the_pull_loop_stays_an_error_with_its_traceback(
    restored_logging: None,
) -> None:
    elsewhere = compile("def fetch():\n    raise TimeoutError\n", "baton_code.py", "exec")
    for error in (raised_by(elsewhere, "fetch"), ConnectionResetError("reset")):
        line = supervisor_line(error)
        assert line["level"] == "ERROR"
        assert line["message"] == "Task-7 raised an exception, retrying..."
    assert "Traceback" in str(supervisor_line(raised_by(elsewhere, "fetch"))["exc_info"])
