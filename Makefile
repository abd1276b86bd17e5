# Set-up is idempotent: the venv is made once, and the install re-runs only when
# pyproject.toml or constraints.txt changed (the stamp file records the last install).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tenfold-installed
SCALE ?= small
OUT ?= out
# Two workers match the two cores CI has; each test process keeps torch to one thread.
PYTEST_WORKERS ?= 2

.PHONY: setup test reproduce lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch goes first and is pinned by constraints.txt, so no later requirement can pull
# a multi-GB CUDA build; everything else comes with the project's [all] extra.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[all]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15

reproduce: setup
	MPLBACKEND=Agg $(BIN)/tenfold reproduce --all --scale $(SCALE) --output $(OUT)

lint: setup
	$(BIN)/ruff check src tests benchmarks

# Each benchmark is a script that prints ratios against a baseline run in the same process.
bench: setup
	set -e; for script in benchmarks/*/bench_*.py; do echo "== $$script"; OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/python $$script; done

clean:
	rm -rf $(OUT) .pytest_cache build *.egg-info
