PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint bench openapi clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set everything up and run the system on the embedded SQLite default.
run: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

## Set everything up and run the whole test suite on SQLite and PostgreSQL.
test: $(STAMP)
	./scripts/test.sh $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks migrations
	$(BIN)/ruff format --check services tests benchmarks migrations
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	./scripts/bench.sh

openapi: $(STAMP)
	$(BIN)/duban openapi

clean:
	rm -rf $(VENV) var demo.db duban.db
