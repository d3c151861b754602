"""Test workers and other processes pick ports of their own; a server is ready only when it
listens itself."""

from __future__ import annotations

import socket

import pytest

from baton_devtools.nats_server import free_port, start_nats_server


def test_a_worker_picks_distinct_ports_from_its_own_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50, "a port handed out twice"
    assert all(16_000 <= port < 18_000 for port in ports)


def test_a_port_something_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw4")  # a range no worker of `make test` uses
    listening = []
    try:
        for port in range(18_000, 20_000):  # all of the range but one, taken by others
            if port == 19_333:
                continue
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sock.listen()
            listening.append(sock)
        assert free_port() == 19_333
    finally:
        for sock in listening:
            sock.close()


def test_outside_a_parallel_worker_ports_come_from_a_range_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not the kernel's ephemeral ports, which the bench's client sockets take by the hundred."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20 and all(20_000 <= port < 22_000 for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))


def test_a_nats_server_is_ready_only_when_it_listens_itself() -> None:
    first = start_nats_server()
    try:
        with pytest.raises(RuntimeError, match="did not start"):
            start_nats_server(port=first.port)  # another server answers there, not this one
    finally:
        first.stop()
