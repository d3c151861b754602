"""NATS credentials and TLS come from settings and reach every connection Baton makes: each
service's broker, ``baton streams init`` and ``baton dlq``. Real nats-servers that require a
token, a user and password, or mutual TLS refuse a connection without them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton_devtools.nats_server import LocalNatsServer, start_nats_server
from services.messaging_gateway.main import create_app as create_messaging
from services.messaging_gateway.settings import MessagingGatewaySettings
from tests.support.processes import service_env
from tests.support.servers import serve
from tests.support.tls_files import make_tls_files
from tests.support.twilio_fakes import CUSTOMER, OUR_NUMBER, post_signed_form, sid, twilio_env

TOKEN = "nats-token-0001"
USER, PASSWORD = "baton-gateway", "nats-password-0001"


@contextmanager
def nats_with(config: str, directory: Path) -> Iterator[LocalNatsServer]:
    path = directory / "nats.conf"
    path.write_text(config)
    server = start_nats_server(config_file=str(path))
    try:
        yield server
    finally:
        server.stop()


def baton(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def streams_init(url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return baton(["streams", "init"], service_env(url, BATON_NATS_REPLICAS="1", **settings))


async def gateway_stores_a_turn(url: str, **nats: Any) -> None:
    """A messaging gateway connected with these settings is ready and stores a signed SMS."""
    port_settings = twilio_env(url, public_base_url="http://127.0.0.1:1", **nats)
    app = create_messaging(MessagingGatewaySettings(**port_settings))
    async with serve(app) as public, httpx.AsyncClient() as client:
        assert (await client.get(f"{public}/readyz")).status_code == 200
        fields = {"MessageSid": sid("SM"), "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hi"}
        response = await post_signed_form(
            client, f"{public}/messaging/sms", fields, public_url="http://127.0.0.1:1/messaging/sms"
        )
        assert response.status_code == 200, response.text


async def test_a_token_server_takes_baton_with_its_token_only(tmp_path: Path) -> None:
    with nats_with(f'authorization {{ token: "{TOKEN}" }}\n', tmp_path) as server:
        refused = streams_init(server.url)
        assert refused.returncode != 0
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
        assert "Authorization Violation" in refused.stderr
        declared = streams_init(server.url, NATS_TOKEN=TOKEN)
        assert declared.returncode == 0, declared.stderr
        assert TOKEN not in declared.stdout + declared.stderr
        await gateway_stores_a_turn(server.url, nats_token=TOKEN)
        listed = baton(["dlq", "list"], service_env(server.url, NATS_TOKEN=TOKEN))
        assert listed.returncode == 0 and "0 dead letter(s)" in listed.stdout


async def test_a_user_and_password_server_takes_baton_with_them(tmp_path: Path) -> None:
    config = f'authorization {{ users: [ {{ user: "{USER}", password: "{PASSWORD}" }} ] }}\n'
    with nats_with(config, tmp_path) as server:
        assert streams_init(server.url, NATS_USER=USER, NATS_PASSWORD=PASSWORD).returncode == 0
        await gateway_stores_a_turn(server.url, nats_user=USER, nats_password=PASSWORD)


@pytest.mark.slow
async def test_a_service_with_a_wrong_password_exits_with_one_line(tmp_path: Path) -> None:
    config = f'authorization {{ users: [ {{ user: "{USER}", password: "{PASSWORD}" }} ] }}\n'
    with nats_with(config, tmp_path) as server:
        env = service_env(
            server.url, NATS_USER=USER, NATS_PASSWORD="wrong", BATON_NATS_CONNECT_SECONDS="1"
        )
        ran = baton(["--log-level", "ERROR", "run", "agent-worker", "--port", "0"], env)
        assert ran.returncode != 0
        (line,) = ran.stderr.strip().splitlines()
        assert line.startswith(f"baton: cannot reach NATS at NATS_URL={server.url}"), line
        assert "Authorization Violation" in line and "wrong" not in line


async def test_mutual_tls_with_the_configured_ca_and_client_certificate(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    config = (
        "tls {\n"
        f'  cert_file: "{files.server_cert}"\n  key_file: "{files.server_key}"\n'
        f'  ca_file: "{files.ca}"\n  verify: true\n'
        "}\n"
    )
    with nats_with(config, tmp_path) as server:
        tls = {
            "NATS_TLS_CA": str(files.ca),
            "NATS_TLS_CERT": str(files.client_cert),
            "NATS_TLS_KEY": str(files.client_key),
        }
        assert streams_init(server.url).returncode != 0, "no client certificate, no connection"
        declared = streams_init(server.url, **tls)
        assert declared.returncode == 0, declared.stderr
        await gateway_stores_a_turn(
            server.url,
            nats_tls_ca=str(files.ca),
            nats_tls_cert=str(files.client_cert),
            nats_tls_key=str(files.client_key),
        )
