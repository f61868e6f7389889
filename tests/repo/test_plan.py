"""``plan`` against an environment's registry in S3: exactly the changes made to the repo, nothing else."""

from __future__ import annotations

import json

from featurekit.repo.apply import apply_repo, plan_repo
from featurekit.repo.loader import load_repo
from featurekit.repo.plan import PLAN_COMMENT_MARKER
from support.cicd import IN_MAIN_CI, edit, registry_etag


def test_first_plan_adds_everything_and_reapply_is_a_no_op(make_env, s3) -> None:
    prod = make_env("prod")
    plan = plan_repo(prod)
    assert plan.summary == "17 to add, 0 to change, 0 to remove"
    added = {(o.kind, o.name) for o in plan.objects}
    assert ("feature service", "cash_advance_v1") in added and ("entity", "user") in added
    assert registry_etag(s3, prod) is None, "plan must not write"

    first = apply_repo(prod, load_repo(prod), ci_ref=IN_MAIN_CI)
    assert first.applied
    etag = registry_etag(s3, prod)
    assert etag is not None

    again = apply_repo(prod, load_repo(prod), ci_ref=IN_MAIN_CI)
    assert not again.applied and again.plan.summary == "no changes"
    assert registry_etag(s3, prod) == etag, "re-applying the same repo must not write the registry"


def test_plan_of_an_edited_repo_shows_exactly_the_edits(make_env, feature_repo_copy) -> None:
    baseline = make_env("prod")
    apply_repo(baseline, load_repo(baseline), ci_ref=IN_MAIN_CI)

    repo = feature_repo_copy
    # A new feature on the hourly view, a longer ttl on the profile, a tier move and a new v2 service.
    edit(
        repo,
        "feature_views/transactions.py",
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n',
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
        '        Field(name="max_credit_24h", dtype=Float64, description="Largest single credit over 24 hours."),\n',
    )
    edit(repo, "feature_views/profile.py", "ttl=timedelta(days=3)", "ttl=timedelta(days=5)")
    edit(
        repo,
        "feature_views/transactions.py",
        '"tier": "warm", "schedule": "daily"',
        '"tier": "hot", "schedule": "daily"',
    )
    with (repo / "feature_services.py").open("a") as out:
        out.write(
            "\ncash_advance_v2 = FeatureService(\n"
            '    name="cash_advance_v2",\n'
            '    features=[user_profile, user_txn_30d[["income_30d", "spend_30d"]]],\n'
            '    description="Slimmer vector for the v2 model.",\n'
            '    owner="risk-ml@featurekit.example",\n'
            ")\n"
        )
    edited = make_env("prod", repo, registry=baseline.registry.path)

    plan = plan_repo(edited)

    assert [(o.action, o.kind, o.name, [str(c) for c in o.changes]) for o in plan.objects] == [
        ("change", "feature view", "user_profile", ["~ ttl: 3d -> 5d"]),
        ("change", "feature view", "user_txn_24h", ["+ feature max_credit_24h: Float64"]),
        ("change", "feature view", "user_txn_30d", ["~ tags.tier: warm -> hot"]),
        ("change", "feature service", "cash_advance_v1", ["+ serves user_txn_24h.max_credit_24h: Float64"]),
        (
            "add",
            "feature service",
            "cash_advance_v2",
            [
                "+ serves user_profile.account_age_days: Int64",
                "+ serves user_profile.age_years: Int64",
                "+ serves user_profile.declared_monthly_income: Float64",
                "+ serves user_profile.employment_type: String",
                "+ serves user_profile.pay_frequency: String",
                "+ serves user_profile.state: String",
                "+ serves user_txn_30d.income_30d: Float64",
                "+ serves user_txn_30d.spend_30d: Float64",
                "+ description: Slimmer vector for the v2 model.",
                "+ owner: risk-ml@featurekit.example",
            ],
        ),
    ]
    assert plan.summary == "1 to add, 4 to change, 0 to remove"
    assert plan.breaking == [] and not plan.blocked

    document = json.loads(plan.to_json())
    assert document["summary"] == {"add": 1, "change": 4, "remove": 0}
    assert document["objects"][0] == {
        "kind": "feature view",
        "name": "user_profile",
        "action": "change",
        "changes": [{"attribute": "ttl", "before": "3d", "after": "5d"}],
    }

    markdown = plan.to_markdown()
    assert markdown.startswith(PLAN_COMMENT_MARKER + "\n### featurekit plan: `prod` (project `cash_advance`)")
    assert "| 🟡 change | feature view | `user_profile` | ~ ttl: 3d -> 5d |" in markdown
    assert "✅ no breaking changes" in markdown
