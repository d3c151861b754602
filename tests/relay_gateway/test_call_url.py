"""The per-call relay URL: one call, one expiry, a MAC only the auth token's holder can make."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from services.relay_gateway.call_url import RelayUrlSigner, UrlRefusal
from tests.support.twilio_fakes import AUTH_TOKEN, sid

NOW = 1_800_000_000.0
SIGNER = RelayUrlSigner(AUTH_TOKEN, ttl_seconds=300)


def parts(path: str) -> tuple[str, str, str]:
    call_sid, expires, mac = path.removeprefix("/voice/relay/").split("/")
    return call_sid, expires, mac


@pytest.mark.parametrize(
    ("public_base_url", "prefix"),
    [
        ("https://voice.example.test", "wss://voice.example.test/voice/relay/"),
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/voice/relay/"),
        ("https://voice.example.test/baton/", "wss://voice.example.test/baton/voice/relay/"),
        ("https://voice.example.test:8443/?x=1", "wss://voice.example.test:8443/voice/relay/"),
    ],
)
def test_the_url_is_websocket_on_the_public_host_with_the_call_in_the_path(
    public_base_url: str, prefix: str
) -> None:
    call_sid = sid("CA")
    url = SIGNER.url(public_base_url, call_sid, NOW)
    assert url.startswith(f"{prefix}{call_sid}/{int(NOW) + 300}/")
    assert "?" not in url, "no query string: every reading of Twilio's signature agrees"


def test_every_call_gets_its_own_url_and_so_its_own_twilio_signature() -> None:
    base = "https://voice.example.test"
    first, second = (SIGNER.url(base, sid("CA"), NOW) for _ in range(2))
    later = SIGNER.url(base, parts(first.removeprefix("wss://voice.example.test"))[0], NOW + 1)
    validator = RequestValidator(AUTH_TOKEN)
    signatures = {validator.compute_signature(url, {}) for url in (first, second, later)}
    assert len(signatures) == 3


def test_a_url_opens_its_call_until_it_expires() -> None:
    call_sid, expires, mac = parts(SIGNER.path(sid("CA"), NOW))
    assert SIGNER.refusal(call_sid, expires, mac, NOW) is None
    assert SIGNER.refusal(call_sid, expires, mac, NOW + 300) is None
    assert SIGNER.refusal(call_sid, expires, mac, NOW + 301) is UrlRefusal.EXPIRED


def test_a_url_opens_no_other_call_and_cannot_be_stretched() -> None:
    call_sid, expires, mac = parts(SIGNER.path(sid("CA"), NOW))
    assert SIGNER.refusal(sid("CA"), expires, mac, NOW) is UrlRefusal.FORGED
    assert SIGNER.refusal(call_sid, str(int(expires) + 3600), mac, NOW) is UrlRefusal.FORGED
    other_account = RelayUrlSigner("another-auth-token-0000", ttl_seconds=300)
    assert other_account.refusal(call_sid, expires, mac, NOW) is UrlRefusal.FORGED


@pytest.mark.parametrize(
    ("call_sid", "expires"),
    [
        ("CA1", "1800000300"),
        ("PN" + "0" * 32, "1800000300"),
        ("CA" + "0" * 32 + "\r\n", "1800000300"),
        ("CA" + "0" * 32, "-1"),
        ("CA" + "0" * 32, "１８００"),
        ("CA" + "0" * 32, "9" * 40),
    ],
)
def test_a_malformed_url_is_refused(call_sid: str, expires: str) -> None:
    assert SIGNER.refusal(call_sid, expires, "mac", NOW) is UrlRefusal.MALFORMED


def test_only_call_sids_get_a_url() -> None:
    with pytest.raises(ValueError, match="CallSid"):
        SIGNER.path("CA1/../../internal", NOW)
