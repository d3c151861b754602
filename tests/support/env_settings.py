"""Loading a service's settings from a clean environment, as a process would at start."""

from __future__ import annotations

import os

import pytest
from pydantic_settings import BaseSettings

from libs.platform.settings import load_settings
from tests.support.twilio_fakes import ACCOUNT_SID, API_KEY, FLOW_SID

VALID = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": API_KEY,
    "TWILIO_API_SECRET": "s3cr3t-value",
    "TWILIO_PHONE_NUMBER": "+15005550001",
    "TWILIO_STUDIO_HANDOFF_FLOW_SID": FLOW_SID,
    "PUBLIC_BASE_URL": "https://baton.example.test",
}


def clean_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "BATON_", "NATS_", "PUBLIC_", "OPENAI_")):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def settings_error(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], extra: dict[str, str]
) -> str:
    """The one line a service stops with when ``VALID`` plus ``extra`` is its environment."""
    clean_env(monkeypatch, {**VALID, **extra})
    with pytest.raises(SystemExit) as stopped:
        load_settings(cls)
    message = str(stopped.value.code)
    assert message.startswith("baton: invalid configuration: ") and "\n" not in message
    return message
