"""Connecting a service to NATS: a FastStream broker with trace propagation, and bucket binding.

Every connection Baton makes (each service's broker, ``baton streams init``, ``baton dlq``)
takes its credentials and TLS from the same settings through :func:`nats_options`. A
starting service reaches NATS within ``BATON_NATS_CONNECT_SECONDS`` or gives up with one
line naming ``NATS_URL`` (:func:`wait_for_nats`): nats-py alone, told to reconnect forever,
would retry its first connect forever too, silently.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
from faststream.nats import NatsBroker
from faststream.nats.security import (
    NatsCredentials,
    NatsNKey,
    NatsSecurity,
    NatsToken,
    NatsUserPassword,
)
from faststream.security import BaseSecurity
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from libs.platform.nats_metrics import TemplatedNatsPrometheusMiddleware
from libs.platform.nats_spans import TemplatedNatsTelemetryMiddleware
from libs.platform.redaction import configure_redaction
from libs.platform.settings import BatonSettings
from libs.platform.tracing import configure_tracing

log = logging.getLogger("baton.nats")

ATTEMPT_TIMEOUT_SECONDS = 2.0
"""One connect attempt's bound (a server that accepts TCP but never answers)."""
RETRY_PAUSE_SECONDS = 0.5


class NatsUnreachable(RuntimeError):
    """A starting service could not reach NATS in time; the text is the one line shown."""


def shown_url(url: str) -> str:
    """``NATS_URL`` as logs may show it: a password or token in it is masked."""
    shown = []
    for server in url.split(","):
        parts = urlsplit(server.strip())
        if parts.username is None and parts.password is None:
            shown.append(server.strip())
            continue
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        shown.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))
    return ",".join(shown)


def tls_context(settings: BatonSettings) -> ssl.SSLContext | None:
    """TLS toward NATS when a CA or a client certificate is configured."""
    if settings.nats_tls_ca is None and settings.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.nats_tls_ca)
    if settings.nats_tls_cert is not None and settings.nats_tls_key is not None:
        context.load_cert_chain(settings.nats_tls_cert, settings.nats_tls_key)
    return context


def nats_options(settings: BatonSettings) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for the configured servers, credentials and TLS."""
    options: dict[str, Any] = {"servers": [s.strip() for s in settings.nats_url.split(",")]}
    if settings.nats_creds:
        options["user_credentials"] = settings.nats_creds
    if settings.nats_nkey_seed:
        options["nkeys_seed"] = settings.nats_nkey_seed
    if settings.nats_user is not None and settings.nats_password is not None:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_token is not None:
        options["token"] = settings.nats_token.get_secret_value()
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options


def broker_security(settings: BatonSettings) -> BaseSecurity | None:
    """The same credentials and TLS as :func:`nats_options`, in FastStream's terms."""
    context = tls_context(settings)
    if settings.nats_creds:
        return NatsCredentials.from_file(settings.nats_creds, ssl_context=context)
    if settings.nats_nkey_seed:
        return NatsNKey(settings.nats_nkey_seed, ssl_context=context)
    if settings.nats_user is not None and settings.nats_password is not None:
        password = settings.nats_password.get_secret_value()
        return NatsUserPassword(settings.nats_user, password, ssl_context=context)
    if settings.nats_token is not None:
        return NatsToken(settings.nats_token.get_secret_value(), ssl_context=context)
    return NatsSecurity(ssl_context=context) if context is not None else None


def telling(errors: list[Exception], fallback: BaseException) -> BaseException:
    """The error that says most about a failed connect: a refusal of the credentials
    (the server then also resets the connection), else the last one seen."""
    refusals = [
        e
        for e in errors
        if isinstance(e, nats.errors.AuthorizationError) or "authorization" in str(e).lower()
    ]
    return refusals[0] if refusals else (errors[-1] if errors else fallback)


def noting(errors: list[Exception]) -> Callable[[Exception], Awaitable[None]]:
    async def noted(error: Exception) -> None:
        """Reported by :func:`wait_for_nats`, one line per attempt, rather than by nats-py."""
        errors.append(error)

    return noted


async def connect_once(
    settings: BatonSettings, stop: asyncio.Event | None = None, **options: Any
) -> Client | None:
    """One bounded connect attempt with the configured credentials and TLS: the client, or
    ``None`` when ``stop`` is set first; raises the error that says most otherwise. The
    attempt is abandoned, not awaited, past its bound: nats-py can hang after a TLS
    failure."""
    errors: list[Exception] = []
    connecting = asyncio.ensure_future(
        nats.connect(
            **nats_options(settings),
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            connect_timeout=ATTEMPT_TIMEOUT_SECONDS,
            error_cb=noting(errors),
            **options,
        )
    )
    stopping = asyncio.ensure_future((stop or asyncio.Event()).wait())
    await asyncio.wait(
        {connecting, stopping},
        timeout=ATTEMPT_TIMEOUT_SECONDS * 2,
        return_when=asyncio.FIRST_COMPLETED,
    )
    stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        if stop is not None and stop.is_set():
            return None
        raise telling(errors, TimeoutError("no answer"))
    error = connecting.exception()
    if error is not None:
        raise telling(errors, error)
    return connecting.result()


async def wait_for_nats(settings: BatonSettings, stop: asyncio.Event | None = None) -> bool:
    """Try to reach NATS until ``BATON_NATS_CONNECT_SECONDS`` pass, logging each failed attempt.

    Returns ``False`` when ``stop`` is set first (a signal during start-up); raises
    :class:`NatsUnreachable` when time is up."""
    deadline = time.monotonic() + settings.baton_nats_connect_seconds
    stop = stop or asyncio.Event()
    attempt = 0
    while True:
        attempt += 1
        try:
            client = await connect_once(settings, stop)
        except Exception as error:
            failure: BaseException = error
        else:
            if client is None:
                return False
            await client.close()
            return True
        left = deadline - time.monotonic()
        reason = f"{type(failure).__name__}: {failure}".strip().rstrip(":")
        if left <= 0:
            raise NatsUnreachable(
                f"cannot reach NATS at NATS_URL={shown_url(settings.nats_url)} after "
                f"{attempt} attempts in {settings.baton_nats_connect_seconds:g} s ({reason})"
            )
        log.warning(
            "NATS at %s not reachable (attempt %d: %s); trying again for %.0f s more",
            shown_url(settings.nats_url),
            attempt,
            reason,
            left,
        )
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(RETRY_PAUSE_SECONDS, left))
            return False
        except TimeoutError:
            continue


async def connect_broker(broker: NatsBroker, settings: BatonSettings) -> None:
    """Connect a service's broker once NATS answers (bounded, see :func:`wait_for_nats`)."""
    await wait_for_nats(settings)
    await broker.connect()


def create_broker(settings: BatonSettings, service_name: str) -> NatsBroker:
    """A FastStream broker whose every publish carries the W3C trace context in its headers,
    and whose publishes and deliveries are counted on ``/metrics``."""
    tracer_provider = configure_tracing(service_name)
    configure_redaction(
        sensitive=settings.baton_log_sensitive, phone_regions=settings.phone_regions
    )
    return NatsBroker(
        nats_options(settings)["servers"],
        security=broker_security(settings),
        name=f"{service_name}:{settings.baton_instance_id}",
        graceful_timeout=settings.baton_shutdown_grace_seconds,
        middlewares=(
            TemplatedNatsTelemetryMiddleware(tracer_provider=tracer_provider),
            TemplatedNatsPrometheusMiddleware(service_name),
        ),
        max_reconnect_attempts=-1,
        logger=logging.getLogger("faststream.nats"),
        log_level=logging.DEBUG,
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The raw JetStream context of a connected broker (KV, direct gets, stream info)."""
    return broker.connection.jetstream()


async def bucket(js: JetStreamContext, name: str) -> KeyValue:
    """Bind to a declared bucket (never creates one: declaration has a single owner)."""
    return await js.key_value(name)
