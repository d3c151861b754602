"""HTTP Basic auth as Twilio accepts it: ``AccountSid:AuthToken`` or ``ApiKey:ApiSecret``."""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import Request

from emulator.dependencies import Settings
from emulator.errors import AUTHENTICATE, TwilioError
from emulator.settings import EmulatorSettings


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


def credential_kind(settings: EmulatorSettings, header: str | None) -> str | None:
    """``"account"`` or ``"api_key"`` when the header carries valid credentials, else ``None``."""
    credentials = basic_credentials(header)
    if credentials is None:
        return None
    username, password = credentials
    pairs = {
        "account": (settings.twilio_account_sid, settings.twilio_auth_token),
        "api_key": (settings.twilio_api_key, settings.twilio_api_secret),
    }
    for kind, (expected_user, expected_password) in pairs.items():
        if secrets.compare_digest(username, expected_user) and secrets.compare_digest(
            password, expected_password
        ):
            return kind
    return None


async def require_twilio_auth(request: Request, settings: Settings) -> str:
    """Router dependency for every Twilio REST path; answers 401/20003 like Twilio."""
    kind = credential_kind(settings, request.headers.get("authorization"))
    if kind is None:
        raise TwilioError(
            401, "Authenticate", AUTHENTICATE, {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    return kind
