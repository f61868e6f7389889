"""Per-batch completion markers live next to the query's checkpoint, on local disk or S3 (moto server)."""

from __future__ import annotations

import boto3
import pytest

from featurekit.streaming.sink import SinkMarkers


@pytest.mark.parametrize("scheme", ["s3", "s3a"])
def test_markers_on_s3(s3_endpoint, scheme):
    markers = SinkMarkers(f"{scheme}://checkpoints/{scheme}-prod/user_balance_live")  # moto keeps state per process
    assert not markers.done(7)
    markers.mark(7, {"online_rows": 3})
    assert markers.done(7) and not markers.done(8)
    listing = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="checkpoints", Prefix=scheme)
    files = [k["Key"] for k in listing["Contents"] if not k["Key"].endswith("/")]  # pyarrow adds directory markers
    assert files == [f"{scheme}-prod/user_balance_live/featurekit-sink/000000000007.json"]


def test_markers_on_local_disk_are_pruned(tmp_path):
    markers = SinkMarkers(str(tmp_path / "q"))
    for batch in range(0, 251):
        markers.mark(batch, {})
    kept = sorted(p.name for p in (tmp_path / "q" / "featurekit-sink").iterdir())
    assert kept[0] == "000000000050.json" and kept[-1] == "000000000250.json"
