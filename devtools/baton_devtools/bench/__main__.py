"""``make bench`` / ``python -m baton_devtools.bench``: the voice turn, masking, idle calls."""

from baton_devtools.bench import redaction, voice, voice_sockets

voice.main()
redaction.main()
voice_sockets.main()
