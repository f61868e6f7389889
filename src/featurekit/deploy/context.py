"""What every deploy target shares: the settings, the AWS clients, the dry-run switch and the log of actions.

Each target reads the current state (S3 object hashes, the MWAA environment, running job runs, the ECS service),
compares it with what this commit needs and only then acts. Every action, taken or (``--dry-run``) not, is recorded
as an :class:`Action`, so the CLI prints one list either way and a second deploy of the same commit records only
``unchanged`` entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurekit.config.settings import DeploySettings, Settings
from featurekit.deploy.artifacts import DeployError, sha256

SHA256_METADATA = "featurekit-sha256"


@dataclass(frozen=True)
class Action:
    target: str  # mwaa | emr | ecs
    verb: str  # upload, delete, update-environment, cancel, start, register, update-service, unchanged
    resource: str
    detail: str = ""

    @property
    def changes(self) -> bool:
        return self.verb != "unchanged"

    def __str__(self) -> str:
        return f"[{self.target}] {self.verb} {self.resource}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class DeployContext:
    settings: Settings
    root: Path
    commit: str
    dry_run: bool = False
    client: Callable[[str], Any] | None = None  # boto3 client factory (tests pass stubbed clients)
    actions: list[Action] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def deploy(self) -> DeploySettings:
        if self.settings.deploy is None:
            raise DeployError(f"config/{self.settings.env}.yaml has no deploy: section (AWS environments only)")
        return self.settings.deploy

    def aws(self, service: str) -> Any:
        if service not in self._clients:
            if self.client is not None:
                self._clients[service] = self.client(service)
            else:
                import boto3

                self._clients[service] = boto3.client(service, region_name=self.deploy.region)
        return self._clients[service]

    def record(self, target: str, verb: str, resource: str, detail: str = "") -> Action:
        action = Action(target, verb, resource, detail)
        self.actions.append(action)
        return action

    def put_if_changed(self, target: str, bucket: str, key: str, data: bytes) -> str | None:
        """Upload ``data`` unless the object already holds it (same SHA-256 in its metadata).

        Returns the object's version id after the call (None in a dry run when it would change, or when the bucket is
        not versioned)."""
        s3 = self.aws("s3")
        digest = sha256(data)
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise DeployError(f"s3://{bucket}/{key}: {exc}") from exc
            head = None
        if head is not None and head.get("Metadata", {}).get(SHA256_METADATA) == digest:
            self.record(target, "unchanged", f"s3://{bucket}/{key}")
            return head.get("VersionId")
        self.record(target, "upload", f"s3://{bucket}/{key}", f"{len(data)} bytes, sha256 {digest[:12]}")
        if self.dry_run:
            return None
        reply = s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={SHA256_METADATA: digest})
        return reply.get("VersionId")


def split_s3(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without trailing slash)."""
    if not location.startswith("s3://"):
        raise DeployError(f"{location}: expected s3://bucket/prefix")
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix.rstrip("/")
