"""Rule templates: short regular expressions over words, with named word lists and gaps.

A template is read word by word:

* ``{human}`` stands for the lexicon's word list of that name (an alternation);
* a space matches any run of spaces and punctuation between two words;
* ``…`` matches a gap of up to :data:`GAP_WORDS` words within the sentence;
* ``^`` and ``$`` anchor the template to the whole sentence;
* everything else is a regular expression, written in lower case without accents needed
  (accents are stripped from templates and text alike).

A rule is a template, or a tuple of templates that must all match in the same message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeAlias

from services.agent_worker.escalation.text import strip_accents

GAP_WORDS = 10
_GAP = rf"\W*(?<![\w'])(?:[\w'-]+\W+){{0,{GAP_WORDS}}}?"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SENTINEL = "\x00"

Rule: TypeAlias = str | tuple[str, ...]
Rules: TypeAlias = Mapping[str, Rule]


def expand(template: str, words: Mapping[str, str]) -> str:
    """The template with its ``{name}`` word lists put in (recursively)."""
    for _ in range(4):
        if not _PLACEHOLDER.search(template):
            return template
        template = _PLACEHOLDER.sub(lambda m: f"(?:{words[m[1]]})", template)
    raise ValueError(f"word lists nest too deep in {template!r}")


def compile_template(template: str, words: Mapping[str, str]) -> re.Pattern[str]:
    source = strip_accents(expand(template, words))
    source = re.sub(r"\s*…\s*", _SENTINEL, source.strip())
    source = re.sub(r"\s+", r"\\W+", source).replace(_SENTINEL, _GAP)
    return re.compile(rf"(?<!\w)(?:{source})(?![\w'])")


def has_gap(pattern: re.Pattern[str]) -> bool:
    """Whether the template had a ``…``: its words may be far apart."""
    return _GAP in pattern.pattern


def compile_rule(rule: Rule, words: Mapping[str, str]) -> tuple[re.Pattern[str], ...]:
    templates = (rule,) if isinstance(rule, str) else rule
    return tuple(compile_template(template, words) for template in templates)
