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
.PHONY: help demo test e2e chromium postgres dashboard lint dagster bench bench-ingest bench-dashboards bench-sites \
        bench-genealogy bench-find bench-records bench-readers bench-epcis bench-cli clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	@# --compile-bytecode: .pyc files written once here, not compiled again at every start of
	@# `tracelake` when Python may not write them (PYTHONDONTWRITEBYTECODE): ~0.7 s of `--help`
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	@touch $@

demo: .venv/.synced ## build the lake from data/sample, show what it holds, open the dashboards
	$(RUN) tracelake demo --lake lake

dashboard: .venv/.synced ## the dashboards on ./lake (http://localhost:8501)
	$(RUN) tracelake dashboard --lake lake

# The storage tests run a second time with every lake on DuckLake (PostgreSQL catalog + S3),
# against servers the run starts itself (tests/scaleout/servers.py) and stops.
SCALEOUT_TESTS := tests/test_ingest.py tests/test_genealogy.py tests/test_records.py tests/test_asof.py
# One pytest worker per core (pytest-xdist), a test file's tests on one worker (module fixtures
# are built once); each worker starts servers of its own. WORKERS=0 runs in one process.
WORKERS ?= auto
test: .venv/.synced chromium postgres ## run the test suite: library, AppTest and browser (e2e) tests, then the storage tests on PostgreSQL + S3
	$(RUN) pytest -n $(WORKERS) --dist loadfile
	$(RUN) pytest -n $(WORKERS) --dist loadfile --lake-mode scaleout $(SCALEOUT_TESTS)

e2e: .venv/.synced chromium ## only the browser tests (the dashboards in headless Chromium)
	$(RUN) pytest -m e2e tests/e2e

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM_PACKAGES := chromium fonts-dejavu-core
chromium: ## make sure Chromium is installed for the browser tests (apt-get, as root)
	@if [ -n "$$TRACELAKE_CHROMIUM" ] && [ -x "$$TRACELAKE_CHROMIUM" ]; then :; \
	elif command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(CHROMIUM_PACKAGES) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(CHROMIUM_PACKAGES); \
	else \
		echo "the browser tests need Chromium: run 'sudo apt-get install -y $(CHROMIUM_PACKAGES)'" \
			"(or set TRACELAKE_CHROMIUM to a Chromium binary), then 'make test' again" >&2; \
		exit 1; \
	fi

# The scale-out tests start a throwaway PostgreSQL (initdb/pg_ctl as the postgres user).
postgres: ## make sure PostgreSQL's server programs are installed for the scale-out tests (apt-get, as root)
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing postgresql for the scale-out tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends postgresql; \
	else \
		echo "the scale-out tests need PostgreSQL's server: run 'sudo apt-get install -y postgresql'," \
			"then 'make test' again" >&2; \
		exit 1; \
	fi

lint: .venv/.synced ## ruff over the code, and the library's import contracts (import-linter)
	$(RUN) ruff check src pipelines tests benchmarks dashboards
	$(RUN) lint-imports --no-cache

dagster: .venv/.synced ## the Dagster UI on the sample plant (http://127.0.0.1:3000)
	mkdir -p .dagster_home && cp pipelines/dagster.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(RUN) python -m tracelake_pipelines.dev

bench: ## list the benchmarks (each: one command, a printed table, a same-run baseline)
	@grep -E '^bench-[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'
	@echo "  (each is benchmarks/<name>.py; --help lists its arguments; results in benchmarks/.work/)"

bench-ingest: .venv/.synced ## ingest benchmark: 100,000-unit plant against a raw DuckDB load
	$(RUN) python benchmarks/ingest.py

bench-sites: .venv/.synced postgres ## three site writers at once vs one (DuckLake), and a 1 % run: embedded vs DuckLake
	$(RUN) python benchmarks/sites.py $(SITES_ARGS)

bench-dashboards: .venv/.synced ## time every dashboard page on the sample and a 100,000-unit plant
	$(RUN) python benchmarks/dashboards.py

bench-readers: .venv/.synced ## 200 MB TestStand and JUnit reports into a lake, beside a plain lxml iterparse
	$(RUN) python benchmarks/readers.py

bench-genealogy: .venv/.synced ## trace queries beside a recursive CTE, rustworkx, networkx (TIERS=S,adv,M)
	$(RUN) --group bench python benchmarks/genealogy.py --tiers $(or $(TIERS),S,adv)

bench-find: .venv/.synced ## tracelake find beside ILIKE scans on the genealogy plants (TIERS=S,M)
	$(RUN) --group bench python benchmarks/find.py --tiers $(or $(TIERS),S)

bench-cli: .venv/.synced ## tracelake --help, sql, find, trace: start times beside import duckdb
	$(RUN) python benchmarks/cli.py

bench-records: .venv/.synced ## a ~500-unit batch record to PDF and HTML beside plain fpdf2
	$(RUN) python benchmarks/records.py

bench-epcis: .venv/.synced ## EPCIS export of 25,000-, 100,000- and 200,000-unit plants beside a plain JSON dump
	$(RUN) python benchmarks/epcis.py

clean: ## remove the lake and the environment
	rm -rf lake .venv $(TOOLS) .dagster_home
