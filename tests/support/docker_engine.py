"""Whether a Docker engine answers here, asked the way testcontainers will reach it.

The suite falls back to a NATS container, and the end-to-end tests run the compose stack, only
where an engine answers; both say why not in one line otherwise.
"""

from __future__ import annotations

import shutil
import subprocess

from docker.errors import DockerException
from packaging.version import InvalidVersion, Version
from requests.exceptions import RequestException
from testcontainers.core.docker_client import DockerClient, get_docker_host

PROBE_TIMEOUT_SECONDS = 5
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
COMPOSE_MINIMUM = Version("2.24.4")
"""The first Compose that merges ``!override`` and ``!reset`` (the end-to-end override file)."""


def docker_engine_problem() -> str | None:
    """``None`` when a Docker engine answers a ping, else why not, in one line."""
    try:
        DockerClient(timeout=PROBE_TIMEOUT_SECONDS).client.ping()
    except (DockerException, RequestException, OSError) as error:
        host = get_docker_host() or DEFAULT_DOCKER_HOST
        return f"no Docker engine answers at {host} ({root_cause(error)})"
    return None


def root_cause(error: BaseException) -> str:
    """The innermost error's words: "No such file or directory", "Permission denied", ..."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def compose_problem() -> str | None:
    """``None`` when ``docker compose`` is recent enough for the end-to-end stack, else why not."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    answer = subprocess.run(
        ["docker", "compose", "version", "--short"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if answer.returncode != 0:
        return "no Docker Compose v2 (`docker compose version` failed)"
    return compose_version_problem(answer.stdout)


def compose_version_problem(printed: str) -> str | None:
    """Judge the output of ``docker compose version --short`` (``2.29.1`` or ``v2.29.1``)."""
    text = printed.strip().removeprefix("v")
    try:
        found = Version(text)
    except InvalidVersion:
        return f"cannot read the Docker Compose version from {printed.strip()!r}"
    if found < COMPOSE_MINIMUM:
        return f"Docker Compose {found} is older than {COMPOSE_MINIMUM}"
    return None
