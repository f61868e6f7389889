"""Start and stop a throw-away Redis Cluster of Debian ``redis-server`` processes on free loopback ports.

Used by the online-store contract tests (the whole suite runs on a standalone server and on a cluster), the
failover test and ``featurekit bench online --cluster``. The nodes are ordinary :class:`RedisServer` processes with
``cluster-enabled``; slots are assigned with ``CLUSTER ADDSLOTSRANGE`` and the nodes introduced with ``CLUSTER
MEET`` through redis-py, so no ``redis-cli`` output is parsed.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from featurekit.services.ports import free_port
from featurekit.services.redis_server import RedisServer, ServiceUnavailableError

SLOTS = 16384


def cluster_port(exclude: list[int]) -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    for _ in range(500):
        port = free_port()
        if port + 10_000 > 65_535 or port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise ServiceUnavailableError("no free port pair (port, port + 10000) for a Redis Cluster node")


@dataclass
class LocalRedisCluster:
    """A running local cluster: ``primaries[i]`` serves the i-th third of the slots; ``replicas`` maps a primary's
    index to its replica servers. Use as a context manager or call :meth:`stop`."""

    primaries: list[RedisServer]
    replicas: dict[int, list[RedisServer]] = field(default_factory=dict)
    node_timeout_ms: int = 2000

    @property
    def url(self) -> str:
        """A seed URL (the first primary); clients discover the other nodes from it."""
        return self.primaries[0].url

    @property
    def servers(self) -> list[RedisServer]:
        return [*self.primaries, *(r for rs in self.replicas.values() for r in rs)]

    @classmethod
    def start(
        cls,
        *,
        primaries: int = 3,
        replicas: dict[int, int] | None = None,
        node_timeout_ms: int = 2000,
        timeout_s: float = 30.0,
    ) -> LocalRedisCluster:
        """Start ``primaries`` nodes splitting the slots evenly, plus ``replicas[i]`` replicas of primary ``i``;
        return once every node agrees the cluster is ``ok`` and every replica is in sync."""
        import redis

        cluster = cls(primaries=[], node_timeout_ms=node_timeout_ms)
        try:
            ports: list[int] = []
            for _ in range(primaries):
                ports.append(cluster_port(ports))
                cluster.primaries.append(RedisServer.start(port=ports[-1], extra_args=cls._args(node_timeout_ms)))
            for i, server in enumerate(cluster.primaries):
                lo, hi = i * SLOTS // primaries, (i + 1) * SLOTS // primaries - 1
                with redis.Redis(port=server.port) as client:
                    # Distinct config epochs up front (as redis-cli does): no slow epoch-collision rounds.
                    client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
            with redis.Redis(port=cluster.primaries[0].port) as seed:
                for server in cluster.primaries[1:]:
                    seed.execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
            cluster.wait_ok(timeout_s)
            wanted = [index for index, count in (replicas or {}).items() for _ in range(count)]
            if wanted:
                cluster.add_replicas(wanted, ports, timeout_s)
            return cluster
        except BaseException:
            cluster.stop()
            raise

    @staticmethod
    def _args(node_timeout_ms: int) -> tuple[str, ...]:
        return ("--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms))

    def add_replicas(self, primaries: list[int], ports: list[int], timeout_s: float = 30.0) -> list[RedisServer]:
        """Start one replica for each primary index in ``primaries`` (all at once) and wait until all are in sync."""
        import redis

        started: list[tuple[int, RedisServer]] = []
        for index in primaries:
            ports.append(cluster_port(ports))
            server = RedisServer.start(port=ports[-1], extra_args=self._args(self.node_timeout_ms))
            self.replicas.setdefault(index, []).append(server)
            started.append((index, server))
        ids = {}
        for index in set(primaries):
            with redis.Redis(port=self.primaries[index].port) as p:
                ids[index] = p.execute_command("CLUSTER", "MYID").decode()
        for _, server in started:
            with redis.Redis(port=server.port) as r:
                r.execute_command("CLUSTER", "MEET", "127.0.0.1", self.primaries[0].port)
        for index, server in started:
            with redis.Redis(port=server.port) as r:
                _until(lambda r=r, i=index: ids[i].encode() in r.execute_command("CLUSTER", "NODES"), timeout_s, "MEET")
                r.execute_command("CLUSTER", "REPLICATE", ids[index])
        for _, server in started:
            with redis.Redis(port=server.port) as r:
                _until(lambda r=r: r.info("replication").get("master_link_status") == "up", timeout_s, "replica sync")
        self.wait_ok(timeout_s)
        return [server for _, server in started]

    def wait_ok(self, timeout_s: float = 30.0) -> None:
        """Wait until every running node reports ``cluster_state:ok``."""
        import redis

        def ok() -> bool:
            for server in self.servers:
                if server.process is None or server.process.poll() is not None:
                    continue
                with redis.Redis(port=server.port) as client:
                    if client.cluster("info").get("cluster_state") != "ok":
                        return False
            return True

        _until(ok, timeout_s, "cluster_state:ok")

    def client(self) -> Any:
        """A redis-py cluster client (for tests and benchmarks that inspect the data)."""
        import redis

        return redis.RedisCluster(host="127.0.0.1", port=self.primaries[0].port)

    def flushall(self) -> None:
        import redis

        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                with redis.Redis(port=server.port) as client:
                    if client.info("replication").get("role") == "master":
                        client.flushall()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> LocalRedisCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise ServiceUnavailableError(f"local Redis Cluster: {what} not reached within {timeout_s:.0f} s")
        time.sleep(0.05)


__all__ = ["LocalRedisCluster", "cluster_port"]
