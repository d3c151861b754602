"""``make bench`` / ``python -m baton_devtools.bench``: throughput and latency, the voice
turn, masking, idle calls. ``--quick`` runs the throughput record only, with smaller numbers.
``--against REV`` instead compares REV with this checkout, in turns (``side_by_side``)."""

import argparse
from pathlib import Path

from baton_devtools.bench import redaction, side_by_side, throughput, voice, voice_sockets

parser = argparse.ArgumentParser(prog="python -m baton_devtools.bench")
parser.add_argument("--quick", action="store_true", help="smaller numbers, throughput only")
parser.add_argument("--output", type=Path, default=None)
parser.add_argument(
    "--against", metavar="REV", help="compare this git revision with this checkout, in turns"
)
parser.add_argument("--rounds", type=int, default=3, help="rounds of each version (--against)")
args = parser.parse_args()
if args.against:
    side_by_side.main(args.against, args.rounds, args.quick, args.output or side_by_side.RESULTS)
else:
    throughput.main(quick=args.quick, output=args.output or throughput.RESULTS)
    if not args.quick:
        voice.main()
        redaction.main()
        voice_sockets.main()
