"""The aiohttp transport behind ``httpx``: its connection limit, its pool wait, closing it,
and the name of each aiohttp failure (the ones a test cannot cause on a socket)."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
from fastapi import FastAPI, Request

from libs.platform.aiohttp_transport import AiohttpTransport, httpx_error
from libs.platform.twilio_rest import reached_twilio
from tests.support.servers import serve


def held_app() -> tuple[FastAPI, asyncio.Event, list[int], set[int]]:
    """An app whose ``/held`` answers once ``release`` is set; it records how many requests it
    held at once (``most``, a one-item list) and the client ports they came from."""
    app = FastAPI()
    release = asyncio.Event()
    most = [0]
    ports: set[int] = set()
    holding = 0

    @app.get("/held")
    async def held(request: Request) -> dict[str, bool]:
        nonlocal holding
        assert request.client is not None
        ports.add(request.client.port)
        holding += 1
        most[0] = max(most[0], holding)
        await release.wait()
        holding -= 1
        return {"ok": True}

    return app, release, most, ports


async def test_no_more_connections_than_the_limit_are_open_at_once() -> None:
    app, release, most, ports = held_app()
    async with serve(app) as url:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=3))
        async with httpx.AsyncClient(transport=transport, base_url=url) as client:
            calls = [asyncio.create_task(client.get("/held")) for _ in range(12)]
            while most[0] < 3:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # a fourth connection would have come in by now
            release.set()
            answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200] * 12
    assert most[0] == 3 and len(ports) == 3


async def test_a_request_waiting_for_a_free_connection_never_left() -> None:
    app, release, most, _ = held_app()
    async with serve(app) as url:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=1))
        timeout = httpx.Timeout(5, pool=0.2)
        async with httpx.AsyncClient(transport=transport, base_url=url, timeout=timeout) as client:
            first = asyncio.create_task(client.get("/held"))
            while most[0] < 1:
                await asyncio.sleep(0.01)
            with pytest.raises(httpx.TransportError) as raised:
                await client.post("/held", data={"To": "+15005550006"})
            release.set()
            assert (await first).status_code == 200
    assert isinstance(raised.value, httpx.ConnectTimeout)
    assert not reached_twilio(raised.value)


async def test_aclose_closes_the_session_and_its_connections() -> None:
    opened: list[asyncio.StreamReader] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(reader)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.read()  # until the client closes the kept-alive connection
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        transport = AiohttpTransport()
        client = httpx.AsyncClient(transport=transport)
        assert (await client.get(f"http://127.0.0.1:{port}/")).json() == {}
        session = transport.client
        assert isinstance(session, aiohttp.ClientSession) and not session.closed
        await client.aclose()
        assert session.closed
        async with asyncio.timeout(5):
            while not (opened and all(r.at_eof() for r in opened)):
                await asyncio.sleep(0.01)


async def test_closing_a_transport_never_used_opens_nothing() -> None:
    transport = AiohttpTransport()
    await transport.aclose()
    assert transport.client is None


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (aiohttp.ConnectionTimeoutError("no free connection"), httpx.ConnectTimeout),
        (aiohttp.InvalidURL("ftp://twilio"), httpx.UnsupportedProtocol),
        (aiohttp.SocketTimeoutError("no answer"), httpx.ReadTimeout),
        (aiohttp.ClientConnectionResetError("closing transport"), httpx.WriteError),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("half a body"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.ClientError("anything else"), httpx.ReadError),
    ],
)
def test_each_aiohttp_failure_has_the_httpx_name_of_what_happened(
    error: Exception, named: type[httpx.TransportError]
) -> None:
    assert type(httpx_error(error)) is named


def test_an_error_not_aiohttps_is_left_alone() -> None:
    assert httpx_error(ValueError("a bug")) is None
