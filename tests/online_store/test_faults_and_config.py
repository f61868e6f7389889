"""Faults (Redis killed mid-write), connection configuration (TLS, ACL, missing URL) and Redis Cluster mode."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pytest
import redis
from pydantic import SecretStr

from featurekit.online_store.config import RedisTierConfig, TieredRedisOnlineStoreConfig
from featurekit.online_store.connection import connection_settings, ssl_context
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError, TierNotConfiguredError
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.services.redis_server import RedisServer
from support.online_store_views import repo_config, user_rows, user_view


def _snapshot(url: str) -> dict[bytes, dict[bytes, bytes]]:
    client = redis.Redis.from_url(url)
    try:
        return {k: client.hgetall(k) for k in client.scan_iter()}
    finally:
        client.close()


def test_redis_killed_mid_write_fails_clearly_and_a_rerun_reaches_the_clean_end_state(tmp_path, now):
    ids = np.arange(300_000)
    table = user_rows(ids, at=now)
    view = user_view("big_view")
    with RedisServer.start() as server:
        cfg = repo_config(tmp_path, server.url)
        store = TieredRedisOnlineStore()
        written: list[int] = []
        errors: list[BaseException] = []

        def write() -> None:
            try:
                store.write_arrow(cfg, view, table, progress=written.append)
            except BaseException as exc:
                errors.append(exc)

        store.write_arrow(cfg, view, user_rows([0], at=now - timedelta(minutes=1)))  # warm up connection/script
        thread = threading.Thread(target=write)
        thread.start()
        deadline = time.monotonic() + 30
        while not written and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        server.kill()
        thread.join(timeout=60)
        assert not thread.is_alive()
        if not errors:
            pytest.skip("the write finished before Redis could be killed (machine too fast for this table size)")
        assert isinstance(errors[0], RedisUnavailableError)
        message = str(errors[0])
        assert "big_view" in message and "stopped after" in message and "rerun" in message
        assert 0 < sum(written) < len(ids)

        server.restart()
        # Same store object: pooled connections died with the old server; the rerun reconnects by itself.
        assert store.write_arrow(cfg, view, table) == len(ids)
        rerun = _snapshot(server.url)
        store.close()

    with RedisServer.start() as clean:
        cfg = repo_config(tmp_path, clean.url)
        store = TieredRedisOnlineStore()
        store.write_arrow(cfg, view, table)
        assert _snapshot(clean.url) == rerun
        store.close()


def test_missing_url_names_the_setting_and_variable(tmp_path):
    with pytest.raises(TierNotConfiguredError, match=r"online_store\.tiers\.hot\.url.*FEATUREKIT_REDIS_URL"):
        connection_settings("hot", RedisTierConfig(url=""))


def test_unknown_tier_tag_names_the_view_and_tiers(config, store, now):
    with pytest.raises(OnlineStoreError, match=r"'odd_view'.*tier='cold'.*hot, warm"):
        store.write_arrow(config, user_view("odd_view", tier="cold"), user_rows([1], at=now))


def test_tls_url_with_acl_user_and_password_from_config(tmp_path):
    ca = tmp_path / "ca.pem"
    cfg = RedisTierConfig(
        url="rediss://redis.example.internal:6380/2",
        username="featurekit",
        password=SecretStr("s3cret"),
        ssl_ca_certs=str(ca),
        socket_timeout_s=0.5,
    )
    s = connection_settings("warm", cfg)
    assert (s.host, s.port, s.db, s.tls) == ("redis.example.internal", 6380, 2, True)
    assert (s.username, s.password, s.ssl_ca_certs, s.timeout_s) == ("featurekit", "s3cret", str(ca), 0.5)
    assert "s3cret" not in s.describe()


def test_tls_context_verifies_certificates_and_hostnames():
    s = connection_settings("hot", RedisTierConfig(url="rediss://cache.example:6379"))
    import ssl

    ctx = ssl_context(s)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_credentials_in_url_are_used_when_config_has_none():
    s = connection_settings("hot", RedisTierConfig(url="redis://app:p%40ss@10.0.0.5:7000"))
    assert (s.username, s.password, s.port, s.tls) == ("app", "p@ss", 7000, False)


def test_password_from_environment_through_feature_store_yaml(tmp_path, monkeypatch, redis_url):
    """Feast expands ${VAR} in feature_store.yaml, so secrets stay in the environment."""
    from feast.repo_config import load_repo_config

    monkeypatch.setenv("FK_TEST_REDIS_PASSWORD", "from-env")
    (tmp_path / "feature_store.yaml").write_text(
        "project: fktest\nprovider: local\nregistry: registry.db\nentity_key_serialization_version: 3\n"
        "online_store:\n  type: featurekit.online_store.store.TieredRedisOnlineStore\n"
        f"  tiers:\n    warm:\n      url: {redis_url}\n      password: ${{FK_TEST_REDIS_PASSWORD}}\n"
    )
    cfg = load_repo_config(tmp_path, tmp_path / "feature_store.yaml")
    assert isinstance(cfg.online_store, TieredRedisOnlineStoreConfig)
    assert cfg.online_store.tiers["warm"].password.get_secret_value() == "from-env"


def test_wrong_password_fails_with_a_clear_error(tmp_path, now):
    with RedisServer.start(extra_args=("--requirepass", "right")) as server:
        cfg = repo_config(tmp_path, server.url, password="wrong")
        store = TieredRedisOnlineStore()
        with pytest.raises(RedisUnavailableError, match="rejected the connection"):
            store.write_arrow(cfg, user_view(), user_rows([1], at=now))
        ok = repo_config(tmp_path, server.url, password="right")
        assert store.write_arrow(ok, user_view(), user_rows([1], at=now)) == 1
        store.close()


def test_redis_cluster_write_read_newer_wins_teardown(tmp_path, redis_cluster_url, now):
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    cfg = repo_config(tmp_path, redis_cluster_url, cluster=True)
    store = TieredRedisOnlineStore()
    view = user_view("cluster_view")
    ids = list(range(2_000))
    store.write_arrow(cfg, view, user_rows(ids, at=now, balance_offset=10.0))
    store.write_arrow(cfg, view, user_rows(ids, at=now - timedelta(hours=1)))  # older: ignored
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]) for i in (0, 7, 1999, 5000)]
    rows = store.online_read(cfg, view, keys)
    assert [r[1]["balance"].float_val if r[1] else None for r in rows] == [10.0, 20.5, 1999 * 1.5 + 10.0, None]
    client = redis.RedisCluster.from_url(redis_cluster_url)
    compiled = store.compiled(cfg, view)
    assert sum(client.exists(k) for k in compiled.keyspace.bucket_keys()[:64]) > 0
    store.teardown(cfg, [view], [])
    assert sum(client.exists(k) for k in compiled.keyspace.bucket_keys()) == 0
    client.close()


def test_redis_cluster_async_writes_newer_wins(tmp_path, redis_cluster_url, now):
    """Feast's async write path on a Cluster tier (the write runs on a worker thread, slot-routed by redis-py)."""
    import asyncio

    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    cfg = repo_config(tmp_path, redis_cluster_url, cluster=True)
    store = TieredRedisOnlineStore()
    view = user_view("cluster_async_view")

    async def writes() -> None:
        await store.write_arrow_async(cfg, view, user_rows(range(500), at=now, balance_offset=10.0))
        await store.write_arrow_async(cfg, view, user_rows(range(500), at=now - timedelta(hours=1)))  # older

    asyncio.run(writes())
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]) for i in (0, 7, 499, 500)]
    rows = asyncio.run(store.online_read_async(cfg, view, keys))
    assert [r[1]["balance"].float_val if r[1] else None for r in rows] == [10.0, 20.5, 499 * 1.5 + 10.0, None]
    store.teardown(cfg, [view], [])


def test_async_writes_of_many_calls_leave_redis_as_the_sync_write_does(tmp_path, redis_url, now):
    """Feast's async write path on a standalone tier sends its calls in exchanges of up to 2,000 rows (5,000 rows in
    128-row calls: three exchanges of many calls each); Redis ends exactly as after the sync write, and an older
    write changes nothing."""
    import asyncio

    cfg = repo_config(tmp_path, redis_url)
    store = TieredRedisOnlineStore()
    view = user_view("async_many_calls")
    rows = user_rows(range(5_000), at=now, balance_offset=10.0)
    store.write_arrow(cfg, view, rows)
    synced = _snapshot(redis_url)
    store.teardown(cfg, [view], [])
    assert _snapshot(redis_url) != synced

    async def writes() -> None:
        await store.write_arrow_async(cfg, view, rows)
        await store.write_arrow_async(cfg, view, user_rows(range(5_000), at=now - timedelta(hours=1)))  # older

    asyncio.run(writes())
    assert _snapshot(redis_url) == synced
    store.teardown(cfg, [view], [])


def _tls_material(directory) -> tuple[str, str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed: cannot make test certificates")
    ca_key, ca, key, csr, cert = (str(directory / n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for args in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=featurekit-test-ca"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
         "-extfile", str(ext)],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    return ca, cert, key


def test_tls_end_to_end_with_a_private_ca(tmp_path, now):
    """rediss:// against a real TLS redis-server: verified with the configured CA, refused without it."""
    from featurekit.services.ports import free_port

    ca, cert, key = _tls_material(tmp_path)
    port = free_port()
    args = ("--port", "0", "--tls-port", str(port), "--tls-cert-file", cert, "--tls-key-file", key,
            "--tls-ca-cert-file", ca, "--tls-auth-clients", "no")  # fmt: skip
    with RedisServer.start(port=port, extra_args=args):
        url = f"rediss://127.0.0.1:{port}/0"
        store = TieredRedisOnlineStore()
        cfg = repo_config(tmp_path, url, ssl_ca_certs=ca)
        view = user_view("tls_view")
        assert store.write_arrow(cfg, view, user_rows([1, 2], at=now)) == 2
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        rows = store.online_read(cfg, view, [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=2)])])
        assert rows[0][1]["balance"].float_val == 3.0
        store.close()
        untrusted = TieredRedisOnlineStore()
        with pytest.raises(RedisUnavailableError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            untrusted.write_arrow(repo_config(tmp_path, url), view, user_rows([3], at=now))
        untrusted.close()
