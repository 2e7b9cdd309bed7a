# dfmask: two commands do everything on a fresh machine: `make book`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dfmask-installed
PEERS_STAMP := $(VENV)/.dfmask-peers-installed

# Keep every tool's cache inside the project's ignored folders.
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export IPYTHONDIR := $(CURDIR)/.cache/ipython
export JUPYTER_CONFIG_DIR := $(CURDIR)/.cache/jupyter
export JUPYTER_DATA_DIR := $(CURDIR)/.cache/jupyter-data
export XDG_CACHE_HOME := $(CURDIR)/.cache
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export TORCHINDUCTOR_CACHE_DIR := $(CURDIR)/.cache/torchinductor
export GDAL_PAM_ENABLED := NO
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup test test-slow book book-smoke book-check bench clean

setup: $(STAMP)

# Idempotent: reinstalls only when the pins change.
$(STAMP): pyproject.toml
	mkdir -p .cache
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[book,test,scale]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

# The optional learned peers (the `peers` extra), for the book only: the book skips a peer
# that is missing, so a failed install is reported, not fatal (and retried next time).
$(PEERS_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[book,test,scale,peers]" && touch $(PEERS_STAMP) || \
		echo "note: the optional peers did not install; the book will skip them"

test: setup
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest -m slow

# `make book PROFILE=path/to/my.yml` renders the book on your own scenes.
book: setup $(PEERS_STAMP)
	$(BIN)/python -m dfmask_lib.book --profile $(or $(PROFILE),default)

book-smoke: setup
	$(BIN)/python -m dfmask_lib.book --profile smoke

# Open the built book in headless Chromium (a system chromium or chromium-headless-shell) at
# desktop and phone width: screenshots in book/_build/screenshots, problems listed, exit 1 if any.
book-check: setup
	$(BIN)/pip install -q -e ".[book,test,scale,browser]"
	$(BIN)/python -m dfmask_lib.bookcheck book/_build/html --executed book/executed \
		--browser book/_build/screenshots

bench: setup
	$(BIN)/python benchmarks/fmask_tile.py
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/predict_tile.py
	$(BIN)/python benchmarks/compare_tile.py

clean:
	rm -rf book/_build book/executed .pytest_cache data/generated
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
