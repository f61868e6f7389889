"""Bad monitoring tags are refused in CI (the repo rules), naming the view and the tag, before a DAG run can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

from featurekit.config.loader import project_root
from featurekit.repo.loader import load_repo
from featurekit.repo.rules import check_repo
from support.monitoring_history import monitoring_settings


def test_bad_monitoring_tags_name_the_view_and_the_tag(tmp_path: Path) -> None:
    repo_dir = tmp_path / "feature_repo"
    shutil.copytree(project_root() / "feature_repo", repo_dir, ignore=shutil.ignore_patterns("__pycache__"))
    profile = repo_dir / "feature_views" / "profile.py"
    text = profile.read_text().replace('"slices": "state"', '"slices": "region", "drift_reference": "weekly", '
                                       '"drift_threshold": "high"')  # fmt: skip
    profile.write_text(text)
    settings = monitoring_settings(tmp_path / "data").model_copy(update={"feature_repo": repo_dir})

    found = [str(v) for v in check_repo(load_repo(settings)) if v.rule == "monitoring-tags"]

    prefix = "feature_views/profile.py: feature view 'user_profile': [monitoring-tags] "
    assert found == [  # sorted, as check_repo reports them
        prefix + "slice column 'region' (tag slices) must be a field of the view, output by its SQL",
        prefix + "tag drift_reference='weekly' must be 'rolling:N' or 'pinned:P1,P2,...'",
        prefix + "tag drift_threshold='high' must be a number",
    ]
