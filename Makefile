PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/default.yaml

.PHONY: venv run test lint bench clean deps screenshots redis-server

$(BIN)/spanlens-pipeline: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/spanlens-pipeline

run: venv
	$(BIN)/spanlens-pipeline run --config $(CONFIG)

tests/node/node_modules: tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund
	touch $@

# Debian's chromium for the web page tests (Playwright drives it; it downloads no browser).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The rate-limit tests start a real Redis server.
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)

deps: venv tests/node/node_modules $(CHROMIUM) redis-server

test: deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# mypy sees the installed layout (receivers/ etc. as spanlens_pipeline.<kind>) through a tree of symlinks.
TYPECHECK := build/typecheck/spanlens_pipeline
lint: venv
	$(BIN)/ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	for f in spanlens_pipeline/* receivers processors exporters extensions; do ln -s "$(CURDIR)/$$f" $(TYPECHECK)/; done
	$(BIN)/mypy

# Load generators need the bench extra; BENCH_ARGS e.g. --duration 60, or --soak 600.
bench: venv
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/otlp_ingest.py $(BENCH_ARGS)

screenshots: deps
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) data
