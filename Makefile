# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv/ in the repo when it is missing and install the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lsgh-ee-installed

.PHONY: demo test lint bench mutation clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lsgh-ee demo --out runs/demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check lsgh_ee tests bench
	$(BIN)/ruff format --check lsgh_ee tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_terrain.py
	$(BIN)/python bench/bench_heatmap.py
	@test ! -f bench/bench_mapping.py || $(BIN)/python bench/bench_mapping.py

# Mutation testing of the core modules with mutmut (not in CI; about 25 minutes on 2 cores).
# What is mutated and which tests run: [tool.mutmut] in pyproject.toml. Starts afresh each
# time, then prints the score per module (tests/mutation_score.py).
mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation_score.py

clean:
	rm -rf runs test-artifacts bench/results mutants
