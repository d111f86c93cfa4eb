# deepdojo: two set-up commands, `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt
SCALE ?= quick
SITE ?= site

.PHONY: demo test lint bench clean system-deps

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned so that no dependency can pull a CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

# The demo shows real results for the molecule and text labs: RDKit and the sentence encoder.
$(VENV)/.installed-demo: $(VENV)/.installed
	$(PIP) -e '.[chem,text]'
	touch $@

# Tests run every optional path: all extras, and the system programs the browser and database
# tests start (installed with apt only when missing; see tools/ensure-system-deps.sh).
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[dev,chem,onnx,text,distributed]'
	touch $@

system-deps:
	bash tools/ensure-system-deps.sh

demo: $(VENV)/.installed-demo
	$(VENV)/bin/deepdojo run --all --scale $(SCALE) --jobs 2
	$(VENV)/bin/deepdojo report --out $(SITE)

# Two test workers on two cores: one BLAS/OpenMP thread each, or torch's spinning threads
# oversubscribe the cores and small models train up to ~70x slower.
# --durations=20: each issue states the test time it adds.
test: $(VENV)/.installed-test system-deps
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile --durations=20

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests bench

bench: $(VENV)/.installed
	for f in bench/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) runs $(SITE) .pytest_cache
