"""The cost tables in docs/infrastructure.md are the output of infra/terraform/cost/estimate.py, and the
model's inputs match the repository (feature counts per tier, prod node defaults)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections import Counter
from types import ModuleType

import pytest

from support.hclnorm import attr
from support.tfcode import REPO_ROOT, TF_ROOT, TerraformCode

DOC = REPO_ROOT / "docs" / "infrastructure.md"


@pytest.fixture(scope="module")
def estimate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("estimate", TF_ROOT / "cost" / "estimate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def test_doc_shows_the_model_output(estimate: ModuleType) -> None:
    doc = DOC.read_text()
    assert estimate.table(estimate.dev_lines()) in doc
    for bytes_per_entity in (estimate.STOCK_BYTES_PER_ENTITY, estimate.FEATUREKIT_BYTES_PER_ENTITY):
        for scale in estimate.SCALES:
            expected = estimate.table(estimate.prod_lines(scale, bytes_per_entity))
            assert expected in doc, f"docs/infrastructure.md is stale for {scale.label} at {bytes_per_entity} B"
    assert estimate.PRICES_AS_OF in doc
    assert "491.3 B/entity (measured, stock Feast)" in doc
    assert "205.4 B/entity (measured, featurekit)" in doc
    assert "not yet measured" not in doc and "/work/" not in doc


def test_sizing_formula(estimate: ModuleType) -> None:
    expected = 1_000_000 * 426.5 * (10 / 20) * 1.25 / 0.75 / 1024**3
    assert estimate.tier_gib(1_000_000, 426.5, "hot") == pytest.approx(expected)
    assert estimate.FEATUREKIT_BYTES_PER_ENTITY <= 0.5 * estimate.STOCK_BYTES_PER_ENTITY
    # More bytes per entity never buys a smaller node.
    small, _ = estimate.pick(estimate.HOT_LADDER, estimate.tier_gib(50_000_000, 213, "hot"), tiered=False)
    large, _ = estimate.pick(estimate.HOT_LADDER, estimate.tier_gib(50_000_000, 426.5, "hot"), tiered=False)
    assert estimate.HOT_LADDER.index(small) < estimate.HOT_LADDER.index(large)
    node, shards = estimate.pick(estimate.WARM_LADDER, 1000.0, tiered=True)
    assert node.startswith("cache.r6gd.") and shards >= 2


def _features_per_tier() -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted((REPO_ROOT / "feature_repo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if func not in ("FeatureView", "StreamFeatureView"):
                continue
            kwargs = {k.arg: k.value for k in node.keywords}
            tags = {  # the literal entries (tags may also unpack the kit's tag helpers)
                k.value: v.value
                for k, v in zip(kwargs["tags"].keys, kwargs["tags"].values, strict=True)  # type: ignore[attr-defined]
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
            fields = [
                next(k.value.value for k in f.keywords if k.arg == "name")
                for f in kwargs["schema"].elts  # type: ignore[attr-defined]
            ]
            counts[tags["tier"]] += len([f for f in fields if f != "user_id"])
    return counts


def test_tier_feature_counts_match_the_feature_repo(estimate: ModuleType) -> None:
    assert dict(_features_per_tier()) == estimate.TIER_FEATURES


def test_prod_defaults_are_the_nodes_the_model_picks_at_50m_measured(estimate: ModuleType, tf: TerraformCode) -> None:
    prod = tf.envs["prod"]
    need = {t: estimate.tier_gib(50_000_000, estimate.FEATUREKIT_BYTES_PER_ENTITY, t) for t in ("hot", "warm")}
    hot, _ = estimate.pick(estimate.HOT_LADDER, need["hot"], tiered=False)
    warm, _ = estimate.pick(estimate.WARM_LADDER, need["warm"], tiered=True)
    assert attr(prod.variables["redis_hot_node_type"], "default") == hot
    assert attr(prod.variables["redis_warm_node_type"], "default") == warm
