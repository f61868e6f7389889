"""``featurekit cicd demo``, the documented local run of the branch-to-prod path, works end to end."""

from __future__ import annotations

import io

from rich.console import Console

from featurekit.demo.cicd import run_cicd_demo
from featurekit.repo.plan import PLAN_COMMENT_MARKER


def test_cicd_demo_plans_and_applies_dev_and_prod(tmp_path, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("FEATUREKIT_REDIS_URL", redis_url)
    out = io.StringIO()
    run_cicd_demo(Console(file=out, width=200), workdir=tmp_path / "work", comments_dir=tmp_path / "comments")
    text = out.getvalue()
    assert "applied to dev project cash_advance_pr1: 17 to add" in text
    assert "refused: environment 'prod' is protected" in text
    assert "applied to prod: 0 to add, 2 to change, 0 to remove" in text
    assert "re-apply: no changes (applied=False)" in text
    assert "[dtype-changed] serves user_txn_30d.txn_count_30d as Int64, which changes to Float64" in text
    assert "torn down cash_advance_pr2" in text and text.rstrip().endswith("plan -> apply")
    first = (tmp_path / "comments" / "pr1-plan-prod.md").read_text()
    assert first.startswith(PLAN_COMMENT_MARKER) and "+ feature max_credit_24h: Float64" in first
    assert "❌ 1 breaking change(s) block this PR" in (tmp_path / "comments" / "pr2-plan-prod.md").read_text()
    assert (tmp_path / "work" / "dev" / "registry.db").is_file() and (
        tmp_path / "work" / "prod" / "registry.db"
    ).is_file()
