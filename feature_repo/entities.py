"""Entities of the cash-advance domain."""

from feast import Entity, ValueType

user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.INT64,
    description="A customer of the app; the unit every cash-advance decision is made for.",
    owner="risk-ml@featurekit.example",
    tags={"domain": "cash_advance"},
)
