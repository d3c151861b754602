"""Which failed Twilio requests may have been acted on, and reading a list page after page.

A POST is repeated blindly only when Twilio cannot have acted on it: a connection that was
never opened, or a 429. Anything else (the request went out and no answer came back, a 5xx)
is looked up first. The transport failures are produced for real where a test can cause
them (a closed port, a full accept queue, servers that never answer, hang up or answer in
part, the emulator answering after the timeout), and each of httpx's classes is named in a
table.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from fastapi import FastAPI, Request

from baton_devtools.nats_server import free_port
from libs.platform.twilio_rest import (
    TwilioProduct,
    TwilioRestClient,
    next_page,
    outcome_unknown,
    reached_twilio,
)
from tests.emulator.harness import Emulator
from tests.support.servers import serve
from tests.support.twilio_fakes import API_KEY, API_SECRET, CUSTOMER, FLOW_SID, OUR_NUMBER
from tests.support.twilio_rest import rest_client

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"
FORM = {"To": CUSTOMER, "From": OUR_NUMBER}
MESSAGES = "/2010-04-01/Accounts/AC1/Messages.json"


@pytest.mark.parametrize(
    ("error", "reached"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("no answer to SYN"), False),
        (httpx.PoolTimeout("no free connection"), False),
        (httpx.UnsupportedProtocol("ftp"), False),
        (httpx.ReadTimeout("no answer"), True),
        (httpx.WriteTimeout("body not sent in time"), True),
        (httpx.ReadError("reset"), True),
        (httpx.WriteError("broken pipe"), True),
        (httpx.RemoteProtocolError("disconnected"), True),
    ],
)
def test_only_failures_before_the_request_left_never_reached_twilio(
    error: httpx.TransportError, reached: bool
) -> None:
    assert reached_twilio(error) is reached


async def post_error(client: TwilioRestClient) -> httpx.TransportError:
    with pytest.raises(httpx.TransportError) as raised:
        await client.post_form("studio.execution.create", TwilioProduct.STUDIO, EXECUTIONS, FORM)
    return raised.value


async def test_a_closed_port_never_reached_twilio() -> None:
    async with rest_client(f"http://127.0.0.1:{free_port()}") as client:
        error = await post_error(client)
    assert isinstance(error, httpx.ConnectError) and not reached_twilio(error)


@contextmanager
def unanswered_port() -> Iterator[str]:
    """A port whose listener's accept queue is full: a further SYN is dropped, unanswered."""
    with socket.socket() as listener, socket.socket() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        queued.connect(listener.getsockname())  # fills the queue, never accepted
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def test_a_connection_that_could_not_be_opened_in_time_never_reached_twilio() -> None:
    started = time.monotonic()
    with unanswered_port() as url:
        async with rest_client(url, timeout_seconds=0.3) as client:
            error = await post_error(client)
    assert isinstance(error, httpx.ConnectTimeout) and not reached_twilio(error)
    assert 0.25 < time.monotonic() - started < 3, "timeout_seconds bounds the connect"


async def test_a_post_answered_after_the_timeout_reached_twilio(emulator: Emulator) -> None:
    await emulator.post(
        "/_emulator/faults",
        {
            "path_prefix": "/v2/Flows",
            "status": 0,
            "delay_seconds": 0.5,
            "create_before_delay": True,
        },
    )
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        error = await post_error(client)
    assert isinstance(error, httpx.ReadTimeout) and reached_twilio(error)
    assert len(await emulator.get("/_emulator/executions")) == 1, "Twilio did act on it"


Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[str]:
    """A server that reads a request's head, then answers it with ``answer``."""

    async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer(reader, writer)
        writer.close()

    server = await asyncio.start_server(serve_one, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def never_answers(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up


async def hangs_up(_: asyncio.StreamReader, __: asyncio.StreamWriter) -> None:
    return


async def resets(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    writer.transport.abort()


def writes(data: bytes) -> Answer:
    async def write(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return write


CREATED = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"


async def test_a_post_not_answered_in_time_reached_twilio() -> None:
    started = time.monotonic()
    async with raw_server(never_answers) as url, rest_client(url, timeout_seconds=0.3) as client:
        error = await post_error(client)
    assert isinstance(error, httpx.ReadTimeout) and reached_twilio(error)
    assert 0.25 < time.monotonic() - started < 3, "timeout_seconds bounds the wait"


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        pytest.param(hangs_up, httpx.RemoteProtocolError, id="hangs up"),
        pytest.param(resets, httpx.ReadError, id="resets the connection"),
        pytest.param(writes(CREATED + b"Content-Le"), httpx.RemoteProtocolError, id="half a head"),
        pytest.param(
            writes(CREATED + b'Content-Length: 100\r\n\r\n{"sid": "FN'),
            httpx.RemoteProtocolError,
            id="half a body",
        ),
        pytest.param(writes(b"SSH-2.0-OpenSSH\r\n\r\n"), httpx.RemoteProtocolError, id="not HTTP"),
    ],
)
async def test_a_connection_that_failed_after_the_request_reached_twilio(
    answer: Answer, raised: type[httpx.TransportError]
) -> None:
    """Each failure is the class httpx's own transport raises for it, and may have been acted
    on: never a connect error, which would let the POST be repeated blindly."""
    async with raw_server(answer) as url, rest_client(url) as client:
        error = await post_error(client)
    assert type(error) is raised and reached_twilio(error)


async def test_a_call_sends_its_basic_auth_and_its_form() -> None:
    app = FastAPI()

    @app.post(MESSAGES, status_code=201)
    async def create(request: Request) -> dict[str, str]:
        form = await request.form()
        return {
            "authorization": request.headers["authorization"],
            "content_type": request.headers["content-type"],
            "to": str(form["To"]),
        }

    async with serve(app) as url, rest_client(url) as client:
        response = await client.post_form("messages.create", TwilioProduct.API, MESSAGES, FORM)
    token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert response.json() == {
        "authorization": f"Basic {token}",
        "content_type": "application/x-www-form-urlencoded",
        "to": CUSTOMER,
    }


@pytest.mark.parametrize(
    ("status", "unknown"),
    [
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (429, False),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_only_a_5xx_leaves_the_outcome_unknown(status: int, unknown: bool) -> None:
    """A 4xx was refused and a 429 is documented as never processed; a 5xx may come after
    Twilio acted."""
    assert outcome_unknown(httpx.Response(status)) is unknown


# --- pages ----------------------------------------------------------------------------------


def test_the_next_page_of_a_v1_or_v2_list_is_its_meta_next_page_url() -> None:
    page = {
        "meta": {
            "next_page_url": "https://studio.twilio.com/v2/Flows/FW1/Executions"
            "?DateCreatedFrom=2030-01-01T11%3A58%3A00Z&PageSize=50&Page=1"
        }
    }
    assert next_page(page, ("/v2/Flows/FW1/Executions", {"PageSize": "50"})) == (
        "/v2/Flows/FW1/Executions",
        {"DateCreatedFrom": "2030-01-01T11:58:00Z", "PageSize": "50", "Page": "1"},
    )


def test_the_next_page_of_a_2010_list_is_its_next_page_uri() -> None:
    page = {
        "next_page_uri": "/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550006&Page=1"
        "&PageSize=50&PageToken=PASM1"
    }
    assert next_page(page, ("/2010-04-01/Accounts/AC1/Messages.json", {})) == (
        "/2010-04-01/Accounts/AC1/Messages.json",
        {"To": "+15005550006", "Page": "1", "PageSize": "50", "PageToken": "PASM1"},
    )


def test_the_next_page_of_an_orchestrator_list_is_its_token_on_the_same_request() -> None:
    page = {"meta": {"nextToken": "PT50"}}
    assert next_page(page, ("/v2/Conversations/c1/Communications", {"pageSize": "50"})) == (
        "/v2/Conversations/c1/Communications",
        {"pageSize": "50", "pageToken": "PT50"},
    )


@pytest.mark.parametrize(
    "page",
    [
        {"meta": {"next_page_url": None, "nextToken": None}},
        {"next_page_uri": None},
        {"meta": "not a block"},
        {},
    ],
)
def test_a_last_page_has_no_next(page: dict[str, object]) -> None:
    assert next_page(page, ("/v2/Flows/FW1/Executions", {})) is None


async def execution(emulator: Emulator, to: str) -> str:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        created = await client.post(EXECUTIONS, data={"To": to, "From": OUR_NUMBER})
    assert created.status_code == 201, created.text
    return str(created.json()["sid"])


async def test_pages_reads_every_page_newest_first(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    created = [await execution(emulator, f"+150055504{n:02d}") for n in range(5)]
    pages = emulator_rest.pages(
        "studio.execution.list", TwilioProduct.STUDIO, EXECUTIONS, {"PageSize": "2"}
    )
    seen = [[e["sid"] for e in page["executions"]] async for page in pages]
    assert seen == [[created[4], created[3]], [created[2], created[1]], [created[0]]]


async def test_a_page_that_fails_raises(
    emulator: Emulator, emulator_rest: TwilioRestClient
) -> None:
    for n in range(3):
        await execution(emulator, f"+150055504{n:02d}")
    pages = emulator_rest.pages(
        "studio.execution.list", TwilioProduct.STUDIO, EXECUTIONS, {"PageSize": "2"}
    )
    first = await anext(pages)
    assert len(first["executions"]) == 2
    await emulator.post(
        "/_emulator/faults", {"path_prefix": EXECUTIONS, "status": 503, "method": "GET"}
    )
    with pytest.raises(httpx.HTTPStatusError):
        await anext(pages)


async def test_a_burst_of_requests_reuses_the_connections_of_the_previous_one() -> None:
    """Each burst of ``concurrency`` requests finds that many connections kept open (no new
    TCP and TLS handshake per reply once the gateway sends many replies at once)."""
    burst = 30
    ports: set[int] = set()
    arrived = 0
    all_in = asyncio.Event()
    app = FastAPI()

    @app.post(MESSAGES, status_code=201)
    async def create(request: Request) -> dict[str, str]:
        nonlocal arrived
        assert request.client is not None
        ports.add(request.client.port)
        arrived += 1
        if arrived % burst == 0:
            all_in.set()
        await all_in.wait()
        return {"sid": "SM1"}

    async with serve(app) as url:
        client = TwilioRestClient(
            username=API_KEY, password=API_SECRET, base_url=url, concurrency=burst
        )
        for _ in range(2):
            all_in.clear()
            await asyncio.gather(
                *(
                    client.post_form("messages.create", TwilioProduct.API, MESSAGES, FORM)
                    for _ in range(burst)
                )
            )
        await client.aclose()
    assert len(ports) == burst, "the second burst opened new connections"
