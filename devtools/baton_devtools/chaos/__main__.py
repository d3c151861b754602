"""``python -m baton_devtools.chaos [--quick] [--scenario NAME …]``; exits 1 unless all zeros."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from baton_devtools.chaos.runner import RESULTS, Sizes, chosen, run_all, write_results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m baton_devtools.chaos", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short run of make test")
    parser.add_argument("--scenario", action="append", default=[], help="run only these")
    parser.add_argument("--results", default=str(RESULTS), help="where the JSON goes")
    parser.add_argument("--workdir", help="logs and the NATS store (default: a temp dir)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    sizes = Sizes.of(args.quick)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="baton-chaos-"))
    print(f"chaos ({'quick' if args.quick else 'full'}): logs in {workdir / 'logs'}", flush=True)
    results = asyncio.run(run_all(chosen(args.quick, args.scenario), sizes, workdir))
    document = write_results(results, sizes, Path(args.results))
    print(f"written to {args.results}")
    if not document["all_clean"]:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
