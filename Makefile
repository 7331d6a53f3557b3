# The README's two commands are `make run` and `make test`. Each creates .venv and installs
# what it needs the first time (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint typecheck pytest bench clean

run: $(VENV)/.installed-run
	$(BIN)/veorelay serve

test: $(VENV)/.installed-dev check pytest

check: lint typecheck

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	scripts/postgres-up
	scripts/chromium-up
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
