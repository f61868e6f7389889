"""The feature catalog: content from the repo, lineage from SQL, and the page in a real headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
import sqlglot

from featurekit.catalog.build import build_catalog
from featurekit.catalog.lineage import sql_tables
from support.ops_platform import ops_settings
from support.system_tools import require_tool

# Debian's chromium by default; FEATUREKIT_CHROMIUM points at another Chromium build (CI runners ship Chrome).
CHROMIUM = os.environ.get("FEATUREKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalog")
    build_catalog(ops_settings(out / "data", ""), out / "site")
    return out / "site"


def test_catalog_lists_every_feature_with_lineage_and_services(site: Path) -> None:
    data = json.loads((site / "catalog.json").read_text())
    features = {f["ref"]: f for f in data["features"]}
    assert len(features) == 23
    spend = features["user_txn_30d:spend_30d"]
    assert spend["owner"] == "risk-ml@featurekit.example"
    assert spend["dtype"] == "Float64" and spend["tier"] == "warm" and spend["schedule"] == "daily"
    assert spend["freshness_slo"] == "30h"
    assert spend["source_tables"] == ["transactions", "users"]
    assert spend["feature_services"] == ["cash_advance_v1"]
    assert spend["description"] == "Sum of debits (positive number) over 30 days."
    balance = features["user_balance_live:balance"]
    assert balance["kind"] == "stream" and balance["source_tables"] == ["balance_checks"]
    assert "kafka topic balance-events" in balance["sources"]
    ratio = features["cash_advance_ratios:amount_to_income"]
    assert ratio["kind"] == "on_demand" and ratio["schedule"] == "request"
    assert ratio["source_tables"] == ["balance_checks", "transactions", "users"]  # inherited from its inputs
    assert "request cash_advance_request" in ratio["sources"]
    assert not any(ref.endswith(":user_id") for ref in features), "join keys are not features"


def test_lineage_ignores_ctes_and_keeps_qualified_names() -> None:
    tree = sqlglot.parse_one(
        "WITH recent AS (SELECT * FROM raw.transactions) SELECT * FROM recent JOIN users u ON TRUE "
        "JOIN (SELECT user_id FROM lake.crm.accounts) a ON TRUE",
        read="athena",
    )
    assert sql_tables(tree) == ["lake.crm.accounts", "raw.transactions", "users"]


def test_catalog_page_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_tool(f"Chromium at {CHROMIUM} (or FEATUREKIT_CHROMIUM)", CHROMIUM, "chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto((site / "index.html").as_uri())
            rows = page.locator("tr.feature")
            assert rows.count() == 23
            assert page.locator("tr.feature:visible").count() == 23
            assert page.text_content("#count") == "23 of 23 features"

            page.fill("#search", "balance_source")
            assert page.locator("tr.feature:visible").count() == 1
            assert page.locator("tr.feature:visible .name").text_content() == "balance_source"
            assert page.text_content("#count") == "1 of 23 features"

            page.fill("#search", "debits 24")  # every term must match
            assert page.locator("tr.feature:visible .name").all_text_contents() == ["spend_24h"]

            page.fill("#search", "")
            page.select_option("#filter-tier", "hot")
            page.select_option("#filter-schedule", "hourly")
            assert set(page.locator("tr.feature:visible .view").all_text_contents()) == {"user_txn_24h"}
            assert page.text_content("#count") == "4 of 23 features"
            page.select_option("#filter-tier", "")

            page.fill("#search", "")
            page.select_option("#filter-schedule", "daily")
            assert page.locator("tr.feature:visible").count() == 11
            page.select_option("#filter-schedule", "")

            page.fill("#search", "no such feature anywhere")
            assert page.locator("tr.feature:visible").count() == 0
            assert page.locator("#empty").is_visible()

            page.fill("#search", "income")
            shot = tmp_path / "catalog.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert errors == []
        finally:
            browser.close()


def test_feast_cli_reads_the_registry_the_kit_applied(platform, tmp_path: Path) -> None:
    """Feast's own tooling works on our registry: ``feast -c DIR`` with the rendered feature_store.yaml reads it.

    (Feast 0.67's ``feature-views list`` and ``registry-dump`` crash on stream and python-mode on-demand views in
    any registry; the per-kind commands below are what work.)"""
    from click.testing import CliRunner
    from feast.cli.cli import cli

    from featurekit.repo.feast_config import render_feature_store_yaml

    (tmp_path / "feature_store.yaml").write_text(render_feature_store_yaml(platform.settings))

    def feast(*args: str) -> str:
        result = CliRunner().invoke(cli, ["-c", str(tmp_path), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "user_txn_30d:spend_30d" in feast("feature-services", "list")
    assert {"user_txn_1h", "user_balance_live"} <= set(feast("stream-feature-views", "list").split())
    assert "cash_advance_ratios" in feast("on-demand-feature-views", "list").split()
    assert "Sum of debits (positive number) over 30 days." in feast("feature-views", "describe", "user_txn_30d")


@pytest.mark.skipif(
    importlib.util.find_spec("grpc_health") is None,
    reason="feast ui's REST registry API imports grpc_health (grpcio-health-checking, Feast's grpcio extra), "
    "which is not in the locked environment",
)
def test_feast_ui_reads_the_registry_the_kit_applied(platform) -> None:
    """Feast's own UI server (``feast ui``) serves our registry: its REST API lists the applied views."""
    from fastapi.testclient import TestClient
    from feast.ui_server import get_app

    from featurekit.repo.feast_config import feature_store

    client = TestClient(get_app(feature_store(platform.settings), platform.settings.project))
    projects = client.get("/projects-list.json")
    assert projects.status_code == 200
    assert any(p["id"] == "cash_advance" for p in projects.json()["projects"])
    views = client.get("/api/v1/feature_views", params={"project": platform.settings.project})
    assert views.status_code == 200, views.text
    names = {v["spec"]["name"] for v in views.json()["featureViews"]}
    assert {"user_profile", "user_txn_30d", "user_txn_24h", "user_balance_live"} <= names
