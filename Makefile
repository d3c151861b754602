# Two commands do all the set-up: `make up` runs the stack, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: up test lint unit bench chaos streams docs browser clean

$(STAMP): pyproject.toml devtools/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./devtools
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/baton up

test: $(STAMP) browser lint unit

# Headless Chromium for the agent-desktop test (Debian's package; Playwright drives it).
browser:
	test -x $(CHROMIUM) || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) || echo "chromium unavailable: the browser test will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check baton libs services devtools tests
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m baton_devtools.bench

# Customers texting a real stack while processes are killed and Twilio misbehaves; every goal
# line must read 0 (bench-results/chaos.json). `make test` runs the --quick version.
chaos: $(STAMP)
	$(BIN)/python -m baton_devtools.chaos

streams: $(STAMP)
	$(BIN)/baton streams init

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .baton

docs: $(STAMP)
	$(BIN)/python -m baton_devtools.readme_sync
