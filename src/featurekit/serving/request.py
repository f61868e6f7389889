"""Parsing and checking of feature-server request bodies, before any work is done for them.

Every field is checked for type and size with a message naming it (``"entities.user_id[3]"``), so a client mistake
is a 4xx the client can act on, never a 500 from deep inside the read path. Sizes are checked before values, so an
oversized request costs a length check, not a scan. Flags are strict JSON booleans: ``"false"`` or ``1`` are refused
rather than read as true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from featurekit.serving.errors import ServingRequestError

_SCALARS = frozenset({int, float, str, bool, type(None)})


class RequestTooLargeError(ServingRequestError):
    """The request is well-formed but over a configured limit (HTTP 413); the message names the setting."""


@dataclass(frozen=True)
class FeaturesRequest:
    """A checked ``/get-online-features`` body (Feast's ``GetOnlineFeaturesRequest``)."""

    features: list[str]
    feature_service: str | None
    entities: dict[str, list[Any]]
    full_feature_names: bool
    rows: int


def json_object(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServingRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ServingRequestError(f"request body must be a JSON object, got {_kind(request)}")
    return request


def flag(request: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean field: absent -> ``default``; anything but JSON true/false is refused."""
    value = request.get(name, default)
    if not isinstance(value, bool):
        raise ServingRequestError(f'"{name}" must be true or false, got {_kind(value)} {_short(value)}')
    return value


def optional_string(request: dict[str, Any], name: str) -> str | None:
    value = request.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ServingRequestError(f'"{name}" must be a non-empty string, got {_kind(value)} {_short(value)}')
    return value


def columns(request: dict[str, Any], name: str, max_rows: int, setting: str) -> tuple[dict[str, list[Any]], int]:
    """An object of equal-length lists of scalars (``entities`` or ``df``); returns it and the row count."""
    value = request.get(name)
    if not isinstance(value, dict) or not value:
        raise ServingRequestError(f'"{name}" must be a non-empty object of lists, e.g. {{"user_id": [1, 2]}}')
    rows: int | None = None
    first = ""
    for column, values in value.items():
        where = f"{name}.{column}"
        if not isinstance(values, list):
            raise ServingRequestError(f'"{where}" must be a list of values, got {_kind(values)}')
        if len(values) > max_rows:
            raise RequestTooLargeError(
                f'"{where}" has {len(values)} values; the limit is {max_rows} rows per request ({setting})'
            )
        if rows is None:
            rows, first = len(values), column
        elif len(values) != rows:
            raise ServingRequestError(
                f'"{where}" has {len(values)} values but "{name}.{first}" has {rows}: every column needs one '
                f"value per row"
            )
        if not set(map(type, values)) <= _SCALARS:
            index = next(i for i, v in enumerate(values) if type(v) not in _SCALARS)
            raise ServingRequestError(
                f'"{where}[{index}]" is {_kind(values[index])}: values must be numbers, strings or booleans'
            )
    assert rows is not None
    return value, rows


def parse_features_request(body: bytes, max_entities: int) -> FeaturesRequest:
    """Check a ``/get-online-features`` body; ``max_entities`` bounds the entity rows (413 beyond it)."""
    request = json_object(body)
    entities, rows = columns(request, "entities", max_entities, "serving.max_entities")
    service = optional_string(request, "feature_service")
    features = request.get("features", [])
    if features is None:
        features = []
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ServingRequestError('"features" must be a list of "feature_view:feature" strings')
    if not service and not features:
        raise ServingRequestError('give "features" (a non-empty list of "view:feature") or "feature_service"')
    return FeaturesRequest(
        features=features,
        feature_service=service,
        entities=entities,
        full_feature_names=flag(request, "full_feature_names", False),
        rows=rows,
    )


_NUMBER = (int, float)
# Feast types by name (``feast.types``) and by ``ValueType`` name (what ``get_request_data_schema`` returns)
_REQUEST_TYPES: dict[str, tuple[type, ...]] = {
    "Int32": (int,), "INT32": (int,), "Int64": (int,), "INT64": (int,),
    "Float32": _NUMBER, "FLOAT": _NUMBER, "Float64": _NUMBER, "DOUBLE": _NUMBER,
    "String": (str,), "STRING": (str,), "Bool": (bool,), "BOOL": (bool,),
    "UnixTimestamp": _NUMBER, "UNIX_TIMESTAMP": _NUMBER,
}  # fmt: skip


def check_request_data(fields: dict[str, Any], entities: dict[str, list[Any]]) -> None:
    """Request-data values (inputs of on-demand views) must match their declared Feast type; null is refused."""
    for name, feast_type in fields.items():
        values = entities.get(name)
        if values is None:
            continue  # the reader names a missing request-data column
        type_name = getattr(feast_type, "name", None) or str(feast_type)
        allowed = _REQUEST_TYPES.get(type_name)
        if allowed is None:
            continue
        for index, v in enumerate(values):
            if not isinstance(v, allowed) or (isinstance(v, bool) and bool not in allowed):
                raise ServingRequestError(
                    f'"entities.{name}[{index}]" must be {type_name} (request data of an on-demand feature view), '
                    f"got {_kind(v)} {_short(v)}"
                )


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
