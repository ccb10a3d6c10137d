# The README's commands. A newcomer needs only Python 3.11+ and make (and, for `make test`,
# root or sudo once, to install PostgreSQL and Chromium from Debian if they are missing).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PASSLINE_HOME ?= $(CURDIR)/.passline

.PHONY: demo test bench lint fmt clean

$(VENV)/.base: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[sklearn,onnx]'
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
