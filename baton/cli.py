"""The ``baton`` command: run the local stack, one service, the emulator, or declare streams.

``baton trace ID`` prints a handoff's timeline from the spans ``baton up`` writes locally.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass

SERVICES: dict[str, tuple[str, int]] = {
    "relay-gateway": ("services.relay_gateway.main", 8080),
    "messaging-gateway": ("services.messaging_gateway.main", 8081),
    "agent-worker": ("services.agent_worker.main", 8082),
    "handoff-dispatcher": ("services.handoff_dispatcher.main", 8083),
}
EMULATOR_PORT = 8090


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int


def service_spec(name: str) -> ServiceSpec:
    module, port = SERVICES[name]
    return ServiceSpec(name, module, port)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per Twilio request is noise, and its URLs can carry addresses.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _run_service(args: argparse.Namespace) -> None:
    import uvicorn

    from baton.serving import DrainingServer

    spec = service_spec(args.service)
    config = uvicorn.Config(
        f"{spec.module}:create_app",
        factory=True,
        host=args.host,
        port=args.port or spec.port,
        log_level=args.log_level.lower(),
        ws="websockets-sansio",
    )
    server = DrainingServer(config) if spec.name == "relay-gateway" else uvicorn.Server(config)
    server.run()


def _run_emulator(args: argparse.Namespace) -> None:
    import uvicorn

    from emulator.app import create_app
    from libs.telemetry import instrument_emulator

    app = create_app()
    instrument_emulator(app)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())


def _streams_init(args: argparse.Namespace) -> None:
    import nats

    from libs.nats_connection import declare_streams, reset_streams
    from libs.settings import BatonSettings, load_settings

    settings = load_settings(BatonSettings)
    apply = reset_streams if args.reset else declare_streams

    async def declare() -> list[str]:
        client = await nats.connect(settings.nats_url, connect_timeout=5)
        try:
            return await apply(client.jetstream(), settings.baton_nats_replicas)
        finally:
            await client.close()

    declared = asyncio.run(declare())
    done = "emptied and declared" if args.reset else "declared"
    print(f"{done} on {settings.nats_url} (replicas={settings.baton_nats_replicas}):")
    for name in declared:
        print(f"  {name}")


def _sms(args: argparse.Namespace) -> None:
    from baton.console import send_sms

    replies = send_sms(
        args.text, emulator=args.emulator, customer=args.sender, wait_seconds=args.wait
    )
    if not replies:
        print("(no reply: the conversation may be with a human now)")
    for reply in replies:
        print(f"agent> {reply}")


def _call(args: argparse.Namespace) -> None:
    from baton.console import place_call

    state = place_call(
        sys.stdin, emulator=args.emulator, caller=args.caller, out=sys.stdout, stay=args.stay
    )
    if state == "failed":
        sys.exit(1)


def _trace(args: argparse.Namespace) -> None:
    from pathlib import Path

    from baton.trace_store import (
        group_traces,
        read_spans,
        render_summary,
        timelines,
        trace_dir,
    )

    directory = Path(args.dir) if args.dir else trace_dir()
    if args.id:
        print(timelines(args.id, directory, every_turn=args.all))
    else:
        print(render_summary(group_traces(read_spans(directory)), limit=args.last))


def _up(args: argparse.Namespace) -> None:
    from baton.stack import run_stack

    run_stack(workers=args.workers, keep_state=args.keep_state)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole stack locally (NATS, services, emulator)")
    up.add_argument("--workers", type=int, default=2, help="agent worker processes")
    up.add_argument(
        "--keep-state",
        action="store_true",
        help="keep conversations from the last run (the emulator always starts empty)",
    )
    up.set_defaults(handler=_up)

    run = commands.add_parser("run", help="run one service")
    run.add_argument("service", choices=sorted(SERVICES))
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=0, help="HTTP port (default per service)")
    run.set_defaults(handler=_run_service)

    emulator = commands.add_parser("emulator", help="run the Twilio emulator and agent desktop")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=EMULATOR_PORT)
    emulator.set_defaults(handler=_run_emulator)

    sms = commands.add_parser("sms", help="text the local stack and print the replies")
    sms.add_argument("text")
    sms.add_argument("--from", dest="sender", default="+15005550006")
    sms.add_argument("--emulator", default=f"http://127.0.0.1:{EMULATOR_PORT}")
    sms.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a reply")
    sms.set_defaults(handler=_sms)

    voice = commands.add_parser(
        "call", help="call the local stack through ConversationRelay: type, hear the replies"
    )
    voice.add_argument("--from", dest="caller", default="+15005550006")
    voice.add_argument("--emulator", default=f"http://127.0.0.1:{EMULATOR_PORT}")
    voice.add_argument(
        "--stay", action="store_true", help="stay on the line after the handoff (talk to a human)"
    )
    voice.set_defaults(handler=_call)

    trace = commands.add_parser(
        "trace", help="print a handoff's timeline from the local stack's spans"
    )
    trace.add_argument(
        "id", nargs="?", help="conversation id, call SID, handoff id or trace id (none: list)"
    )
    trace.add_argument("--dir", help="span files (default: $BATON_TRACE_DIR or .baton/traces)")
    trace.add_argument("--all", action="store_true", help="every turn's trace, not only handoffs")
    trace.add_argument("--last", type=int, default=10, help="traces listed without an id")
    trace.set_defaults(handler=_trace)

    streams = commands.add_parser("streams", help="JetStream streams and buckets")
    streams_commands = streams.add_subparsers(dest="streams_command", required=True)
    init = streams_commands.add_parser("init", help="declare every stream and bucket once")
    init.add_argument(
        "--reset", action="store_true", help="delete Baton's streams and buckets first"
    )
    init.set_defaults(handler=_streams_init)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    args.handler(args)


if __name__ == "__main__":
    main(sys.argv[1:])
