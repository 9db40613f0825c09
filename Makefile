# Two entry points for a newcomer (see README):
#   make train   - create .venv, install, train the residual policy on the small default
#   make test    - create .venv, install with test extras, run the whole test suite
#   make lint    - ruff (pyproject.toml [tool.ruff]): pyflakes, isort, line length, docstring rules; ruff format --check
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
# pytest workers (pytest-xdist; each test file runs whole on one worker, so module fixtures are built once)
TEST_WORKERS ?= 2

.PHONY: train test lint venv venv-dev clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[dev,sb3,deploy]"
	touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

train: $(VENV)/.installed
	$(PY) -m train $(ARGS)

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .jax_cache .pytest_cache
