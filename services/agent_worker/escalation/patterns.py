"""Rule templates: short regular expressions over words, with named word lists and gaps.

A template is read word by word:

* ``{human}`` stands for the lexicon's word list of that name (an alternation);
* a space matches any run of spaces and punctuation between two words;
* ``…`` matches a gap of up to :data:`GAP_WORDS` words within the sentence;
* ``^`` and ``$`` anchor the template to the whole sentence;
* everything else is a regular expression, written in lower case without accents needed
  (accents are stripped from templates and text alike).

A rule is a template, or a tuple of templates that must all match in the same message.
A compiled :class:`Template` is only run over a sentence that holds one of the literals
its matches need (see :mod:`~services.agent_worker.escalation.literals`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from services.agent_worker.escalation.literals import LiteralIndex, Literals, required_literals
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


@dataclass(frozen=True, eq=False)
class Template:
    """A compiled template, run only over text holding one of the literals it needs."""

    regex: re.Pattern[str]
    needs: Literals | None
    """Literals one of which every match contains (``None``: always run)."""

    @classmethod
    def of(cls, regex: re.Pattern[str]) -> Template:
        template = cls(regex, required_literals(regex))
        SCREEN.add(template, template.needs)
        return template

    @property
    def has_gap(self) -> bool:
        """Whether the template had a ``…``: its words may be far apart."""
        return _GAP in self.regex.pattern

    def may_match(self, text: str) -> bool:
        return self in SCREEN.candidates(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.regex.finditer(text) if self.may_match(text) else iter(())

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text) if self.may_match(text) else None


SCREEN: LiteralIndex[Template] = LiteralIndex()
"""Every template of every lexicon: one pass over a sentence screens them all."""


def compile_template(template: str, words: Mapping[str, str]) -> Template:
    source = strip_accents(expand(template, words))
    source = re.sub(r"\s*…\s*", _SENTINEL, source.strip())
    source = re.sub(r"\s+", r"\\W+", source).replace(_SENTINEL, _GAP)
    return Template.of(re.compile(rf"(?<!\w)(?:{source})(?![\w'])"))


def compile_rule(rule: Rule, words: Mapping[str, str]) -> tuple[Template, ...]:
    templates = (rule,) if isinstance(rule, str) else rule
    return tuple(compile_template(template, words) for template in templates)
