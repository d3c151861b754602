# Two commands do all the set-up: `make up` runs the stack, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: up test test-e2e lint unit bench eval chaos streams docs monitoring browser promtool clean mutate mutate-survivors

$(STAMP): pyproject.toml devtools/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./devtools
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/baton up

test: $(STAMP) browser promtool lint unit test-e2e

# Headless Chromium for the agent-desktop test (Debian's package; Playwright drives it).
browser:
	test -x $(CHROMIUM) || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) || echo "chromium unavailable: the browser test will be skipped"

# promtool (Debian's prometheus package) checks the alert rules and runs their unit tests.
promtool:
	command -v promtool || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus) || echo "promtool unavailable: the alert rule tests will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check baton libs services devtools tests examples
	$(BIN)/mypy

# The suite mostly waits on real processes (NATS, services, sockets), so it runs in more
# workers than there are cores; each worker starts its own NATS server. A server named by
# NATS_URL is shared, and the tests reset its streams: then the suite runs in one process.
TEST_WORKERS ?= $(if $(NATS_URL),0,4)

unit: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS)

# docker-compose.yml end to end: builds the images, brings the stack up, hands a text and a
# call to a human. Where no Docker engine answers it is skipped, with the reason on one line.
test-e2e: $(STAMP)
	$(BIN)/pytest -q -rs -m e2e tests/e2e

bench: $(STAMP)
	$(BIN)/python -m baton_devtools.bench

# Mutation testing (cosmic-ray) of the invariant modules against their unit tests: prints the
# score per module and every surviving mutant; bench-results/mutation.json. Not part of `make test`.
# `make mutate-survivors` tries only the last run's survivors again, once tests were added.
mutate: $(STAMP)
	$(BIN)/python -m baton_devtools.mutation .

mutate-survivors: $(STAMP)
	$(BIN)/python -m baton_devtools.mutation . --survivors

# Escalation decisions on the labelled set (and the model's, when OPENAI_API_KEY is set).
eval: $(STAMP)
	$(BIN)/python -m baton_devtools.escalation_eval

# Customers texting a real stack while processes are killed and Twilio misbehaves; every goal
# line must read 0 (bench-results/chaos.json). `make test` runs the --quick version.
chaos: $(STAMP)
	$(BIN)/python -m baton_devtools.chaos

streams: $(STAMP)
	$(BIN)/baton streams init

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .baton

docs: $(STAMP) monitoring
	$(BIN)/python -m baton_devtools.readme_sync

# The monitoring component's PrometheusRule and dashboard ConfigMap, from deploy/observability/.
monitoring: $(STAMP)
	$(BIN)/python -m baton_devtools.monitoring_sync
