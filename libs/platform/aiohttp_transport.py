"""An ``httpx`` transport on aiohttp's connection pool: the same API at less CPU per request.

``httpx`` stays the API (requests, responses, errors, auth, timeouts); aiohttp moves the
bytes, at about half the CPU of httpcore per call, and what its pool costs a request does
not grow with the connections it holds (httpcore looks through all of them each time).

A failure is named as ``httpx``'s own transport names it, after what happened on the wire:
a connect error or timeout only when no connection was ever opened for the request, a
read, write or protocol error once it was. ``httpx_aiohttp``'s own mapping would call a
server that hung up after reading the request a ``ConnectTimeout`` (a POST that looks safe
to repeat) and let an unreadable answer out as an aiohttp error.

aiohttp has no write timeout: a request's ``write`` timeout is not applied (a REST call's
body fits in the socket's buffer); ``connect``, ``read`` and ``pool`` are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
import httpx_aiohttp


def httpx_error(error: BaseException) -> httpx.TransportError | None:
    """The ``httpx`` error for an aiohttp failure; ``None`` for an error not aiohttp's."""
    message = str(error)
    if isinstance(error, aiohttp.ConnectionTimeoutError):  # no free connection, none opened in time
        return httpx.ConnectTimeout(message)
    if isinstance(error, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
        return httpx.ConnectError(message)
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    # From here on a connection was open for the request: it may have been acted on.
    if isinstance(error, aiohttp.SocketTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(error, aiohttp.ClientConnectionResetError):  # closed while being written to
        return httpx.WriteError(message)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)  # hung up before the answer was complete
    if isinstance(error, aiohttp.ClientResponseError):  # an answer that is not HTTP
        return httpx.RemoteProtocolError(message)
    if isinstance(error, aiohttp.ClientError):  # a reset connection, and the rest
        return httpx.ReadError(message)
    return None


@contextmanager
def httpx_errors() -> Iterator[None]:
    """Re-raise aiohttp's failures (bare or as ``httpx_aiohttp`` mapped them) per
    :func:`httpx_error`."""
    try:
        yield
    except httpx.TransportError as error:
        cause = error.__cause__
        mapped = httpx_error(cause) if cause is not None else None
        if mapped is None:
            raise
        raise mapped from cause
    except Exception as error:
        mapped = httpx_error(error)
        if mapped is None:
            raise
        raise mapped from error


class AiohttpTransport(httpx_aiohttp.AiohttpTransport):
    """``httpx_aiohttp``'s transport, its failures named by :func:`httpx_error`; one aiohttp
    session (``limits.max_connections``, idle ones closed after ``limits.keepalive_expiry``),
    opened on the first request and closed by ``aclose``."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with httpx_errors():
            response = await super().handle_async_request(request)
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _Body(response.stream)
        return response


class _Body(httpx.AsyncByteStream):
    """An answer's body, failures while reading it named by :func:`httpx_error`."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with httpx_errors():
            await self._stream.aclose()
