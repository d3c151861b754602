"""One log format for Baton, uvicorn and FastStream, with the trace of every line.

Every process logs through the root logger's one handler: JSON lines (python-json-logger)
for log collectors, or plain text when a person watches a terminal (``auto`` picks by
whether stderr is a TTY). A line written inside a span carries its ``trace_id`` and
``span_id``, the ids Jaeger and ``baton trace`` show, so a log line leads to its trace.
uvicorn's and FastStream's own handlers (FastStream's with ANSI colours) are removed and
their records go through the same handler.

A logged value can never forge a line: in text, control characters of the message (CR, LF,
NUL, ESC, …) are written escaped (``\\r``, ``\\n``, ``\\x00``); JSON escapes them anyway.

JSON fields: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``service``,
``trace_id`` and ``span_id`` inside a span, ``exc_info`` with a traceback, and whatever a
library adds as ``extra`` (FastStream: ``subject``, ``stream``, ``message_id``).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Literal, TextIO

from opentelemetry import trace
from opentelemetry.trace import format_span_id, format_trace_id
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["auto", "json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s%(trace_suffix)s"
OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access")
QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING}
"""One line per Twilio request is noise, and its URLs can carry addresses."""


class TraceContext(logging.Filter):
    """Adds the current span's ids and the service name to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.service = self.service
        if context.is_valid:
            trace_id = format_trace_id(context.trace_id)
            span_id = format_span_id(context.span_id)
            record.trace_id, record.span_id = trace_id, span_id
            record.trace_suffix = f" [trace_id={trace_id} span_id={span_id}]"
        else:
            record.trace_suffix = ""
        return True


class ExpiredPullRequest(logging.Filter):
    """FastStream's pull loop, restarted after an expired pull request, logs no ERROR.

    nats-py (2.16) raises a bare ``TimeoutError`` when a pull request's deadline passes as
    its answer arrives; FastStream (0.7.8) expects its own subclass there, so its supervisor
    logs the restart as an ERROR with a traceback. Nothing is lost (the loop fetches again),
    so the line is written at INFO, without the traceback, saying what happened.
    """

    MESSAGE = "a pull request expired as it was answered; fetching again"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("faststream") and _expired_fetch(record.exc_info):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = self.MESSAGE, None
            record.exc_info = record.exc_text = None
        return True


def _expired_fetch(exc_info: object) -> bool:
    if not isinstance(exc_info, tuple) or type(exc_info[1]) is not TimeoutError:
        return False
    frame = traceback.extract_tb(exc_info[2])[-1:]
    return (
        bool(frame)
        and frame[0].name == "_fetch_n"
        and frame[0].filename.endswith(os.path.join("nats", "js", "client.py"))
    )


def escape_controls(text: str) -> str:
    """Every character that is not printable (CR, LF, NUL, ESC, ``\\u2028``…) written as its
    escape, so one record is one line whatever a caller put in it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class OneLineFormatter(logging.Formatter):
    """Plain text whose message cannot span lines (a traceback still follows on its own)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "taskName", "trace_suffix", "color_message"],
        timestamp="time",
        json_ensure_ascii=False,
    )


def uses_json(log_format: LogFormat, stream: TextIO) -> bool:
    if log_format == "auto":
        return not (hasattr(stream, "isatty") and stream.isatty())
    return log_format == "json"


def configure_logging(
    level: str = "INFO",
    log_format: LogFormat = "auto",
    *,
    service: str = "baton",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Make the root logger's one handler the only place records are written; returns it."""
    output = stream or sys.stderr
    handler = logging.StreamHandler(output)
    text = OneLineFormatter(TEXT_FORMAT)
    handler.setFormatter(json_formatter() if uses_json(log_format, output) else text)
    handler.addFilter(TraceContext(service))
    handler.addFilter(ExpiredPullRequest())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    import faststream  # noqa: F401  (its import installs the handler removed below)

    for name in OWN_HANDLERS:
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True
    for name, quiet_level in QUIET.items():
        logging.getLogger(name).setLevel(quiet_level)
    return handler


def printable(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with every control character escaped (``\\r``,
    ``\\n``, ``\\x00``, ``\\u2028``…), so text from outside cannot start a forged log line."""
    return escape_controls(text[:limit] + ("…" if len(text) > limit else ""))
