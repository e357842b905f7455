# The one way to set up, demo, lint and test, locally and in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fota-poller demo --output demo-output.jsonl

lint: $(STAMP)
	$(BIN)/ruff check fota_poller tests $(wildcard bench)
	$(BIN)/ruff format --check fota_poller tests $(wildcard bench)
	$(BIN)/mypy --strict fota_poller

test: lint
	$(BIN)/python -m pytest -q

format: $(STAMP)
	$(BIN)/ruff check --fix fota_poller tests $(wildcard bench)
	$(BIN)/ruff format fota_poller tests $(wildcard bench)

# The benchmark table (bench/README.md); `make bench BENCH_ARGS=--quick` for a tiny run.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) demo-output.jsonl .mypy_cache .ruff_cache .pytest_cache
