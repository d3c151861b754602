"""The languages Baton's escalation rules read, one module each; every message is read by all."""

from __future__ import annotations

from services.agent_worker.escalation.languages import de, en, es, fr, pt
from services.agent_worker.escalation.lexicon import Lexicon

LEXICONS: tuple[Lexicon, ...] = (en.LEXICON, es.LEXICON, fr.LEXICON, de.LEXICON, pt.LEXICON)
