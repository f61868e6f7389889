"""Load ``config/<env>.yaml`` into :class:`Settings`.

The environment is chosen by ``--env`` or ``FEATUREKIT_ENV`` (default ``local``, :data:`DEFAULT_ENV`: the one
default, for every command): a name (``config/<name>.yaml``) or the path of an environment file (``*.yaml``, e.g. a
test's or a worker's copy; its stem is the environment name). Relative paths in the file are resolved against the
project root, so commands work from any working directory. These two variables and ``FEATUREKIT_ROOT`` select the
configuration; every setting lives in the file (docs/configuration.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from featurekit.config.interpolation import MissingVariableError, interpolate
from featurekit.config.merge import deep_merge
from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError

ENV_VAR = "FEATUREKIT_ENV"
ROOT_VAR = "FEATUREKIT_ROOT"
DEFAULT_ENV = "local"
_PATH_FIELDS = (
    ("feature_repo",),
    ("data_dir",),
    ("registry", "path"),
    ("warehouse", "path"),
    ("offline_store", "root"),
    ("streaming", "checkpoint_location"),
    ("orchestration", "manifest_cache_dir"),
    ("metrics", "textfile_dir"),
)


class ConfigError(FeaturekitError, ValueError):
    """The environment file is missing, malformed, or references an unset variable; the message says which."""


def project_root() -> Path:
    """The featurekit project root: ``FEATUREKIT_ROOT``, else the nearest parent holding ``config/`` and
    ``feature_repo/`` (from the working directory, then from this package's location)."""
    if os.environ.get(ROOT_VAR):
        return Path(os.environ[ROOT_VAR]).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "config").is_dir() and (candidate / "feature_repo").is_dir():
                return candidate
    raise ConfigError(f"no featurekit project found from {Path.cwd()}: set {ROOT_VAR} to the repository root")


def environment_names(root: Path | None = None) -> list[str]:
    """Every environment that has a file in ``config/``."""
    root = root or project_root()
    return sorted(p.stem for p in (root / "config").glob("*.yaml"))


def active_env(env: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The environment a command works on: ``env`` if given, else ``FEATUREKIT_ENV``, else :data:`DEFAULT_ENV`."""
    environ = os.environ if environ is None else environ
    return env or environ.get(ENV_VAR) or DEFAULT_ENV


def environment_file(env: str, root: Path) -> Path:
    """The file of environment ``env``: ``config/<env>.yaml``, or ``env`` itself when it names a ``.yaml`` file."""
    if env.endswith((".yaml", ".yml")):
        return Path(env).expanduser().resolve()
    return root / "config" / f"{env}.yaml"


def load_settings(
    env: str | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, interpolate and validate one environment's settings.

    ``overrides`` is a nested mapping merged over the file (used by tests for temporary directories and by
    ``featurekit config render`` for Terraform outputs).
    """
    environ = os.environ if environ is None else environ
    env = active_env(env, environ)
    root = root or project_root()
    path = environment_file(env, root)
    if not path.is_file():
        known = ", ".join(environment_names(root)) or "none"
        raise ConfigError(f"unknown environment {env!r}: {path} does not exist (known: {known})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if overrides:
        raw = deep_merge(raw, overrides)
    try:
        data = interpolate(raw, environ)
    except MissingVariableError as exc:
        raise ConfigError(f"{path}: {exc.args[0]}") from exc
    data["env"] = path.stem
    for dotted in _PATH_FIELDS:
        _resolve_path(data, dotted, root)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid settings:\n{exc}") from exc


def _resolve_path(data: dict[str, Any], dotted: tuple[str, ...], root: Path) -> None:
    node: Any = data
    for key in dotted[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    # URLs (s3://...) and empty values (= "use the default") are left alone; local paths become absolute.
    value = node.get(dotted[-1]) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(value, str) and value and "://" not in value:
        path = Path(value)
        node[dotted[-1]] = str(path if path.is_absolute() else (root / path))
