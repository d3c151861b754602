"""The ``baton`` command: run one service, declare the streams, read a handoff's trace, list
and replay dead letters, deploy the Agent Handoff Studio flow.

Developer commands (``baton up``, ``baton emulator``, ``baton sms``, ``baton call``) come
from the ``baton-devtools`` distribution, which registers them under the ``baton.commands``
entry-point group; the production image does not install it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib.metadata import entry_points
from typing import Any

from baton import studio
from baton.command_errors import CommandFailed, one_line
from baton.services import BY_NAME, service
from libs.platform.build_info import version
from libs.platform.logs import LOG_FORMATS, configure_logging

COMMAND_PLUGINS = "baton.commands"
"""Entry-point group: a callable taking the subparsers action and adding commands to it."""


class HelpfulParser(argparse.ArgumentParser):
    """Every option's help says its default; subcommands (plugins' too) inherit this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def _run_service(args: argparse.Namespace) -> None:
    from baton import serving
    from libs.platform.admin import admin_of, admin_port
    from libs.platform.settings import load_settings

    spec = service(args.service)
    settings = load_settings(spec.load_settings_class())
    app = spec.create_app(settings)
    admin = admin_of(app)
    assert admin is not None, f"{spec.name} has no admin app"
    port = args.port or spec.port
    status = serving.run(
        app,
        settings,
        serving.Listener(args.host, port),
        serving.Listener(settings.baton_admin_host, args.admin_port or admin_port(settings, port)),
        admin,
        log_level=args.log_level.lower(),
        drain=getattr(app.state, "drain", None),
    )
    sys.exit(status)


def _streams_init(args: argparse.Namespace) -> None:

    from libs.platform.connection import connect_once, shown_url
    from libs.platform.settings import BatonSettings, load_settings
    from libs.platform.streams import declare_streams, reset_streams

    settings = load_settings(BatonSettings)
    apply = reset_streams if args.reset else declare_streams

    async def declare() -> list[str]:
        try:
            client = await connect_once(settings)
        except Exception as error:
            raise CommandFailed(
                f"cannot reach NATS at {shown_url(settings.nats_url)} ({one_line(error)}); "
                "set NATS_URL or start a server (`baton up` starts one)"
            ) from error
        assert client is not None
        try:
            return await apply(client.jetstream(), settings.baton_nats_replicas)
        finally:
            await client.close()

    declared = asyncio.run(declare())
    done = "emptied and declared" if args.reset else "declared"
    print(f"{done} on {shown_url(settings.nats_url)} (replicas={settings.baton_nats_replicas}):")
    for name in declared:
        print(f"  {name}")


def _dlq(args: argparse.Namespace) -> None:

    from baton.dead_letters import dead_letters, replay
    from libs.platform.connection import connect_once
    from libs.platform.settings import BatonSettings, load_settings

    settings = load_settings(BatonSettings)

    async def run() -> None:
        client = await connect_once(settings)
        assert client is not None
        try:
            js = client.jetstream()
            letters = [letter async for letter in dead_letters(js, args.consumer)]
            if args.dlq_command == "list":
                for letter in letters:
                    print(letter.line())
                print(f"{len(letters)} dead letter(s)")
                return
            chosen = [
                letter for letter in letters if args.all or letter.sequence in set(args.sequences)
            ]
            done = await replay(js, chosen)
            print(f"replayed {len(done)} dead letter(s): {' '.join(map(str, done)) or '-'}")
        finally:
            await client.close()

    asyncio.run(run())


def _trace(args: argparse.Namespace) -> None:
    from pathlib import Path

    from baton.trace_store import summary, timelines, trace_dir

    directory = Path(args.dir) if args.dir else trace_dir()
    if args.id:
        print(timelines(args.id, directory, every_turn=args.all))
    else:
        print(summary(directory, limit=args.last))


def build_parser() -> argparse.ArgumentParser:
    parser = HelpfulParser(
        prog="baton",
        description="Hand a customer from an AI agent to a human agent in a Twilio contact center.",
    )
    parser.add_argument("--version", action="version", version=f"baton {version()}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=LOG_FORMATS,
        help="JSON lines, plain text, or auto: text on a terminal, JSON otherwise",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run one service")
    run.add_argument("service", choices=sorted(BY_NAME), help="the service to run")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on")
    run.add_argument("--port", type=int, default=0, help="HTTP port (0: the service's own)")
    run.add_argument(
        "--admin-port",
        type=int,
        default=0,
        help="admin port for /metrics and /internal/* (0: BATON_ADMIN_PORT, else HTTP port + 1000)",
    )
    run.set_defaults(handler=_run_service, serves=True)

    trace = commands.add_parser(
        "trace", help="print a handoff's timeline from the local stack's spans"
    )
    trace.add_argument(
        "id", nargs="?", help="conversation id, call SID, handoff id or trace id (none: list)"
    )
    trace.add_argument("--dir", help="span files (unset: $BATON_TRACE_DIR or .baton/traces)")
    trace.add_argument("--all", action="store_true", help="every turn's trace, not only handoffs")
    trace.add_argument("--last", type=int, default=10, help="traces listed without an id")
    trace.set_defaults(handler=_trace)

    streams = commands.add_parser("streams", help="JetStream streams and buckets")
    streams_commands = streams.add_subparsers(
        dest="streams_command", required=True, metavar="COMMAND"
    )
    init = streams_commands.add_parser("init", help="declare every stream and bucket once")
    init.add_argument(
        "--reset", action="store_true", help="delete Baton's streams and buckets first"
    )
    init.set_defaults(handler=_streams_init)

    studio.register(commands)
    dlq = commands.add_parser("dlq", help="messages consumers gave up on (BATON_DLQ)")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser("list", help="each dead letter with the reason")
    listing.add_argument("--consumer", help="only this consumer's (e.g. messaging-gateway-replies)")
    listing.set_defaults(handler=_dlq)
    again = dlq_commands.add_parser(
        "replay", help="publish dead letters again on their original subject, then remove them"
    )
    again.add_argument("sequences", nargs="*", type=int, help="dead-letter sequence numbers")
    again.add_argument("--all", action="store_true", help="every dead letter (of --consumer)")
    again.add_argument("--consumer", help="only this consumer's")
    again.set_defaults(handler=_dlq)

    for plugin in entry_points(group=COMMAND_PLUGINS):
        plugin.load()(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging(
        args.log_level, args.log_format, service=getattr(args, "service", None) or "baton"
    )
    if getattr(args, "serves", False):  # a server's crash keeps its traceback
        args.handler(args)
        return
    try:
        args.handler(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except CommandFailed as failure:
        sys.exit(f"baton {args.command}: {failure}")
    except Exception as error:
        if args.log_level.upper() == "DEBUG":
            raise
        sys.exit(f"baton {args.command}: {one_line(error)} (--log-level DEBUG shows where)")


if __name__ == "__main__":
    main(sys.argv[1:])
