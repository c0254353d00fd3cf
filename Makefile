# The two commands: `make demo` and `make test`. Both create .venv from the lock if missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export MLFLOW_ENABLE_TELEMETRY := false

.PHONY: demo test install ui lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/e2e-assets demo

# mypy over the package, then the suite on every core (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n auto --durations=15

ui: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/.e2e/dagster $(BIN)/dagster dev -w workspace.yaml

# Refresh the lock from a fresh resolve of pyproject.toml (then run make test before committing).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^e2e-assets' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf .e2e .pytest_cache
