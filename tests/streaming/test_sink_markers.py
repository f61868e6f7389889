"""Per-batch completion markers live next to the query's checkpoint, on local disk or S3 (moto server)."""

from __future__ import annotations

import boto3
import pytest

from featurekit.streaming.sink import SinkMarkers


@pytest.fixture
def s3_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    from featurekit.services.ports import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="checkpoints")
    yield endpoint
    server.stop()


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
