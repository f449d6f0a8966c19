PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install run demo test lint bench bench-components bench-load fuzz openapi lock clean

LOCK := constraints.txt
LOCK_ARGS ?=

# The pinned versions in $(LOCK) are the ones CI tested; a fresh install resolves to exactly them.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set everything up and run the system on the embedded SQLite default.
run: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

## The demo plan in var/demo.db, served on a clock inside the plan's period (no webhook).
demo: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh demo

## Set everything up and run the whole test suite on SQLite and PostgreSQL.
test: $(STAMP)
	./scripts/test.sh $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks migrations
	$(BIN)/ruff format --check services tests benchmarks migrations
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

## The benchmark suite (benchmarks/run.py): county data, each workload beside its bare limit.
bench: $(STAMP)
	./scripts/bench.sh $(BENCH_ARGS)

## The per-component benchmarks (benchmarks/bench_*.py).
bench-components: $(STAMP)
	./scripts/bench.sh components

## The sustained mixed load (benchmarks/load.py): 64 clients, 10 minutes; it loads the machine.
bench-load: $(STAMP)
	./scripts/bench.sh load $(BENCH_ARGS)

## The long runs of the fuzz tests (docs/reliability.md): Schemathesis for every role on both
## databases with the coverage phase and every conformance check, and the assignment state machine
## with 200 examples. Tune with DUBAN_FUZZ_EXAMPLES, DUBAN_FUZZ_SEED, DUBAN_STATEFUL_EXAMPLES.
FUZZ_WORKERS ?= 2
fuzz: $(STAMP)
	DUBAN_ENVIRONMENT=test DUBAN_FUZZ=long $(BIN)/pytest -n $(FUZZ_WORKERS) -q -s \
		tests/api/test_fuzz_openapi.py tests/api/test_assignment_state_machine.py

openapi: $(STAMP)
	$(BIN)/duban openapi

## Re-pin $(LOCK) after changing dependencies in pyproject.toml (keeps existing pins where it can;
## `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed), then reinstall.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet -c $(LOCK) uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet \
		--custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)
	$(MAKE) install

clean:
	rm -rf $(VENV) var demo.db duban.db
