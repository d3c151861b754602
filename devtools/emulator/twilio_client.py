"""Point the official ``twilio`` library at the emulator.

twilio-python hard-codes each product's host (``https://studio.twilio.com`` …); this HTTP client
keeps Twilio's paths and replaces scheme and host with the emulator's, so the library's own
request building and response parsing are what get tested::

    client = Client(account_sid, auth_token, http_client=RewritingClient("http://127.0.0.1:8090"))
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient


def rewrite_url(url: str, base_url: str) -> str:
    """``https://studio.twilio.com/v2/Flows?x=1`` → ``<base>/v2/Flows?x=1``."""
    target = urlsplit(url)
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + target.path
    return urlunsplit((base.scheme, base.netloc, path, target.query, target.fragment))


class RewritingClient(TwilioHttpClient):  # type: ignore[misc]
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url
        if self.session is not None:
            self.session.trust_env = False

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        return super().request(
            method,
            rewrite_url(url, self.base_url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
