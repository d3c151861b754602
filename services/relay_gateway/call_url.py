"""The per-call relay URL: ``/voice/relay/{CallSid}/{expires}/{mac}``.

Twilio signs a WebSocket upgrade over its URL alone, so with one fixed relay URL a single
``X-Twilio-Signature`` would open any call, forever. Each call's TwiML therefore names a URL
of its own: the CallSid, a Unix expiry and an HMAC over both, keyed by a key derived from the
auth token. The signature Twilio sends is then different for every call and useless once the
URL has expired, and a socket opened with it may only speak for that CallSid.

The values sit in the path, not the query string: readings of how Twilio signs a WebSocket
URL's query differ, while every reading agrees on a path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from libs.contracts.identifiers import CALL_SID_PATTERN

RELAY_PATH = "/voice/relay"
RELAY_CALL_ROUTE = f"{RELAY_PATH}/{{call_sid}}/{{expires}}/{{mac}}"
"""The route template; also the ``route`` label of refused upgrades on ``/metrics``."""
KEY_PURPOSE = b"baton relay url v1"
_CALL_SID = re.compile(CALL_SID_PATTERN)
_EXPIRES = re.compile(r"^[0-9]{1,12}$")


class UrlRefusal(StrEnum):
    """Why a relay URL does not open its call (the ``reason`` label of a refusal)."""

    MALFORMED = "malformed_relay_url"
    FORGED = "forged_relay_url"
    EXPIRED = "expired_relay_url"


@dataclass(frozen=True)
class RelayUrlSigner:
    """Makes and checks the per-call part of the relay URL."""

    auth_token: str
    ttl_seconds: float

    def _mac(self, call_sid: str, expires: int) -> str:
        key = hmac.new(self.auth_token.encode(), KEY_PURPOSE, hashlib.sha256).digest()
        digest = hmac.new(key, f"{call_sid}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path(self, call_sid: str, now: float) -> str:
        """The relay path for ``call_sid``, valid for ``ttl_seconds`` from ``now``."""
        if not _CALL_SID.match(call_sid):
            raise ValueError("CallSid must start with CA and have 34 characters")
        expires = int(now + self.ttl_seconds)
        return f"{RELAY_PATH}/{call_sid}/{expires}/{self._mac(call_sid, expires)}"

    def url(self, public_base_url: str, call_sid: str, now: float) -> str:
        """``wss://`` on the public host (``ws://`` for a plain-HTTP base), no query string."""
        parts = urlsplit(public_base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        base = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        return base + self.path(call_sid, now)

    def refusal(self, call_sid: str, expires: str, mac: str, now: float) -> UrlRefusal | None:
        """Why this URL does not open ``call_sid`` now, or ``None`` when it does."""
        if not (_CALL_SID.match(call_sid) and _EXPIRES.match(expires)):
            return UrlRefusal.MALFORMED
        if not hmac.compare_digest(mac.encode(), self._mac(call_sid, int(expires)).encode()):
            return UrlRefusal.FORGED
        if int(expires) < now:
            return UrlRefusal.EXPIRED
        return None
