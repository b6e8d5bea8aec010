# The README's two commands are `make demo` and `make test`; each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENRICH_HOME ?= $(CURDIR)/runtime
export ENRICH_HOME

.PHONY: install demo test test-dbt lint bench bench-100x torture postgres browser clean adapter-test install-test adapter-suite adapter-suite-ci

$(BIN)/enrich: pyproject.toml setup.py adapters/dbt-chdb/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the dbt adapter is a package of its own (adapters/dbt-chdb); the project requires it by name,
	# so it goes in first, editable, from its folder
	$(BIN)/pip install --quiet -e ./adapters/dbt-chdb
	# editable: `enrich` runs the dbt project of this checkout (a wheel carries a copy, setup.py)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/enrich

## The main job on the embedded engine: seed the reference dataset, run Steps D and E, print the gates.
demo: install
	$(BIN)/enrich seed --scale reference
	$(BIN)/enrich run --step all --fresh

## The whole test suite: Python tests (they also run dbt's unit and data tests) against real chDB and Postgres.
## Three workers on two cores, a test file each, longest files first (hooks/tests/conftest.py): a file's
## tests share its warehouse, and a third worker runs while the others wait on signals, leases and
## child processes (measured on a quiet 2-core machine: 410 s against 476 s with two).
test: install postgres browser
	$(BIN)/pytest -q -n 3 --dist loadfile

lint: install
	$(BIN)/ruff check hooks bench adapters

## Not in make test (a minute or two each, needs the package index): installs as a user would, into
## fresh virtual environments outside the checkout. adapter-test: adapters/dbt-chdb, then a two-model
## project with `type: chdb`. install-test: that, then the wheels of dbt-chdb and this project, and
## `enrich seed`, `run`, `gates`, `export`, `report` and `dbt` from a directory that is not the checkout.
adapter-test: install
	$(BIN)/pytest -q -p no:cacheprovider adapters/dbt-chdb/tests

install-test: install
	$(BIN)/pytest -q -p no:cacheprovider adapters/dbt-chdb/tests hooks/install_tests

## dbt-clickhouse's adapter test suite against `type: chdb`, one process per module (chDB opens one
## data path per process); rewrites adapters/dbt-chdb/SUITE.md. Fails only on a failure that
## adapters/dbt-chdb/suite/reasons.py does not explain. About 40 minutes on 2 cores.
adapter-suite: install
	$(BIN)/pip install --quiet -e './adapters/dbt-chdb[suite]'
	$(BIN)/python adapters/dbt-chdb/suite/run.py --write adapters/dbt-chdb/SUITE.md

## Its fast subset: the basic, incremental, materialized-view and snapshot classes (25 tests, about
## 130 s on 2 cores; the package index only for dbt-tests-adapter's first install).
adapter-suite-ci: install
	$(BIN)/pip install --quiet -e './adapters/dbt-chdb[suite]'
	$(BIN)/python adapters/dbt-chdb/suite/run.py --subset ci

## MAKE_TEST_SECONDS=<wall seconds of a make test on this machine> records it for its target.
## Ends with issue 19's refresh scenarios at reference and 10x (bench/refresh.py; alone:
## python -m bench --only refresh --scales reference,10x [--scenarios day,...]).
bench: install postgres
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(if $(MAKE_TEST_SECONDS),--make-test-seconds $(MAKE_TEST_SECONDS))

## Not in CI: seeds 100x (reused when seeded; HOME_100X=<path> for a home elsewhere) and runs it end to
## end once, then the refresh scenarios day, resolutions and nothing; its figures join
## bench/results.json under "100x", compared with make bench's 10x.
bench-100x: install postgres
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench --100x $(if $(HOME_100X),--home-100x $(HOME_100X))

## Not in CI: 4 lease-takeover episodes (a runner paused past its lease, a second one taking over), then
## 100 random SIGKILLs over reference-scale runs, restarting only with --resume (about an hour).
torture: install postgres
	POSTGRES_URL=$${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/python -m bench.torture --kills 100 --scale reference --takeovers 4

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1

## The report's test (hooks/tests/test_report.py) drives a real headless Chromium: Debian's chromium and
## chromedriver, installed once when absent (the package lists fetched only if the install needs them).
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null; }; }

clean:
	rm -rf runtime target logs build dist
