#!/usr/bin/env bash
# The MWAA-version Airflow for tests/orchestration/test_mwaa_airflow.py: a second virtual environment, .venv-mwaa-airflow,
# with exactly the pins of infra/mwaa/requirements.txt (the Airflow that Terraform's `airflow_version` deploys, and
# its dependencies as of that release). The kit itself is not installed there: the DAG files find it on PYTHONPATH
# and their tasks run in the main .venv, as on MWAA (docs/deploy.md, "Runtimes").
#
# Python 3.11, not MWAA's 3.12: the machines this runs on have no 3.12 (the divergence is declared and bounded in
# tests/infra/test_runtime_versions.py and docs/deploy.md, "Runtimes").
#
# Idempotent and cached: rebuilt only when the requirements file changed (its SHA-256 is stamped in the venv);
# uv's cache makes a rebuild cheap. UV names the uv to use (the Makefile passes its own), else uv on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

uv="${UV:-uv}"
requirements=infra/mwaa/requirements.txt
venv=.venv-mwaa-airflow
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
echo "building $venv from $requirements"
"$uv" venv --quiet --clear --python 3.11 "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps -r "$requirements"
echo "$want" >"$stamp"
