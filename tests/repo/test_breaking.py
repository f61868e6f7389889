"""The breaking-change gate: each rule is caught with its reason, blocks apply (nothing written), and passes with
``allow_breaking``."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurekit.repo.apply import BreakingChangeError, apply_repo, plan_repo
from featurekit.repo.loader import load_repo
from support.cicd import IN_MAIN_CI, edit, registry_etag

TXN = "feature_views/transactions.py"


def remove_spend_30d(repo: Path) -> None:
    edit(
        repo,
        TXN,
        '        Field(name="spend_30d", dtype=Float64, '
        'description="Sum of debits (positive number) over 30 days."),\n',
        "",
    )


def rename_spend_30d(repo: Path) -> None:
    edit(repo, TXN, 'Field(name="spend_30d", dtype=Float64', 'Field(name="debit_30d", dtype=Float64')


def retype_txn_count_30d(repo: Path) -> None:
    edit(repo, TXN, 'Field(name="txn_count_30d", dtype=Int64', 'Field(name="txn_count_30d", dtype=Float64')


VIEW_FILES = ("feature_views/profile.py", TXN, "feature_views/balances.py")


def retype_user(repo: Path) -> None:
    edit(repo, "entities.py", "value_type=ValueType.INT64", "value_type=ValueType.STRING")
    for view_file in VIEW_FILES:  # the views' join-key columns follow the entity, as they must
        edit(repo, view_file, 'Field(name="user_id", dtype=Int64', 'Field(name="user_id", dtype=String', count=-1)
    edit(repo, TXN, "from feast.types import Float64, Int64\n", "from feast.types import Float64, Int64, String\n")


def rekey_user(repo: Path) -> None:
    edit(repo, "entities.py", 'join_keys=["user_id"]', 'join_keys=["customer_id"]')
    for view_file in VIEW_FILES:
        edit(repo, view_file, 'Field(name="user_id"', 'Field(name="customer_id"', count=-1)


def shrink_ttl_24h(repo: Path) -> None:
    edit(repo, TXN, "ttl=timedelta(hours=3)", "ttl=timedelta(minutes=30)")


def drop_service(repo: Path) -> None:
    edit(
        repo,
        "feature_services.py",
        'cash_advance_v1 = FeatureService(\n    name="cash_advance_v1"',
        'cash_advance_v2 = FeatureService(\n    name="cash_advance_v2"',
    )


CASES = {
    "feature removed": (
        remove_spend_30d,
        [
            "feature service 'cash_advance_v1': [feature-removed] serves user_txn_30d.spend_30d, "
            "which is removed from the view"
        ],
    ),
    "feature renamed": (
        rename_spend_30d,
        [
            "feature service 'cash_advance_v1': [feature-removed] serves user_txn_30d.spend_30d, "
            "which is removed from the view (renamed to 'debit_30d'?)"
        ],
    ),
    "dtype changed": (
        retype_txn_count_30d,
        [
            "feature service 'cash_advance_v1': [dtype-changed] serves user_txn_30d.txn_count_30d as Int64, "
            "which changes to Float64"
        ],
    ),
    "entity key renamed": (
        rekey_user,
        [
            "entity 'user': [entity-key-changed] join key changes from 'user_id' to 'customer_id'; "
            "every stored row is keyed by it"
        ],
    ),
    "entity key type changed": (
        retype_user,
        [
            "entity 'user': [entity-key-changed] join key type changes from INT64 to STRING; "
            "every stored row is keyed by it"
        ],
    ),
    "ttl below need": (
        shrink_ttl_24h,
        [
            "feature service 'cash_advance_v1': [ttl-below-need] reads user_txn_24h, whose ttl shrinks from 3h "
            "to 30m, below the 2h it needs (freshness_slo 2h)"
        ],
    ),
    "service deleted": (
        drop_service,
        [
            "feature service 'cash_advance_v1': [feature-removed] the feature service is deleted while models may "
            "still read it"
        ],
    ),
}


@pytest.fixture
def baseline(make_env):
    """The unchanged repo applied to a fresh prod registry."""
    prod = make_env("prod")
    apply_repo(prod, load_repo(prod), ci_ref=IN_MAIN_CI)
    return prod


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_change_is_caught_then_allowed(case, baseline, make_env, feature_repo_copy, s3) -> None:
    change, expected = CASES[case]
    change(feature_repo_copy)
    prod = make_env("prod", feature_repo_copy, registry=baseline.registry.path)
    before = registry_etag(s3, prod)

    plan = plan_repo(prod)
    assert [str(b) for b in plan.breaking] == expected
    assert plan.blocked
    assert "❌" in plan.to_markdown() and expected[0].split("] ", 1)[1] in plan.to_markdown()

    with pytest.raises(BreakingChangeError) as caught:
        apply_repo(prod, load_repo(prod), ci_ref=IN_MAIN_CI)
    assert expected[0] in str(caught.value)
    assert registry_etag(s3, prod) == before, "a blocked apply must not write the registry"

    allowed = apply_repo(prod, load_repo(prod), ci_ref=IN_MAIN_CI, allow_breaking=True)
    assert allowed.applied and [str(b) for b in allowed.plan.breaking] == expected
    assert registry_etag(s3, prod) != before
    assert plan_repo(prod).summary == "no changes"


def test_compatible_changes_pass_the_gate(baseline, make_env, feature_repo_copy) -> None:
    # Longer ttl, a new feature, a dtype change on a view no service reads are all compatible.
    edit(feature_repo_copy, TXN, "ttl=timedelta(hours=3)", "ttl=timedelta(hours=6)")
    edit(
        feature_repo_copy,
        TXN,
        '        Field(name="income_1h", dtype=Float64, description="Sum of credits in the sliding last hour."),\n',
        '        Field(name="income_1h", dtype=Float64, description="Sum of credits in the sliding last hour."),\n'
        '        Field(name="max_debit_1h", dtype=Float64, description="Largest debit in the sliding last hour."),\n',
    )
    prod = make_env("prod", feature_repo_copy, registry=baseline.registry.path)
    plan = plan_repo(prod)
    assert plan.has_changes and plan.breaking == []
