"""Alert rules and the Grafana dashboard as code: they parse, they fire when they should, they name real metrics.

``promtool`` (Debian's ``prometheus`` package) checks and unit-tests the rules when it is installed; the schema
checks below run everywhere, so this file always verifies something.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import featurekit.metrics  # noqa: F401 - registers every featurekit_* metric
from support.system_tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "featurekit-rules.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "featurekit-rules.test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "featurekit-overview.json"
RUNBOOK = ROOT / "docs" / "operations.md"
REQUIRED_ALERTS = {
    "FeatureViewOutOfFreshnessSLO",
    "StreamDeadLetterRateHigh",
    "MaterializationFailing",
    "ServingLatencyOverBudget",
}
PROMTOOL = shutil.which("promtool")
METRIC = re.compile(r"\bfeaturekit_[a-z0-9_]+")


def defined_series() -> set[str]:
    """Every series name the kit exports (histograms and counters with their suffixes)."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("featurekit_"):
            continue
        names.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [])
        names.update(family.name + s for s in suffixes)
    return names


def referenced_metrics(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = require_tool("promtool", PROMTOOL, "prometheus")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120,
                          cwd=RULE_TESTS.parent)  # fmt: skip
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_every_required_alert_exists_is_unit_tested_and_has_a_runbook() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) >= REQUIRED_ALERTS
    tested = {case["alertname"] for t in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in t.get("alert_rule_test", [])}  # fmt: skip
    assert set(alerts) <= tested, f"alerts without a promtool unit test: {set(alerts) - tested}"
    anchors = {_anchor(line) for line in RUNBOOK.read_text().splitlines() if line.startswith("#")}
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/operations.md#{name.lower()}", url
        assert name.lower() in anchors, f"docs/operations.md has no section '{name}'"


def test_rules_only_use_metrics_the_kit_exports() -> None:
    known = defined_series()
    recorded = {r["record"] for r in rules() if "record" in r}
    for rule in rules():
        for metric in referenced_metrics(rule["expr"]):
            assert metric in known, f"{rule.get('alert') or rule.get('record')}: unknown metric {metric}"
        for name in re.findall(r"\bfeaturekit:[a-z0-9_:]+", rule["expr"]):
            assert name in recorded, f"unknown recording rule {name}"


def test_dashboard_is_valid_grafana_json_over_known_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "feature_view"} <= variables
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    known = defined_series()
    covered = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for metric in referenced_metrics(target["expr"]):
                assert metric in known, f"panel {panel['title']!r}: unknown metric {metric}"
                covered.add(metric)
    # the dashboard shows every moving part the issue names
    for needed in ("featurekit_serving_request_seconds_bucket", "featurekit_materialization_rows_total",
                   "featurekit_stream_input_rows_total", "featurekit_stream_batch_seconds_bucket",
                   "featurekit_stream_dead_letters_total", "featurekit_freshness_age_seconds",
                   "featurekit_consistency_mismatch_ratio"):  # fmt: skip
        assert needed in covered, needed


def test_schema_checks_catch_a_broken_rule(tmp_path) -> None:
    """The schema checks are not vacuous: an alert on a metric nobody exports is reported."""
    broken = {"alert": "Typo", "expr": "featurekit_freshnes_age_seconds > 1"}
    assert referenced_metrics(broken["expr"]) - defined_series() == {"featurekit_freshnes_age_seconds"}
    if PROMTOOL:
        path = tmp_path / "broken.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "X", "expr": "sum(("}]}]}))
        check = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert check.returncode != 0


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, spaces to dashes, punctuation dropped."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-")
