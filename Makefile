# secmon: `make demo` shows it working, `make test` proves it. Each brings up what it needs:
# .venv, and for the tests the services scripts/services.sh installs (Debian, as root) and starts.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
# What `services` brings up: all the test suite talks to; targets that need less say so below.
SERVICES := redis postgresql rsyslog chromium

.PHONY: install demo test test-fast lint bench load services clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { PYTHON=$(PYTHON) scripts/services.sh venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/secmon demo

test: services $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The e2e tests are the ones that start rsyslog and Chromium.
test-fast: SERVICES := redis postgresql
test-fast: services $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench example_projects
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

load: SERVICES := redis
# callgrind counts the adapters' instructions per request.
bench: SERVICES := redis valgrind
bench: services $(STAMP)
	$(BIN)/python bench/run.py

load: services $(STAMP)
	$(BIN)/python bench/load.py

# Quick and silent when all is there; one line saying what to run where it cannot help.
services:
	@scripts/services.sh $(SERVICES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist demo-output
