"""``make eval`` / ``python -m baton_devtools.escalation_eval``."""

from baton_devtools.escalation_eval.cli import main

raise SystemExit(main())
