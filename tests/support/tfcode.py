"""The Terraform code under infra/terraform, parsed into one merged view per module, the root (``platform/``), and
the root as each environment sees it (its ``<env>.tfvars`` applied)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import hclnorm

REPO_ROOT = Path(__file__).resolve().parents[2]
TF_ROOT = REPO_ROOT / "infra" / "terraform"
MODULES = (
    "foundation",
    "s3_bucket",
    "registry",
    "offline_store",
    "online_store",
    "streaming",
    "orchestration",
    "ci_access",
    "feature_server",
)
ENVS = ("dev", "prod")
PLATFORM = TF_ROOT / "platform"
_VAR_REF = re.compile(r"\$\{var\.(\w+)\}")

_LOCAL_REF = re.compile(r"\$\{local\.([A-Za-z0-9_]+)\}")


@dataclass
class TfDir:
    """The merged top-level blocks of one Terraform directory (module or env)."""

    path: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)

    def resources_of(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def data_of(self, dtype: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.data.items() if t == dtype}

    def resolve(self, value: Any) -> Any:
        """Substitute ``${local.x}`` references whose local is a plain string (recursively)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str):
            return value
        for _ in range(10):
            new = _LOCAL_REF.sub(
                lambda m: (
                    self.locals[m.group(1)]
                    if isinstance(self.locals.get(m.group(1)), str) and "?" not in self.locals[m.group(1)]
                    else m.group(0)
                ),
                value,
            )
            if new == value:
                break
            value = new
        return value


def _load_dir(path: Path) -> TfDir:
    tf = TfDir(path=path)
    for file in sorted(path.glob("*.tf")):
        doc = hclnorm.load(file)
        for item in doc.get("resource", []):
            for rtype, named in item.items():
                for name, body in named.items():
                    tf.resources[(rtype, name)] = body
        for item in doc.get("data", []):
            for dtype, named in item.items():
                for name, body in named.items():
                    tf.data[(dtype, name)] = body
        for item in doc.get("module", []):
            tf.modules.update(item)
        for item in doc.get("variable", []):
            tf.variables.update(item)
        for item in doc.get("output", []):
            tf.outputs.update(item)
        for item in doc.get("locals", []):
            for key in item:
                tf.locals[key] = hclnorm.attr(item, key)
        tf.terraform.extend(doc.get("terraform", []))
        for item in doc.get("provider", []):
            tf.providers.append(item)
    return tf


def tfvars(env: str) -> dict[str, Any]:
    """The values of ``platform/<env>.tfvars``."""
    doc = hclnorm.load(PLATFORM / f"{env}.tfvars")
    return {key: hclnorm.attr(doc, key) for key in doc}


def _with_tfvars(root: TfDir, env: str) -> TfDir:
    """The root as ``terraform apply -var-file=<env>.tfvars`` sees it: the file's values become the variables'
    defaults, and module arguments and locals that are exactly ``${var.x}`` take the value."""
    values = tfvars(env)
    view = copy.deepcopy(root)
    for name, value in values.items():
        assert name in view.variables, f"{env}.tfvars sets undeclared variable {name}"
        view.variables[name]["default"] = [value]  # bc-python-hcl2's attribute shape

    def substitute(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: substitute(v) for k, v in node.items()}
        if isinstance(node, list):
            return [substitute(v) for v in node]
        if isinstance(node, str):
            ref = _VAR_REF.fullmatch(node)
            if ref and ref.group(1) in values:
                return values[ref.group(1)]
        return node

    view.modules = substitute(view.modules)
    view.locals = substitute(view.locals)
    return view


@dataclass
class TerraformCode:
    modules: dict[str, TfDir]
    root: TfDir
    envs: dict[str, TfDir]

    def all_dirs(self) -> list[TfDir]:
        return [*self.modules.values(), self.root]


def load_terraform_code() -> TerraformCode:
    root = _load_dir(PLATFORM)
    return TerraformCode(
        modules={name: _load_dir(TF_ROOT / "modules" / name) for name in MODULES},
        root=root,
        envs={name: _with_tfvars(root, name) for name in ENVS},
    )
