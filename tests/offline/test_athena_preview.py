"""The plan's data preview reads dev's warehouse through Athena (the emulator here) and finds what DuckDB finds."""

from __future__ import annotations

from featurekit.quality.preview import view_figures
from featurekit.repo.loader import load_repo
from support.batch_project import DAY


def test_preview_through_athena_equals_local(paths) -> None:
    view = load_repo(paths.local).view("user_profile")
    folder = paths.local.feature_repo / "feature_views"
    sql, suite = (folder / "user_profile.sql").read_text(), (folder / "user_profile.expectations.yaml").read_text()

    remote = view_figures(paths.athena, view, sql, suite, DAY)
    local = view_figures(paths.local, view, sql, suite, DAY)

    assert remote.error is None and remote.rows == local.rows > 0
    assert remote.entities == local.entities and remote.features == local.features
    assert remote.suite == local.suite and remote.suite["passed"] is True
    assert any("LIMIT 100001" in s for s in paths.emulator.statements if "users" in s)  # the row bound reached Athena
