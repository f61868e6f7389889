"""Apply exactly what was reviewed: the fingerprint of a plan, and the check that the merge apply still matches it.

A pull request's plan against prod is what reviewers approve. What the merge then applies must be that plan, so the
plan records a :class:`PlanFingerprint`: a SHA-256 of the feature repo's content and the version token (S3 ``ETag``,
or the SHA-256 of a local file) of the registry object it was computed against. The merge apply is given that
fingerprint (``featurekit apply --expect-fingerprint``) and refuses, writing nothing, when either side moved:

* the repo differs (main moved on, or the merge brought in other definitions): what would be applied was never
  shown to a reviewer;
* the registry differs (another apply landed since the plan): the diff the reviewers read is not the diff that would
  be applied.

The refusal carries a fresh plan for the job summary; the fix is to re-run the pull request's plan (push, or re-run
the job) and have it reviewed. There is no silent re-plan.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from featurekit.errors import FeaturekitError

FORMAT = "featurekit-plan-fingerprint/v1"
_SKIPPED_PARTS = {"__pycache__", "data", ".feast"}


class FingerprintError(FeaturekitError, ValueError):
    """A fingerprint file that cannot be read (missing, not JSON, wrong format); the message names the file."""


@dataclass(frozen=True)
class PlanFingerprint:
    """What a plan was computed from: environment, project, registry location and version, repo content."""

    env: str
    project: str
    registry: str
    registry_version: str | None  # None: the registry did not exist yet
    repo_sha256: str

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> PlanFingerprint:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FingerprintError(f"{path}: no reviewed plan fingerprint (download the PR's plan artifact)") from None
        except (OSError, ValueError) as exc:
            raise FingerprintError(f"{path}: not a plan fingerprint: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise FingerprintError(
                f"{path}: format is {data.get('format') if isinstance(data, dict) else data!r}, expected {FORMAT}"
            )
        try:
            return cls(**{k: data[k] for k in ("env", "project", "registry", "registry_version", "repo_sha256")})
        except KeyError as exc:
            raise FingerprintError(f"{path}: missing key {exc}") from None

    def differences(self, current: PlanFingerprint) -> list[str]:
        """Why ``current`` (what an apply would do now) is not what this fingerprint's plan showed; empty if it is."""
        problems = []
        for name in ("env", "project", "registry"):
            if getattr(self, name) != getattr(current, name):
                problems.append(
                    f"{name} is {getattr(current, name)!r}, the reviewed plan was for {getattr(self, name)!r}"
                )
        if self.registry_version != current.registry_version:
            problems.append(
                f"the registry {current.registry} changed since the reviewed plan "
                f"(version {self.registry_version or 'absent'} -> {current.registry_version or 'absent'}): "
                "another apply landed in between"
            )
        if self.repo_sha256 != current.repo_sha256:
            problems.append(
                f"the feature repo differs from the reviewed one (sha256 {self.repo_sha256[:12]} -> "
                f"{current.repo_sha256[:12]}): the merge brought in changes the plan did not show"
            )
        return problems


def repo_sha256(feature_repo: Path) -> str:
    """SHA-256 over every file of the feature repo (relative path and bytes), caches and local data excluded."""
    root = Path(feature_repo)
    digest = hashlib.sha256(FORMAT.encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if _SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint_of(settings: Any, registry_version: str | None) -> PlanFingerprint:
    return PlanFingerprint(
        env=settings.env,
        project=settings.project,
        registry=settings.registry.path,
        registry_version=registry_version,
        repo_sha256=repo_sha256(settings.feature_repo),
    )


class StalePlanError(FeaturekitError, RuntimeError):
    """The merge apply is not what was reviewed; nothing was written. ``plan`` is the fresh plan (job summary)."""

    def __init__(self, problems: list[str], plan: Any) -> None:
        self.problems = problems
        self.plan = plan
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"refusing to apply to {plan.env}: this is not the plan that was reviewed:\n{lines}\n"
            "nothing was written; re-run the pull request's plan against the current state, have it reviewed, "
            "and merge again (the fresh plan is in the job summary)"
        )
