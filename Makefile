# Two commands do all the set-up on a fresh machine:
#   make repro   create .venv, install the CPU build of torch when no torch is present, install the
#                project, run `dvc repro` on params.yaml (the embedded default)
#   make test    the same set-up, then lint (ruff) and the test suite
# GPU users: install the CUDA build of torch into .venv first (see README), set-up keeps it.
PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.inbol-installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup repro smoke worlds test test-fast test-e2e lint format bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# a CPU build of torch unless one is already installed: a local wheel when pip's find-links has
	@# one (then its dependencies from the usual index), else PyTorch's CPU index (PyPI's default Linux
	@# wheel is a multi-GB CUDA build)
	@$(PY) -c "import torch" 2>/dev/null \
	  || ($(PY) -m pip install -q --no-deps --no-index "$(TORCH_SPEC)" 2>/dev/null && $(PY) -m pip install -q "$(TORCH_SPEC)") \
	  || $(PY) -m pip install -q "$(TORCH_SPEC)" --index-url $(TORCH_INDEX)
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

repro: setup
	@test -d .dvc || (echo "not a DVC repository: run from the repository root" >&2; exit 2)
	$(VENV)/bin/dvc repro

# the smoke profile (configs/smoke.yaml) end to end in a temporary copy: the checkout's results stay as they are
smoke: setup
	$(PY) -m inbol.profiles configs/smoke.yaml --repro-in-copy

# the paper's claims on every world of configs/world-*.yaml (and every other pretraining run of the original
# model, configs/pretrain-*.yaml) as well as the default one (runs/worlds.md): each
# world's `dvc repro report` runs once in its own copy, runs/<world> (about as long as `make repro`; an existing
# copy is updated with `dvc repro report` there), then the verdicts are compared
WORLDS ?= $(basename $(notdir $(wildcard configs/world-*.yaml configs/pretrain-*.yaml)))
worlds: setup
	@for w in $(WORLDS); do \
	  if test -d runs/$$w; then (cd runs/$$w && PYTHONPATH=$$PWD/src $(abspath $(VENV))/bin/dvc repro report) || exit 1; \
	  else $(PY) -m inbol.profiles configs/$$w.yaml --repro-in-copy --dir runs/$$w --targets report || exit 1; fi; \
	done
	$(PY) -m inbol.worlds --run default=. $(foreach w,$(WORLDS),--run $(w)=runs/$(w)) --out runs/worlds.md

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# the tests on PYTEST_WORKERS pytest-xdist workers, one torch thread each (tests/conftest.py); the smoke
# `dvc repro` the end-to-end tests share is built once, in the background, while the other tests run.
# A selection with no tests fails (pytest's exit status 5), as does any failure.
PYTEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist load

test: lint
	$(PYTEST)

test-fast: setup
	$(PYTEST) -m "not e2e"

test-e2e: setup
	$(PYTEST) -m e2e

bench: setup
	$(PY) scripts/bench_sampling.py
	$(PY) scripts/bench_ca_dpo.py

clean-venv:
	rm -rf $(VENV)
