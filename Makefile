# Two commands do all the set-up: `make up` runs the stack, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit bench streams docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/baton up

test: $(STAMP) lint unit

lint: $(STAMP)
	$(BIN)/ruff check baton libs services emulator tests
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m baton.bench

streams: $(STAMP)
	$(BIN)/baton streams init

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .baton

docs: $(STAMP)
	$(BIN)/python -m baton.readme_sync
