# Two commands do all the set-up on a machine with only Python 3.11+ and make:
#   make demo   build the lake from data/sample and show it
#   make test   run the test suite
# Both create the environment themselves (uv, pinned by uv.lock) on first use.

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --locked

.DEFAULT_GOAL := help
.PHONY: help demo test lint dagster bench-ingest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

demo: .venv/.synced ## build the lake from data/sample and show what it holds
	$(RUN) tracelake demo --lake lake

test: .venv/.synced ## run the test suite
	$(RUN) pytest

lint: .venv/.synced ## ruff over the code
	$(RUN) ruff check src pipelines tests benchmarks

dagster: .venv/.synced ## the Dagster UI on the sample plant (http://127.0.0.1:3000)
	mkdir -p .dagster_home && cp pipelines/dagster.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(RUN) dagster dev -m tracelake_pipelines.definitions

bench-ingest: .venv/.synced ## ingest benchmark: 100,000-unit plant against a raw DuckDB load
	$(RUN) python benchmarks/ingest.py

clean: ## remove the lake and the environment
	rm -rf lake .venv $(TOOLS) .dagster_home
