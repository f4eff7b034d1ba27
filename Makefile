# chainrule: `make demo` runs `chainrule train` (an MLP on the digits), `make test` runs lint + tests (what CI runs),
# `make bench` prints the engine benchmark. The virtual environment is created on first use.

PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip install --quiet
# PyTorch is the reference oracle of some tests: pinned, never unpinned. Extra pip arguments
# (e.g. --index-url https://download.pytorch.org/whl/cpu for the small CPU wheel) go here.
TORCH_PIN := torch==2.13.0
TORCH_PIP_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test bench venv

$(VPY):
	$(PY) -m venv $(VENV)

venv: $(VPY)

demo: $(VPY)
	$(PIP) -e '.[train]'
	$(VENV)/bin/chainrule train

test: $(VPY)
	$(PIP) -e '.[test]'
	$(PIP) '$(TORCH_PIN)' $(TORCH_PIP_ARGS) || echo "warning: could not install $(TORCH_PIN) (PyTorch reference oracle); tests that need it are skipped"
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	# One BLAS thread per test worker: two workers on two cores with two BLAS threads each
	# oversubscribe the CPU, and OpenBLAS's spinning threads then slow small matmuls 40-fold.
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(VPY) -m pytest -q -n 2

bench: $(VPY)
	$(PIP) -e .
	$(PIP) '$(TORCH_PIN)' $(TORCH_PIP_ARGS) || echo "warning: could not install $(TORCH_PIN); the torch columns are skipped"
	$(VPY) benchmarks/bench_engine.py $(BENCH_ARGS)
