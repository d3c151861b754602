"""``make bench`` / ``python -m baton_devtools.bench``: the voice turn, then masking."""

from baton_devtools.bench import redaction, voice

voice.main()
redaction.main()
