# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv/ in the repo when it is missing and install the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lsgh-ee-installed

.PHONY: demo test lint bench clean

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

clean:
	rm -rf runs test-artifacts bench/results
