"""``make bench`` / ``python -m baton_devtools.bench``: throughput and latency, the voice
turn, masking, idle calls. ``--quick`` runs the throughput record only, with smaller numbers."""

import argparse
from pathlib import Path

from baton_devtools.bench import redaction, throughput, voice, voice_sockets

parser = argparse.ArgumentParser(prog="python -m baton_devtools.bench")
parser.add_argument("--quick", action="store_true", help="smaller numbers, throughput only")
parser.add_argument("--output", type=Path, default=throughput.RESULTS)
args = parser.parse_args()
throughput.main(quick=args.quick, output=args.output)
if not args.quick:
    voice.main()
    redaction.main()
    voice_sockets.main()
