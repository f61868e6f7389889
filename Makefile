# The two set-up commands of the README: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
# uv as scripts/bootstrap.sh finds or installs it: its own virtual environment under the user's data directory, else
# uv on PATH, else ~/.local/bin/uv (uv's installer). Expanded when a recipe runs, i.e. after `setup` installed it.
FEATUREKIT_UV_ENV := $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/featurekit/uv
UV = $(firstword $(wildcard $(FEATUREKIT_UV_ENV)/bin/uv) $(shell command -v uv) $(wildcard $(HOME)/.local/bin/uv) uv)
UV_RUN = $(UV) run --frozen
# The suite runs east of UTC so that code depending on the host's time zone fails in CI, not in production.
TEST_TZ ?= Asia/Tokyo

.PHONY: setup mwaa-airflow demo test lint typecheck format bench-online bench-batch bench-stream clean

setup:
	@bash scripts/bootstrap.sh

# The Airflow version MWAA runs, in its own venv, for tests/orchestration/test_mwaa_airflow.py (cached; seconds when unchanged).
mwaa-airflow: setup
	@UV="$(UV)" bash scripts/mwaa_airflow_env.sh

demo: setup
	$(UV_RUN) featurekit demo

# `make test` is the lint (ruff, formatting, mypy) and then the whole suite; CI runs exactly this.
test: lint mwaa-airflow
	TZ=$(TEST_TZ) $(UV_RUN) pytest -q

lint: setup
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check src tests bench feature_repo dags streaming examples
	$(UV_RUN) mypy

# Type checking alone (configuration in pyproject.toml: strict on config/, online_store/, serving/).
typecheck: setup
	$(UV_RUN) mypy

format: setup
	$(UV_RUN) ruff format src tests bench feature_repo dags streaming examples
	$(UV_RUN) ruff check --fix .

bench-online: setup
	$(UV_RUN) featurekit bench online --json bench/results/online.json

bench-batch: setup
	$(UV_RUN) featurekit bench batch --json bench/results/batch.json

bench-stream: setup
	$(UV_RUN) featurekit bench stream --json bench/results/stream.json

clean:
	rm -rf data/local bench/results .pytest_cache
