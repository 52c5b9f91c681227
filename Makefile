# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test test-thorough lint typecheck pytest demo bench clean sandbox-down

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/asynccopy sandbox install
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# The property tests only, with random examples (kept in .hypothesis/) and 20 times as many as
# the derandomized `ci` profile `make test` runs: see tests/hypothesis_profiles.py.
test-thorough: install
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest -m hypothesis

demo: install
	$(BIN)/python -m asynccopy.sandbox.demo

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

sandbox-down:
	-$(BIN)/asynccopy sandbox down

clean: sandbox-down
	rm -rf $(VENV) .sandbox .mypy_cache .ruff_cache .pytest_cache
