PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/default.yaml

.PHONY: venv run test bench clean

$(BIN)/spanlens-pipeline: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/spanlens-pipeline

run: venv
	$(BIN)/spanlens-pipeline run --config $(CONFIG)

test: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/otlp_ingest.py

clean:
	rm -rf $(VENV) data
