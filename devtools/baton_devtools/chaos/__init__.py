"""``make chaos``: customers texting a real stack while its processes and Twilio misbehave.

On a real nats-server and the Twilio emulator, with every service a process of its own, each
scenario breaks one thing (worker replicas SIGKILLed, dispatchers SIGKILLed, nats-server
killed or restarted, Studio and Messages answering 429, 500, late or not at all) while
customers text, and counts what they got: every line of goals must read 0 — nothing lost,
nothing doubled, no customer told "failed" while a person has their task, no bot reply after
a handoff, no dead letter. ``--quick`` is the short run ``make test`` includes. Results go to
``bench-results/chaos.json``.
"""
