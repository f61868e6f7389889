"""The Athena path against the emulator: moto (S3, Glue) plus the DuckDB-backed Athena front.

A temp project gets a ``config/emulated.yaml`` environment whose warehouse and offline store are Athena; the same
generated warehouse is also loaded into a local DuckDB file, so every test can compare the two paths.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from examples.cash_advance.warehouse import Warehouse, WarehouseSpec, generate
from featurekit.config import Settings, load_settings
from featurekit.warehouse.load import load_duckdb
from support.airflow_session import configure_dags
from support.athena_emulator import AthenaEmulator
from support.batch_project import END, REPO_ROOT

BUCKET = "featurekit-test-offline"
WORKGROUP = "featurekit-test"
RESULTS = f"s3://{BUCKET}/athena-results/"


@pytest.fixture(scope="session")
def athena() -> Iterator[AthenaEmulator]:
    emulator = AthenaEmulator().start()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in emulator.env.items():
            patch.setenv(key, value)
        emulator.create_bucket(BUCKET)
        emulator.add_workgroup(WORKGROUP, RESULTS)
        yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def warehouse() -> Warehouse:
    return generate(WarehouseSpec(users=120, days=5, end=END.replace(tzinfo=None), seed=5))


@dataclass
class TwoPaths:
    athena: Settings
    local: Settings
    emulator: AthenaEmulator


@pytest.fixture
def paths(
    athena: AthenaEmulator, warehouse: Warehouse, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TwoPaths]:
    """Fresh databases and prefixes per test; the same warehouse behind both environments."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "data")
    for name in ("config", "feature_repo"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=ignore)
    suffix = tmp_path.name.replace("-", "_").lower()[-40:]
    warehouse_db, offline_db = f"warehouse_{suffix}", f"offline_{suffix}"
    emulated = yaml.safe_load((root / "config" / "local.yaml").read_text())
    emulated["provider"] = "aws"
    emulated["warehouse"] = {
        "type": "athena", "database": warehouse_db, "workgroup": WORKGROUP, "results_location": RESULTS,
        "region": "us-east-1",
    }  # fmt: skip
    emulated["offline_store"] = {
        "type": "athena", "s3_root": f"s3://{BUCKET}/{suffix}/offline", "database": offline_db,
        "workgroup": WORKGROUP, "results_location": RESULTS, "region": "us-east-1",
    }  # fmt: skip
    (root / "config" / "emulated.yaml").write_text(yaml.safe_dump(emulated))
    configure_dags(root)
    monkeypatch.setenv("FEATUREKIT_ROOT", str(root))
    monkeypatch.setenv("FEATUREKIT_REDIS_URL", redis_url)
    athena_data, local_data = tmp_path / "athena", tmp_path / "local"
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(athena_data))
    athena_settings = load_settings("emulated")
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(local_data))
    local_settings = load_settings("local")

    athena.create_database(warehouse_db)
    for name, table in warehouse.tables().items():
        athena.put_table(warehouse_db, name, table, f"s3://{BUCKET}/{suffix}/warehouse/{name}/")
    load_duckdb(warehouse, local_settings.warehouse.path)
    yield TwoPaths(athena=athena_settings, local=local_settings, emulator=athena)
    assert athena.unparseable == [], "the kit sent SQL that does not parse as Athena SQL"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.airflow_session import start_airflow

    base = tmp_path_factory.mktemp("airflow")
    return start_airflow(base / "home", base / "cache")
