"""``make eval``: the policy agent over the set, and the model agent when one is configured.

Prints each agent's figures and writes them to ``bench-results/eval.json``. Exits 1 when
the policy agent misses a target, so CI can run it as a gate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from baton_devtools.escalation_eval.dataset import Item, load
from baton_devtools.escalation_eval.report import Report
from baton_devtools.escalation_eval.runner import run
from libs.platform.settings import load_settings
from services.agent_worker.main import default_setup
from services.agent_worker.policy_agent import PolicyAgent
from services.agent_worker.settings import AgentWorkerSettings
from services.agent_worker.tac import TAC

DEFAULT_OUTPUT = Path("bench-results/eval.json")


async def evaluate(
    *, with_model: bool, concurrency: int = 4, items: list[Item] | None = None
) -> list[Report]:
    """The policy agent's report, then the model agent's (with its guardrail) if asked."""
    items = items if items is not None else load()
    reports = [Report("policy", await run(PolicyAgent(TAC()), items))]
    if with_model:
        settings = load_settings(AgentWorkerSettings)
        setup = default_setup(settings)
        outcomes = await run(
            setup.agent, items, summarizer=setup.summarizer, concurrency=concurrency
        )
        reports.append(Report(f"model ({settings.baton_llm_model}) with guardrail", outcomes))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baton_devtools.escalation_eval")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="model requests in flight at once"
    )
    arguments = parser.parse_args(argv)
    with_model = AgentWorkerSettings().openai_api_key is not None
    reports = asyncio.run(evaluate(with_model=with_model, concurrency=arguments.concurrency))
    for report in reports:
        print("\n".join(report.lines()), end="\n\n")
    if not with_model:
        print("OPENAI_API_KEY is not set: the model agent was not evaluated.")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"agents": [report.as_dict() for report in reports]}
    arguments.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"written {arguments.output}")
    return 1 if reports[0].missed_targets else 0
