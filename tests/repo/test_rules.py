"""An invalid feature definition is refused with the file, the object and the rule it breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from featurekit.config.loader import project_root
from featurekit.repo.apply import RepoRuleError, checked_repo
from featurekit.repo.loader import load_repo
from featurekit.repo.rules import check_repo


def test_example_repo_passes_every_rule(offline_settings) -> None:
    assert check_repo(load_repo(offline_settings)) == []


@pytest.fixture
def broken_repo(tmp_path: Path, make_settings):
    repo_dir = tmp_path / "feature_repo"
    shutil.copytree(project_root() / "feature_repo", repo_dir, ignore=shutil.ignore_patterns("__pycache__"))
    profile = repo_dir / "feature_views" / "profile.py"
    text = profile.read_text()
    text = text.replace('    owner="risk-ml@featurekit.example",\n', "", 1)
    text = text.replace("ttl=timedelta(days=3)", "ttl=timedelta(0)")
    text = text.replace('"tier": "warm"', '"tier": "lukewarm"')
    profile.write_text(text)
    settings = make_settings(tmp_path / "data").model_copy(update={"feature_repo": repo_dir})
    return settings


def test_bad_definitions_name_file_object_and_rule(broken_repo) -> None:
    with pytest.raises(RepoRuleError) as caught:
        checked_repo(broken_repo)
    messages = [str(v) for v in caught.value.violations]
    assert messages == [
        "feature_views/profile.py: feature view 'user_profile': [owner-required] "
        "set owner= to the team or person answering for it",
        "feature_views/profile.py: feature view 'user_profile': [tier-tag] "
        "tag tier must be one of ['hot', 'warm'], got 'lukewarm'",
        "feature_views/profile.py: feature view 'user_profile': [ttl-required] "
        "set ttl= so stale values expire online and point-in-time joins are bounded",
    ]
