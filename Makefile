# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv/ in the repo when it is missing and install the project into it, with
# the exact versions of requirements/lock-py311.txt on Python 3.11 (the supported Python;
# another Python installs from pyproject.toml's ranges, with a warning).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lsgh-ee-installed
LOCK := requirements/lock-py311.txt
UV_VERSION := 0.13.9

.PHONY: demo test lint bench lock serving-env mutation clean

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK) && \
		$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . ; \
	else \
		echo "warning: $$($(BIN)/python -V) is not the locked Python 3.11: installing from pyproject.toml's ranges"; \
		$(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e ".[dev]" ; \
	fi
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

# Refresh the lock after changing dependencies in pyproject.toml (needs the package index).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--universal --generate-hashes --no-header -o $(LOCK)

# TensorFlow 2.15, the version of Vertex AI's newest prebuilt serving container, in its own
# environment: tests/test_hosted_prediction.py loads our SavedModel export in it (CI makes it;
# without it that one test is skipped with its reason).
SERVING := .venv-serving
serving-env: $(SERVING)/bin/python

$(SERVING)/bin/python:
	$(PYTHON) -m venv $(SERVING)
	$(SERVING)/bin/python -m pip install --quiet tensorflow-cpu==2.15.1 numpy==1.26.4

# Mutation testing of the core modules with mutmut (not in CI; about 25 minutes on 2 cores).
# What is mutated and which tests run: [tool.mutmut] in pyproject.toml. Starts afresh each
# time, then prints the score per module (tests/mutation_score.py).
mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation_score.py

clean:
	rm -rf runs test-artifacts bench/results mutants
