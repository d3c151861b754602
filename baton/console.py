"""``baton sms``: text the local stack through the emulator and print the agent's replies."""

from __future__ import annotations

import time

import httpx

DEFAULT_EMULATOR = "http://127.0.0.1:8090"
DEFAULT_CUSTOMER = "+15005550006"


def send_sms(text: str, *, emulator: str, customer: str, wait_seconds: float) -> list[str]:
    """Send one inbound SMS and return the replies the customer received meanwhile."""
    with httpx.Client(base_url=f"{emulator}/_emulator", timeout=30) as client:
        before = len(client.get("/outbox", params={"to": customer}).json())
        sent = client.post("/sms", json={"from": customer, "body": text})
        sent.raise_for_status()
        deadline = time.monotonic() + wait_seconds
        replies: list[str] = []
        while time.monotonic() < deadline:
            outbox = client.get("/outbox", params={"to": customer}).json()
            replies = [str(message["body"]) for message in outbox[before:]]
            if replies:
                time.sleep(0.3)  # a burst may bring more than one
                outbox = client.get("/outbox", params={"to": customer}).json()
                return [str(message["body"]) for message in outbox[before:]]
            time.sleep(0.1)
        return replies
