"""The one fake Twilio account of the local stack, the tests, the benchmark and compose.

Well-formed but never real: SIDs of the right shape, numbers from Twilio's ``+1500555``
test range, an auth token nobody could sign a real request with. ``docker-compose.yml``
spells the same values out (a test checks they agree).
"""

from __future__ import annotations

ACCOUNT_SID = "AC" + "11" * 16
AUTH_TOKEN = "emulator-auth-token-0001"
API_KEY = "SK" + "22" * 16
API_SECRET = "emulator-api-secret-0001"
STUDIO_FLOW_SID = "FW" + "55" * 16
WORKSPACE_SID = "WS" + "33" * 16
WORKFLOW_SID = "WW" + "44" * 16
PHONE_NUMBER = "+15005550001"
"""The account's Twilio number: the agent side of every conversation."""
CUSTOMER_NUMBER = "+15005550006"
"""The customer the local commands text and call from."""


def environment() -> dict[str, str]:
    """The account as the services read it (``TWILIO_*`` variables)."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_KEY": API_KEY,
        "TWILIO_API_SECRET": API_SECRET,
        "TWILIO_PHONE_NUMBER": PHONE_NUMBER,
        "TWILIO_STUDIO_HANDOFF_FLOW_SID": STUDIO_FLOW_SID,
    }
