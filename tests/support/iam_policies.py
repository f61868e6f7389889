"""Turn the ``aws_iam_policy_document`` data sources of a parsed Terraform module into IAM policy JSON.

Terraform cannot run here, so the tests do what the AWS provider would: each ``statement`` (and each ``dynamic
"statement"`` whose ``for_each`` is the usual ``x == null ? [] : [x]``) becomes one IAM statement, with every
``${...}`` reference replaced by a value the test chose for the module's inputs, locals and data sources. A reference
the test did not give a value for is an error, so a new input cannot slip through unevaluated.

Also a small evaluator of the trust conditions GitHub's OIDC roles use (``StringEquals``/``StringLike`` on token
claims): moto issues credentials for ``AssumeRoleWithWebIdentity`` without evaluating the trust policy.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from support.hclnorm import attr, blocks
from support.tfcode import TfDir

_REF = re.compile(r"\$\{([^{}]+)\}")
_COMPACT = re.compile(r"^\$\{compact\(\[(.*)\]\)\}$")
_OPTIONAL_FOR_EACH = re.compile(r"^\$\{(var\.\w+) == (?:null|None) \? \[\] : \['?\$\{\1\}'?\]\}$")


class UnresolvedReference(KeyError):
    pass


def substitute(tf_dir: TfDir, value: str, values: dict[str, Any]) -> Any:
    """``value`` with every ``${ref}`` replaced (locals of the module first, then ``values``)."""
    for _ in range(10):
        whole = _REF.fullmatch(value)
        if whole and whole.group(1) in values and not isinstance(values[whole.group(1)], str):
            return values[whole.group(1)]  # e.g. null
        new = _REF.sub(lambda m: _resolve(tf_dir, m.group(1), values), value)
        if new == value:
            return value
        value = new
    raise UnresolvedReference(value)


def _resolve(tf_dir: TfDir, ref: str, values: dict[str, Any]) -> str:
    if ref in values:
        return str(values[ref])
    if ref.startswith("local.") and isinstance(tf_dir.locals.get(ref[6:]), str):
        return tf_dir.locals[ref[6:]]
    raise UnresolvedReference(f"{tf_dir.path.name}: no value for ${{{ref}}}")


def _list(tf_dir: TfDir, raw: Any, values: dict[str, Any]) -> list[str]:
    if isinstance(raw, str):
        compact = _COMPACT.match(raw)
        if not compact:
            raise UnresolvedReference(f"{tf_dir.path.name}: unsupported list expression {raw}")
        items = [i.strip().strip("'\"") for i in compact.group(1).split(",")]
        resolved = [substitute(tf_dir, i, values) for i in items]
        return [r for r in resolved if r]
    return [substitute(tf_dir, v, values) for v in raw]


def _statement(tf_dir: TfDir, body: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Effect": attr(body, "effect", "Allow"),
        "Action": _list(tf_dir, attr(body, "actions"), values),
    }
    if "sid" in body:
        out["Sid"] = attr(body, "sid")
    if "resources" in body:
        out["Resource"] = _list(tf_dir, attr(body, "resources"), values)
    for principal in blocks(body, "principals"):
        out.setdefault("Principal", {})[attr(principal, "type")] = _list(tf_dir, attr(principal, "identifiers"), values)
    for condition in blocks(body, "condition"):
        test = attr(condition, "test")
        variable = substitute(tf_dir, attr(condition, "variable"), values)
        out.setdefault("Condition", {}).setdefault(test, {})[variable] = _list(
            tf_dir, attr(condition, "values"), values
        )
    return out


def policy_document(tf_dir: TfDir, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The IAM JSON of ``data "aws_iam_policy_document" "<name>"`` with ``values`` for its references."""
    doc = tf_dir.data_of("aws_iam_policy_document")[name]
    statements = [_statement(tf_dir, s, values) for s in blocks(doc, "statement")]
    for dynamic in blocks(doc, "dynamic"):
        for label, body in dynamic.items():
            assert label == "statement", label
            for_each = attr(body, "for_each")
            optional = _OPTIONAL_FOR_EACH.match(for_each)
            assert optional, f"{name}: unsupported for_each {for_each}"
            item = values[optional.group(1)]
            if item is None:
                continue
            for content in blocks(body, "content"):
                statements.append(_statement(tf_dir, content, {**values, "statement.value": item}))
    return {"Version": "2012-10-17", "Statement": statements}


def trust_allows(trust: dict[str, Any], provider_arn: str, claims: dict[str, str]) -> bool:
    """Whether a web-identity token with ``claims`` from ``provider_arn`` may assume a role with this trust policy
    (IAM semantics for the parts used here: Allow statements, Federated principal, StringEquals and StringLike,
    every condition key must match one of its values; no statement means implicit deny)."""
    for statement in trust["Statement"]:
        if statement["Effect"] != "Allow" or "sts:AssumeRoleWithWebIdentity" not in statement["Action"]:
            continue
        if provider_arn not in statement.get("Principal", {}).get("Federated", []):
            continue
        ok = True
        for test, keys in statement.get("Condition", {}).items():
            for key, allowed in keys.items():
                claim = claims.get(key.split(":", 1)[1]) if ":" in key else None
                if claim is None:
                    ok = False
                elif test == "StringEquals":
                    ok = ok and claim in allowed
                elif test == "StringLike":
                    ok = ok and any(fnmatch.fnmatchcase(claim, pattern) for pattern in allowed)
                else:
                    raise AssertionError(f"condition operator {test} is not evaluated by this test")
        if ok:
            return True
    return False
