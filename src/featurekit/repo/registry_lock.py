"""Optimistic concurrency on the Feast registry object: one read, in-memory edits, one conditional write.

Feast's file registry is a single protobuf object (``registry.pb``) that every apply reads whole, edits and writes
whole, with no check that nobody else wrote in between: two applies racing each other silently lose one side's
objects. This module makes an apply a transaction:

* :class:`RegistryTransaction` reads the object once and remembers its version token (the S3 ``ETag``, or the
  SHA-256 of a local file);
* Feast works on that snapshot through :class:`TransactionalRegistryStore`, a Feast ``RegistryStore`` (plugged in
  with ``registry_store_type``, Feast's extension point) that serves the snapshot and keeps Feast's commits in memory;
* :meth:`RegistryTransaction.publish` writes the result only if the object still has the token it was read with:
  an S3 conditional ``PutObject`` (``If-Match: <etag>``, or ``If-None-Match: *`` when the registry did not exist),
  and for a local file a compare-and-swap under an exclusive ``flock`` followed by an atomic rename. Otherwise it
  raises :class:`RegistryConflictError` and nothing is written.

Readers (serving, DAGs) keep using Feast's own stores; only writers go through here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from featurekit.errors import TransientError

STORE_TYPE = "featurekit.repo.registry_lock.TransactionalRegistryStore"


class RegistryConflictError(TransientError, RuntimeError):
    """The registry changed between our read and our write (another apply won); nothing was written."""


class RegistryAccessError(TransientError, RuntimeError):
    """The registry location cannot be read or written (missing bucket, no permission); the message says which."""


@dataclass(frozen=True)
class RegistrySnapshot:
    """The registry bytes as read, and the version token a conditional write must match (None: did not exist)."""

    location: str
    data: bytes | None
    token: str | None


class RegistryBackend(Protocol):
    location: str

    def read(self) -> RegistrySnapshot: ...

    def write_if_unchanged(self, data: bytes, expected: RegistrySnapshot) -> str:
        """Write ``data`` if the object still has ``expected.token``; return the new token or raise a conflict."""
        ...


def registry_backend(location: str) -> RegistryBackend:
    """The backend for a registry path: ``s3://bucket/key`` or a local file path."""
    if location.startswith("s3://"):
        return S3RegistryBackend(location)
    if "://" in location and not location.startswith("file://"):
        raise RegistryAccessError(f"registry {location}: only s3:// and local paths are supported")
    return FileRegistryBackend(location.removeprefix("file://"))


class S3RegistryBackend:
    """``registry.pb`` in S3, written with S3 conditional writes (atomic on S3's side, honoured by moto).

    The client honours ``AWS_ENDPOINT_URL`` (boto3), like Feast's own S3 registry store, so tests point both at the
    same emulator.
    """

    def __init__(self, location: str) -> None:
        uri = urlparse(location)
        self.location = location
        self.bucket = uri.netloc
        self.key = uri.path.lstrip("/")
        if not self.bucket or not self.key:
            raise RegistryAccessError(f"registry {location}: expected s3://<bucket>/<key>")
        import boto3

        self._client = boto3.client("s3")

    def read(self) -> RegistrySnapshot:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key)
            data = reply["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                return RegistrySnapshot(self.location, None, None)
            raise RegistryAccessError(f"registry {self.location}: reading failed: {code or exc}") from exc
        except BotoCoreError as exc:  # no credentials, no network, bad endpoint
            raise RegistryAccessError(f"registry {self.location}: reading failed: {exc}") from exc
        return RegistrySnapshot(self.location, data, reply["ETag"])

    def write_if_unchanged(self, data: bytes, expected: RegistrySnapshot) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        condition = {"IfNoneMatch": "*"} if expected.token is None else {"IfMatch": expected.token}
        try:
            reply = self._client.put_object(Bucket=self.bucket, Key=self.key, Body=data, **condition)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            # 412 PreconditionFailed: the ETag moved; 409 ConditionalRequestConflict: a concurrent conditional write
            # to the same key is in flight on S3's side. Both mean another writer got there first.
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise _conflict(self.location, expected) from exc
            raise RegistryAccessError(f"registry {self.location}: writing failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise RegistryAccessError(f"registry {self.location}: writing failed: {exc}") from exc
        return reply["ETag"]


class FileRegistryBackend:
    """A local ``registry.db`` file, written by compare-and-swap: lock, compare hashes, write a temp file, rename.

    The lock file (``<registry>.lock``) serialises the kit's writers on this machine; the rename makes the new
    registry appear whole to readers, never half-written.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def read(self) -> RegistrySnapshot:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return RegistrySnapshot(self.location, None, None)
        return RegistrySnapshot(self.location, data, _digest(data))

    def write_if_unchanged(self, data: bytes, expected: RegistrySnapshot) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if self.read().token != expected.token:
                raise _conflict(self.location, expected)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return _digest(data)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _conflict(location: str, expected: RegistrySnapshot) -> RegistryConflictError:
    read_as = f"version {expected.token}" if expected.token else "absent"
    return RegistryConflictError(
        f"registry {location} changed since it was read ({read_as}): another apply finished first. "
        "Nothing was written; run plan/apply again to build on the new registry."
    )


_ACTIVE: ContextVar[RegistryTransaction | None] = ContextVar("featurekit_registry_transaction", default=None)


@dataclass
class RegistryTransaction:
    """One apply's view of the registry: the snapshot it read and the proto Feast has built on top of it."""

    path: str
    backend: RegistryBackend
    snapshot: RegistrySnapshot
    _staged: Any = field(default=None, repr=False)

    @classmethod
    def begin(cls, location: str) -> RegistryTransaction:
        backend = registry_backend(location)
        return cls(path=location, backend=backend, snapshot=backend.read())

    @property
    def location(self) -> str:
        return self.backend.location

    @property
    def staged(self) -> bool:
        return self._staged is not None

    def proto(self) -> Any:
        """A copy of the current registry proto (staged edits, else the snapshot)."""
        from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto

        proto = RegistryProto()
        if self._staged is not None:
            proto.CopyFrom(self._staged)
        elif self.snapshot.data is not None:
            proto.ParseFromString(self.snapshot.data)
        else:
            raise FileNotFoundError(f"registry {self.location} does not exist yet")
        return proto

    def stage(self, proto: Any) -> None:
        staged = type(proto)()
        staged.CopyFrom(proto)
        self._staged = staged

    def publish(self) -> str | None:
        """Write the staged registry if the object is unchanged since the snapshot; None if nothing was staged."""
        if self._staged is None:
            return None
        from feast.utils import _utc_now

        proto = self.proto()
        proto.version_id = str(uuid.uuid4())
        proto.last_updated.FromDatetime(_utc_now())
        return self.backend.write_if_unchanged(proto.SerializeToString(), self.snapshot)

    @contextlib.contextmanager
    def bound(self) -> Iterator[RegistryTransaction]:
        """Make this transaction the one :class:`TransactionalRegistryStore` instances use in this context."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def _registry_store_base() -> type:
    from feast.infra.registry.registry_store import RegistryStore

    return RegistryStore


class TransactionalRegistryStore(_registry_store_base()):  # type: ignore[misc]
    """Feast ``RegistryStore`` over the active :class:`RegistryTransaction` (``registry_store_type`` = this class).

    Reads return the transaction's snapshot, writes (Feast's ``commit``) only stage; the caller publishes once.
    """

    def __init__(self, registry_config: Any, repo_path: Path | None) -> None:
        transaction = _ACTIVE.get()
        if transaction is None:
            raise RuntimeError(
                "TransactionalRegistryStore is only usable inside RegistryTransaction.bound(); "
                "Feast readers should use the default registry store"
            )
        if registry_config is not None and registry_config.path != transaction.path:
            raise RuntimeError(
                f"registry path {registry_config.path} does not match the open transaction on {transaction.path}"
            )
        self._transaction = transaction

    def get_registry_proto(self) -> Any:
        return self._transaction.proto()

    def update_registry_proto(self, registry_proto: Any) -> None:
        self._transaction.stage(registry_proto)

    def teardown(self) -> None:
        raise RuntimeError("deleting the whole registry is not done through a transaction")
