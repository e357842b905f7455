# The one way to set up, demo, lint and test, locally and in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions (with hashes) the tests run with: runtime, and runtime plus dev tools.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# The lock names no index: `pip install` uses the machine's own pip configuration.
# pip-tools lives in its own venv, so that it is never part of what the lock describes.
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2
# `make lock` moves every pin to the newest version pyproject.toml admits;
# `make lock LOCK_ARGS=` only re-resolves what pyproject.toml changed.
LOCK_ARGS ?= --upgrade
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	$(LOCK_ARGS)

.PHONY: demo test lint lock lock-check format bench clean

# A new lock is a new venv: installing over the old one would keep what the lock dropped.
# The project itself goes in editable, without its dependencies and with the hatchling
# the lock pins, so nothing is resolved outside the lock.
$(STAMP): pyproject.toml $(DEV_LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Refresh both lock files from pyproject.toml; the runtime lock takes the dev lock's
# versions, so production runs exactly what the tests ran.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
		($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet $(PIP_TOOLS))
	$(PIP_COMPILE) --extra dev -o $(DEV_LOCK) pyproject.toml
	$(PIP_COMPILE) -c $(DEV_LOCK) -o $(LOCK) pyproject.toml

# `pip freeze` of .venv against the dev lock, names normalised (PEP 503): any line is a
# difference, and fails.
NORMALISE := awk -F'==' '/^[A-Za-z0-9]/ { n = tolower($$1); gsub(/[-_.]+/, "-", n); \
	sub(/[ ;\\].*/, "", $$2); print n "==" $$2 }' | sort
lock-check: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | $(NORMALISE) > $(VENV)/freeze.txt
	cat $(DEV_LOCK) | $(NORMALISE) > $(VENV)/lock.txt
	diff $(VENV)/lock.txt $(VENV)/freeze.txt && echo "lock-check: .venv is $(DEV_LOCK)"

demo: $(STAMP)
	$(BIN)/fota-poller demo --output demo-output.jsonl

lint: $(STAMP)
	$(BIN)/ruff check fota_poller tests $(wildcard bench)
	$(BIN)/ruff format --check fota_poller tests $(wildcard bench)
	$(BIN)/mypy --strict fota_poller

test: lint lock-check
	$(BIN)/python -m pytest -q -n 2

format: $(STAMP)
	$(BIN)/ruff check --fix fota_poller tests $(wildcard bench)
	$(BIN)/ruff format fota_poller tests $(wildcard bench)

# The benchmark table (bench/README.md); `make bench BENCH_ARGS=--quick` for a tiny run.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) demo-output.jsonl .mypy_cache .ruff_cache .pytest_cache
