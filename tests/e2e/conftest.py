"""The compose stack, built and started once for the end-to-end tests, or one skip line saying
why it cannot run here (asked only when end-to-end tests are selected). A failed start or a
failed test shows the services' logs."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from subprocess import CalledProcessError

import pytest
from testcontainers.compose import DockerCompose

from tests.e2e.stack import ComposeStack, compose_project, connected
from tests.support.docker_engine import compose_problem, docker_engine_problem

LOG_TAIL = 20_000
"""How much of the ``docker compose`` output and of the services' logs a failure shows."""


def service_logs(compose: DockerCompose) -> str:
    try:
        stdout, stderr = compose.get_logs()
    except CalledProcessError as error:
        return f"(docker compose logs failed: {error})"
    return (stdout + stderr)[-LOG_TAIL:]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """After ``-m`` has deselected: skip the selected end-to-end tests, with one reason."""
    selected = [item for item in items if item.get_closest_marker("e2e") is not None]
    if not selected:
        return
    problem = docker_engine_problem() or compose_problem()
    if problem is not None:
        skip = pytest.mark.skip(reason=f"{problem}: the compose stack end to end needs Docker")
        for item in selected:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack() -> Iterator[ComposeStack]:
    compose = compose_project()
    try:
        compose.start()
    except CalledProcessError as error:
        output = (error.stderr or b"").decode(errors="replace")[-LOG_TAIL:]
        logs = service_logs(compose)
        compose.stop()
        pytest.fail(f"docker compose up failed:\n{output}\n--- service logs ---\n{logs}")
    except BaseException:  # a timeout or an interrupt mid-start: leave no project behind
        compose.stop()
        raise
    try:
        with connected(compose) as running:
            yield running
    finally:
        compose.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    running = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(running, ComposeStack):
        report.sections.append(("docker compose logs", service_logs(running.compose)))
    return report
