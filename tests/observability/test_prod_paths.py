"""The prod shape of the checks: registry and offline store in S3 (moto's server, the AWS boundary), real Redis.

The offline partitions and materialization records of the local test platform are copied to the prod layout in S3
and the repo is applied to an S3 registry with the real ``prod`` environment file; freshness and consistency must
then read the same answers through S3 as they do from local disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow.fs as pafs
import pytest

from featurekit.config import Settings, load_settings
from featurekit.observability.consistency import check_consistency
from featurekit.observability.freshness import OK, check_freshness
from featurekit.offline.storage import offline_location
from support.moto_s3 import AWS_ENV, moto_s3
from support.ops_platform import USERS

BATCH = ["user_profile", "user_txn_30d", "user_txn_24h"]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with (
        moto_s3(["featurekit-prod-registry", "featurekit-prod-offline"]) as endpoint,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            env.setenv(key, value)
        yield endpoint


@pytest.fixture(scope="module")
def prod(platform, s3_endpoint: str) -> Settings:
    from featurekit.repo.apply import apply_repo

    tier = {"url": platform.redis_url, "username": None, "password": None}
    settings = load_settings(
        "prod",
        environ={"FEATUREKIT_REDIS_PASSWORD": "unused"},
        overrides={
            "data_dir": str(platform.settings.data_dir / "prod"),
            "registry": {
                "path": f"s3://featurekit-prod-registry/{uuid.uuid4().hex[:8]}/registry.pb",
                "protected": False,
            },
            "online_store": {"tiers": {"hot": tier, "warm": tier}},
        },
    )
    apply_repo(settings)
    local, remote = offline_location(platform.settings.offline_store), offline_location(settings.offline_store)
    files = local.fs.get_file_info(pafs.FileSelector(local.base, recursive=True))
    for info in files:
        if info.type == pafs.FileType.File:
            relative = info.path[len(local.base) + 1 :]
            pafs.copy_files(
                info.path, remote.path(relative), source_filesystem=local.fs, destination_filesystem=remote.fs
            )
    return settings


def test_freshness_reads_records_and_partitions_from_s3(prod, platform) -> None:
    report = check_freshness(prod, views=BATCH)
    assert [v.status for v in report.views] == [OK, OK, OK], [v.detail for v in report.views]
    hourly = next(v for v in report.views if v.view == "user_txn_24h")
    assert hourly.last_materialization is not None and hourly.last_materialization.interval_end == platform.end
    assert hourly.newest_online == platform.end


def test_consistency_reads_the_offline_store_in_s3(prod) -> None:
    report = check_consistency(prod, views=BATCH, sample=USERS, seed=3)
    for view in report.views:
        assert view.compared == view.matched == USERS, view
        assert "last materialization record" in view.note
