"""A bad or missing setting stops a service at start with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from libs.platform.settings import load_settings
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from tests.support.env_settings import VALID, clean_env


def test_valid_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(monkeypatch, {**VALID, "BATON_HANDOFF_ATTRIBUTES": '{"department": "billing"}'})
    settings = load_settings(HandoffDispatcherSettings)
    assert settings.baton_handoff_attributes == {"department": "billing"}
    assert settings.twilio_api_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TWILIO_ACCOUNT_SID", None),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_STUDIO_HANDOFF_FLOW_SID", "not-a-flow"),
        ("TWILIO_PHONE_NUMBER", "5551234"),
        ("BATON_HANDOFF_ATTRIBUTES", "{not json"),
        ("BATON_HANDOFF_ATTRIBUTES", "[1, 2]"),
        ("NATS_URL", "localhost:4222"),
    ],
)
def test_bad_or_missing_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str | None
) -> None:
    values = dict(VALID)
    if value is None:
        values.pop(name)
    else:
        values[name] = value
    clean_env(monkeypatch, values)
    with pytest.raises(SystemExit) as stopped:
        load_settings(HandoffDispatcherSettings)
    message = str(stopped.value.code)
    assert message.startswith("baton: invalid configuration: ")
    assert name in message
    assert "\n" not in message


def test_service_process_stops_with_one_clear_line() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TWILIO_")}
    result = subprocess.run(
        [sys.executable, "-m", "baton.cli", "run", "handoff-dispatcher", "--port", "0"],
        env={**env, "TWILIO_ACCOUNT_SID": "AC-bad"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("baton: invalid configuration:")
    assert "TWILIO_ACCOUNT_SID" in last_line
