PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/default.yaml

.PHONY: venv run test bench clean redis-server

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

# The rate-limit tests start a real Redis server.
redis-server:
	@command -v redis-server >/dev/null || apt-get install -y redis-server

test: venv tests/node/node_modules redis-server
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/otlp_ingest.py

clean:
	rm -rf $(VENV) data
