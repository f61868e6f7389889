"""moto's server for tests whose code talks to S3 through boto3 (the kit's and Feast's clients): fake credentials
and a server on a free port, with the buckets a test needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

from featurekit.services.ports import free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def moto_s3(buckets: Iterable[str] = ()) -> Iterator[str]:
    """A running moto server holding ``buckets``; yields its endpoint URL and stops the server on exit."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
