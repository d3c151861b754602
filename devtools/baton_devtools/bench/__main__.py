"""``make bench`` / ``python -m baton_devtools.bench``."""

from baton_devtools.bench.voice import main

main()
