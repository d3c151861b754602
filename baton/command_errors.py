"""How a command that talks to something fails: one line saying what and why, no traceback."""

from __future__ import annotations

import httpx


class CommandFailed(Exception):
    """What went wrong, already in words for the person who typed the command."""


def one_line(error: BaseException) -> str:
    """An exception as a short phrase: what was reached for and what answered."""
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        return f"{response.request.url} answered {response.status_code}: {response.text[:200]}"
    if isinstance(error, httpx.RequestError):
        reason = str(error) or type(error).__name__
        return f"cannot reach {error.request.url} ({reason})"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def unreachable(what: str, url: str, error: httpx.TransportError, hint: str) -> CommandFailed:
    """A failure to reach a local service, with what to do about it."""
    reason = str(error) or type(error).__name__
    return CommandFailed(f"cannot reach {what} at {url} ({reason}); {hint}")
