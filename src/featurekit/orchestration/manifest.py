"""The DAG manifest: which views each scheduled DAG runs, derived from the feature repo and cached by its hash.

Why a manifest: Airflow parses DAG files continuously (every ``min_file_process_interval``, 30 s by default) with a
timeout, and loading the feature repo means importing Feast (seconds, hundreds of MB). The DAG shape only needs
each view's name and tags, so the factory reads a small JSON file instead. The file is keyed by a SHA-256 of the
feature repo's Python sources: while the repo is unchanged, a parse costs one directory walk, one hash and one
``json.load``. When the repo changes (a new ``schedule: daily`` view is merged), the next parse sees a new hash and
re-derives the manifest in a child process, so Feast is never imported into Airflow's parsing process and adding a
view needs no DAG edit. ``featurekit dag manifest`` derives it ahead of time (e.g. in the image build), so a
deployed scheduler never pays the derivation at all. The cache lives in ``orchestration.manifest_cache_dir`` (default:
the user's cache directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featurekit.config.settings import Settings

from featurekit.errors import FeaturekitError
from featurekit.orchestration.task_process import TASK_PYTHON_ENV

FORMAT_VERSION = 1
DAG_SCHEDULES = ("hourly", "daily")


class ManifestError(FeaturekitError, RuntimeError):
    """The manifest could not be derived (the feature repo failed to load); carries the child's error."""


@dataclass(frozen=True)
class ViewEntry:
    """What the DAG factory needs to know about one view."""

    name: str
    kind: str  # "batch" or "stream"
    schedule: str  # hourly | daily | stream
    grain: str  # hourly | daily: the interval and partition grain
    tier: str
    freshness_slo: str
    owner: str


@dataclass(frozen=True)
class Manifest:
    fingerprint: str
    views: tuple[ViewEntry, ...]

    def for_dag(self, schedule: str) -> list[ViewEntry]:
        """Views run by the ``schedule`` DAG: its batch views, plus the warehouse backfill of stream views, whose
        grain is daily, in the daily DAG (training data for stream views before the stream sink covers them)."""
        return [v for v in self.views if v.grain == schedule]

    def to_json(self) -> str:
        return json.dumps(
            {"version": FORMAT_VERSION, "fingerprint": self.fingerprint, "views": [asdict(v) for v in self.views]},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"manifest format {data.get('version')} != {FORMAT_VERSION}")
        return cls(fingerprint=data["fingerprint"], views=tuple(ViewEntry(**v) for v in data["views"]))


def repo_fingerprint(feature_repo: Path) -> str:
    """SHA-256 over the repo's Python files (relative path and bytes): changes exactly when definitions change."""
    digest = hashlib.sha256(f"featurekit-dag-manifest-v{FORMAT_VERSION}".encode())
    for path in sorted(feature_repo.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(feature_repo)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir(settings: Settings) -> Path:
    """``orchestration.manifest_cache_dir``, else ``$XDG_CACHE_HOME/featurekit`` (``~/.cache/featurekit``)."""
    configured = settings.orchestration.manifest_cache_dir
    if configured is not None:
        return configured
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "featurekit"


def manifest_path(directory: Path, fingerprint: str) -> Path:
    return directory / f"dag-manifest-{fingerprint[:24]}.json"


def load_manifest(settings: Settings, env: str | None = None) -> Manifest:
    """The manifest of ``settings``' feature repo: from the cache when the hash matches, else derived in a child
    process (for the same ``env``, so it loads the same settings and writes the same cache)."""
    fingerprint = repo_fingerprint(settings.feature_repo)
    path = manifest_path(cache_dir(settings), fingerprint)
    if path.is_file():
        try:
            manifest = Manifest.from_json(path.read_text())
            if manifest.fingerprint == fingerprint:
                return manifest
        except (ValueError, KeyError, TypeError):
            pass  # a corrupt or old-format cache entry is re-derived below
    # Deriving imports the feature repo (Feast): on MWAA only the kit's environment has it (see task_process).
    python = os.environ.get(TASK_PYTHON_ENV) or sys.executable
    command = [python, "-m", "featurekit.orchestration.manifest", *(["--env", env] if env else [])]
    child = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if child.returncode != 0:
        raise ManifestError(
            f"deriving the DAG manifest for {settings.feature_repo} failed:\n{child.stderr.strip()[-4000:]}"
        )
    return Manifest.from_json(path.read_text())


def derive_manifest(env: str | None = None) -> Manifest:
    """Load the feature repo (imports Feast) and list every batch and stream view with its tags."""
    from featurekit.config import load_settings
    from featurekit.repo.loader import load_repo
    from featurekit.tags import grain_of, schedule_of, tier_of

    settings = load_settings(env)
    repo = load_repo(settings)
    views = [(view, "batch") for view in repo.batch_views] + [(view, "stream") for view in repo.stream_views]
    entries = tuple(
        ViewEntry(
            name=view.name,
            kind=kind,
            schedule=schedule_of(view),
            grain=grain_of(view),
            tier=tier_of(view),
            freshness_slo=view.tags.get("freshness_slo", ""),
            owner=view.owner or "",
        )
        for view, kind in sorted(views, key=lambda pair: pair[0].name)
    )
    return Manifest(fingerprint=repo_fingerprint(settings.feature_repo), views=entries)


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    """Store the manifest atomically (parsers running concurrently never read half a file)."""
    path = manifest_path(directory, manifest.fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(manifest.to_json())
    os.replace(handle.name, path)
    return path


def cache_manifest(env: str | None = None) -> Path:
    """Derive the manifest of ``env``'s feature repo and store it in that environment's cache directory."""
    from featurekit.config import load_settings

    return write_manifest(derive_manifest(env), cache_dir(load_settings(env)))


def main(argv: list[str] | None = None) -> None:
    """``python -m featurekit.orchestration.manifest [--env ENV]``: derive and cache the manifest (the child process
    of :func:`load_manifest`). typer is imported here, not at the top: DAG parsing imports this module."""
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def derive(
        env: str | None = typer.Option(None, "--env", help="Environment name or file (default: FEATUREKIT_ENV)."),
    ) -> None:
        """Derive the DAG manifest of the environment's feature repo and print where it was cached."""
        print(cache_manifest(env))

    app(args=argv, prog_name="python -m featurekit.orchestration.manifest")


if __name__ == "__main__":
    main()
