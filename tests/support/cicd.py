"""Helpers of the CI/CD tests: editing a feature repo copy, reading the registry object's version, the ref of CI on
``main``."""

from __future__ import annotations

from pathlib import Path

from featurekit.config import Settings

# The git ref a CI job on a merge to main runs for (``--ci-ref``): protected environments are changed only for it.
IN_MAIN_CI = "refs/heads/main"


def edit(repo: Path, relative: str, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a repo file (``count=-1``: every occurrence), failing loudly if the text is not
    there: an edit that silently does nothing would make a test pass for the wrong reason."""
    path = repo / relative
    text = path.read_text()
    assert text.count(old) >= max(count, 1), f"{relative}: {old!r} not found"
    path.write_text(text.replace(old, new, count))


def registry_etag(s3, settings: Settings) -> str | None:
    """The registry object's ETag (None when it does not exist): any write changes it."""
    bucket, key = settings.registry.path.removeprefix("s3://").split("/", 1)
    try:
        return s3.head_object(Bucket=bucket, Key=key)["ETag"]
    except s3.exceptions.ClientError:
        return None
