# pix2pix course: `make train` runs the main job, `make test` runs every test.
# Both create .venv (Python 3.10-3.12) and install what they need on first use.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIX2PIX := $(VENV)/bin/pix2pix
STAMP := $(VENV)/.installed

# The first Python 3.10-3.12 on PATH (override: make PYTHON=python3.12 ...).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.10 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& echo $$p && break; done)
# TensorFlow build: the CPU-only wheel (half the download) on Linux without an NVIDIA driver,
# the regular one elsewhere (GPU machines, macOS). Override: make TF=tf ... or TF=cpu.
TF ?= $(shell if [ "$$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then echo cpu; else echo tf; fi)

DATA ?= data/synthetic_maps
RUN ?= runs/quick
PYTEST_ARGS ?=

.PHONY: install train figure test test-fast test-oldest lab lint exercises clean-venv

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Need Python 3.10, 3.11 or 3.12 on PATH (or make PYTHON=/path/to/python)." >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF),dev,teach,export]"
	$(PIX2PIX) web-runtime  # the exported web page's browser runtime, from the npm registry, once
	@touch $(STAMP)

install: $(STAMP)

## The main job: the `quick` profile on synthetic maps (generated on first use), offline,
## then its val metrics beside the baselines.
train: install
	@test -d $(DATA)/train || $(PIX2PIX) synth-maps $(DATA) --train 400 --val 50 --size 256
	$(PIX2PIX) train --data $(DATA) --profile quick --out $(RUN) $$(test -f $(RUN)/config.json && echo --resume)
	$(PIX2PIX) evaluate --run $(RUN) --data $(DATA)

## The README's results figure (docs/results.png), from the `make train` run's last sample grid.
figure: train
	$(PY) -c 'from pix2pix_lib.viz import save_results_figure as s; print(s("$(RUN)", "docs/results.png"))'

## Every test: lint, unit tests (slow ones included) and every notebook through nbval, offline.
test: install
	$(VENV)/bin/ruff check pix2pix_lib tests
	PIX2PIX_PROFILE=smoke PIX2PIX_DATASET=synthetic $(PY) -m pytest --nbval-lax --nbval-cell-timeout=600 $(PYTEST_ARGS)

## Quicker local loop: skips tests marked slow.
test-fast: install
	PIX2PIX_PROFILE=smoke PIX2PIX_DATASET=synthetic $(PY) -m pytest -m "not slow" $(PYTEST_ARGS) tests

## The fast tests on the oldest supported pair, TensorFlow 2.16.2 with Keras 3.8.0, as on an
## older cloud image (a second venv, .venv-oldest; on demand, not part of `make test`).
OLDEST_VENV ?= .venv-oldest
OLDEST_TF := $(if $(filter cpu,$(TF)),tensorflow-cpu,tensorflow)==2.16.2
test-oldest:
	@test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet "$(OLDEST_TF)" "keras==3.8.0"
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e ".[dev]"
	PIX2PIX_PROFILE=smoke PIX2PIX_DATASET=synthetic $(OLDEST_VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS) tests

## The student copies (notebooks/exercises/) from the course notebooks; a test fails when
## they are stale.
exercises: install
	$(PIX2PIX) exercises write

lab: install
	$(VENV)/bin/jupyter lab notebooks/

lint: install
	$(VENV)/bin/ruff check pix2pix_lib tests

clean-venv:
	rm -rf $(VENV)
