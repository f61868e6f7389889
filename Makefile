# The two set-up commands of the README: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV_RUN := uv run --frozen

.PHONY: setup demo test lint format bench-online bench-batch bench-stream clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(UV_RUN) featurekit demo

test: setup
	$(UV_RUN) ruff check .
	$(UV_RUN) pytest -q

lint: setup
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check src tests bench feature_repo dags streaming examples

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
