"""The escalation evaluation: a labelled set of customer conversations and its scoring.

``make eval`` (``python -m baton_devtools.escalation_eval``) runs the embedded policy agent,
and the model agent with its guardrail when ``OPENAI_API_KEY`` is set, over the set in
``data/``, prints precision, recall and F1 and writes ``bench-results/eval.json``.
"""
