"""Render an environment file from Terraform outputs.

The endpoints and bucket names Terraform created are merged into ``config/<env>.yaml``; everything else in the file
(``${VAR}`` secret references included) is kept as written. The result is validated before it is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from featurekit.config.loader import environment_file, load_settings, project_root
from featurekit.config.merge import deep_merge
from featurekit.config.terraform import overrides_from_terraform_output

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
HEADER = "# Endpoints rendered from Terraform outputs by `featurekit config render`; other keys are kept as written.\n"


def render_environment_file(env: str, terraform_output: Path, out: Path | None = None) -> Path:
    root = project_root()
    source = environment_file(env, root)
    raw = yaml.safe_load(source.read_text()) or {}
    rendered = deep_merge(raw, overrides_from_terraform_output(terraform_output))
    text = HEADER + yaml.safe_dump(rendered, sort_keys=False)
    # Validate with placeholder values for the referenced variables: the check is about shape, not secrets.
    placeholders = {name: "placeholder" for name in _REFERENCE.findall(text)}
    load_settings(env, root=root, environ=placeholders, overrides=overrides_from_terraform_output(terraform_output))
    target = out or source
    target.write_text(text)
    return target
