"""``featurekit check`` on a deliberately bad definition set: every violation names file, object and rule."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from featurekit.cli.main import app
from featurekit.repo.rules import expectation_suite_path
from support.cicd import edit


def break_definitions(repo: Path) -> None:
    edit(repo, "feature_services.py", 'name="cash_advance_v1"', 'name="cash_advance"')
    edit(repo, "feature_views/transactions.py", 'Field(name="spend_24h"', 'Field(name="spend24H"')
    edit(
        repo,
        "feature_views/transactions.py",
        '"tier": "hot", "schedule": "hourly"',
        '"tier": "hot", "schedule": "weekly"',
    )
    edit(repo, "feature_views/balances.py", '    owner="risk-ml@featurekit.example",\n', "")
    (repo / "feature_views" / "user_txn_24h.sql").unlink()
    (repo / expectation_suite_path("user_txn_30d")).unlink(missing_ok=True)
    for view in ("user_profile", "user_txn_24h"):  # only user_txn_30d lacks its suite in this test
        suite = repo / expectation_suite_path(view)
        if not suite.exists():
            suite.write_text(f"# expectation suite of {view}\n")


def test_check_names_file_object_and_rule_for_each_violation(project_copy: Path) -> None:
    repo = project_copy / "feature_repo"
    break_definitions(repo)

    result = CliRunner().invoke(app, ["check", "--env", "dev"])

    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "feature_services.py: feature service 'cash_advance': [versioned-service-name] name 'cash_advance' must end "
        "in a version such as _v1",
        "feature_views/balances.py: stream feature view 'user_balance_live': [owner-required] set owner= to the team "
        "or person answering for it",
        "feature_views/transactions.py: feature view 'user_txn_24h': [schedule-tag] tag schedule must be one of "
        "['hourly', 'daily', 'stream'], got 'weekly'",
        "feature_views/transactions.py: feature view 'user_txn_24h': [snake-case-name] feature 'spend24H' must be "
        "snake_case",
        f"feature_views/transactions.py: feature view 'user_txn_24h': [sql-athena] feature view 'user_txn_24h' has "
        f"no SQL file: expected {repo / 'feature_views' / 'user_txn_24h.sql'}",
        "feature_views/transactions.py: feature view 'user_txn_30d': [expectation-suite] add "
        "feature_views/user_txn_30d.expectations.yaml: the view's data is validated against it before it is published",
        "6 violation(s)",
    ]
