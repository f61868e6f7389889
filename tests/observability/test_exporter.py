"""Batch-job metric export: to a real Pushgateway when one is configured, else a textfile-collector file."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from featurekit.config import load_settings
from featurekit.observability.errors import MetricsExportError
from featurekit.observability.exporter import export_job_metrics, export_metrics
from featurekit.services.ports import free_port, wait_for_port
from support.environments import environment_file
from support.system_tools import require_tool

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry shaped like the kit's: featurekit_* metrics plus a foreign one that must not be exported."""
    reg = CollectorRegistry()
    Gauge("featurekit_freshness_age_seconds", "age", ["feature_view"], registry=reg).labels("user_txn_24h").set(42)
    Counter("featurekit_materialization_failures_total", "f", ["feature_view"], registry=reg).labels("x").inc()
    Gauge("python_info_like", "not ours", registry=reg).set(1)
    return reg


@pytest.fixture
def pushgateway(tmp_path) -> Iterator[str]:
    pushgateway = require_tool("prometheus-pushgateway", PUSHGATEWAY, "prometheus-pushgateway")
    port = free_port()
    proc = subprocess.Popen(
        [pushgateway, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp_path / 'pg.data'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, 15), "pushgateway did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_textfile_export_is_atomic_and_only_featurekit(registry, tmp_path) -> None:
    directory = tmp_path / "textfile"
    result = export_metrics("materialize", {"feature_view": "user_txn_24h"}, textfile_dir=directory, registry=registry)
    assert result is not None and result.kind == "textfile"
    path = tmp_path / "textfile" / "featurekit_materialize_user_txn_24h.prom"
    assert result.target == str(path)
    text = path.read_text()
    assert 'featurekit_freshness_age_seconds{feature_view="user_txn_24h"} 42.0' in text
    assert 'featurekit_materialization_failures_total{feature_view="x"} 1.0' in text
    assert "python_info_like" not in text
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_nothing_configured_exports_nothing(registry) -> None:
    assert export_metrics("freshness", registry=registry) is None


def test_push_to_a_real_pushgateway(registry, pushgateway, tmp_path) -> None:
    environ = {"FEATUREKIT_PUSHGATEWAY_URL": pushgateway, "FEATUREKIT_DATA_DIR": str(tmp_path)}
    settings = load_settings("local", environ=environ)
    result = export_job_metrics(settings, "freshness", {"feature_view": "user_txn_24h"}, registry=registry)
    assert result is not None and result.kind == "pushgateway"
    scraped = httpx.get(f"{pushgateway}/metrics", timeout=10).text
    lines = [line for line in scraped.splitlines() if line.startswith("featurekit_freshness_age_seconds{")]
    assert len(lines) == 1
    assert 'job="featurekit_freshness"' in lines[0] and 'feature_view="user_txn_24h"' in lines[0]
    assert lines[0].endswith(" 42")
    assert "python_info_like" not in scraped


def test_unreachable_pushgateway_is_a_clear_error(registry) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsExportError, match=f"Pushgateway {url} failed"):
        export_metrics("freshness", pushgateway_url=url, registry=registry)


def test_settings_choose_the_directory_else_the_data_directory(registry, tmp_path) -> None:
    settings = load_settings("local", environ={"FEATUREKIT_DATA_DIR": str(tmp_path)})
    assert settings.metrics.pushgateway_url is None and settings.metrics.textfile_dir is None
    result = export_job_metrics(settings, "consistency", registry=registry)
    assert result is not None and result.target == str(tmp_path / "metrics" / "featurekit_consistency.prom")
    configured = environment_file(tmp_path / "env", {"metrics": {"textfile_dir": str(tmp_path / "configured")}})
    settings = load_settings(str(configured), environ={"FEATUREKIT_DATA_DIR": str(tmp_path)})
    result = export_job_metrics(settings, "consistency", registry=registry)  # the configured directory wins
    assert result is not None and result.target == str(tmp_path / "configured" / "featurekit_consistency.prom")
