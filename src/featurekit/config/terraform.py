"""Settings overrides from Terraform outputs, so no endpoint is typed twice.

The Terraform root ``infra/terraform/platform`` (applied once per environment with ``<env>.tfvars``) exposes one
output, ``featurekit_settings``: a nested map
whose keys mirror ``config/<env>.yaml`` (``registry.path``, ``offline_store.*``, ``online_store.tiers.*.url``,
``kafka.bootstrap_servers``, ``streaming.checkpoint_location``). ``featurekit config render --env prod
--terraform-output FILE`` reads ``terraform output -json > FILE`` with :func:`overrides_from_terraform_output`
and merges the result over the YAML with :func:`deep_merge`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from featurekit.config.loader import ConfigError
from featurekit.config.merge import deep_merge

__all__ = ["OUTPUT_NAME", "REQUIRED_KEYS", "TerraformOutputError", "deep_merge", "overrides_from_terraform_output"]

OUTPUT_NAME = "featurekit_settings"

# Dotted paths every environment's ``featurekit_settings`` output must provide (tests/infra checks that the
# Terraform root produces exactly these, and that config/<env>.yaml has them).
REQUIRED_KEYS: tuple[str, ...] = (
    "registry.path",
    "offline_store.s3_root",
    "offline_store.database",
    "offline_store.workgroup",
    "offline_store.results_location",
    "offline_store.region",
    "online_store.tiers.hot.url",
    "online_store.tiers.warm.url",
    "kafka.bootstrap_servers",
    "streaming.checkpoint_location",
    "deploy.region",
    "deploy.mwaa_environment",
    "deploy.mwaa_bucket",
    "deploy.artifacts_location",
    "deploy.emr_application_id",
    "deploy.emr_job_role_arn",
    "deploy.ecs_cluster",
    "deploy.ecs_service",
    "deploy.feature_server_image",
)

_MISSING = object()


class TerraformOutputError(ConfigError):
    """The Terraform output file is unreadable or lacks keys of ``featurekit_settings``; the message says which."""


def _lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def missing_keys(settings: Mapping[str, Any]) -> list[str]:
    """The :data:`REQUIRED_KEYS` that are absent, null, or not a non-empty string in ``settings``."""
    missing = []
    for key in REQUIRED_KEYS:
        value = _lookup(settings, key)
        if not isinstance(value, str) or not value.strip():
            missing.append(key)
    return missing


def overrides_from_terraform_output(path: Path) -> dict[str, Any]:
    """Read ``terraform output -json`` from ``path`` and return the ``featurekit_settings`` value.

    The file maps output names to ``{"value": ..., "type": ..., "sensitive": ...}``. The returned nested dict
    is ready for :func:`deep_merge` over an environment's YAML. Raises :class:`TerraformOutputError` naming
    the file and every missing key.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TerraformOutputError(f"cannot read Terraform output file {path}: {exc}") from exc
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TerraformOutputError(
            f"{path}: not JSON ({exc}); write it with `terraform output -json > {path.name}`"
        ) from exc
    if not isinstance(outputs, dict):
        raise TerraformOutputError(f"{path}: expected a JSON object of Terraform outputs (`terraform output -json`)")

    entry = outputs.get(OUTPUT_NAME)
    if entry is None:
        available = ", ".join(sorted(outputs)) or "none"
        raise TerraformOutputError(
            f"{path}: no output {OUTPUT_NAME!r} (outputs present: {available}); "
            f"run `terraform output -json` in infra/terraform/platform (initialised for <env>)"
        )
    if not isinstance(entry, dict) or "value" not in entry:
        raise TerraformOutputError(
            f"{path}: output {OUTPUT_NAME!r} has no 'value'; expected the `terraform output -json` format "
            '{"featurekit_settings": {"value": {...}, "type": ..., "sensitive": false}}'
        )
    value = entry["value"]
    if not isinstance(value, dict):
        raise TerraformOutputError(f"{path}: output {OUTPUT_NAME!r} must be a map, got {type(value).__name__}")

    missing = missing_keys(value)
    if missing:
        raise TerraformOutputError(
            f"{path}: output {OUTPUT_NAME!r} is missing {len(missing)} required key(s): {', '.join(missing)}"
        )
    return copy.deepcopy(value)
