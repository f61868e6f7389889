"""Request-time features: the requested amount against what the user has and earns."""

from typing import Any

from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64
from feature_views.balances import user_balance_live
from feature_views.transactions import user_txn_30d

cash_advance_request = RequestSource(
    name="cash_advance_request",
    schema=[Field(name="requested_amount", dtype=Float64, description="Amount the user asks to advance.")],
    description="Fields sent by the app with each cash-advance request.",
    owner="risk-ml@featurekit.example",
)


@on_demand_feature_view(
    sources=[user_balance_live, user_txn_30d, cash_advance_request],
    # No Field descriptions here: Feast 0.67 compares declared ODFV fields to the inferred ones including the
    # description, so a described field fails inference at apply.
    # amount_to_balance = requested_amount / balance (null if <= 0); amount_to_income = requested_amount / income_30d
    # (null if 0).
    schema=[
        Field(name="amount_to_balance", dtype=Float64),
        Field(name="amount_to_income", dtype=Float64),
    ],
    mode="python",
    description="Affordability ratios of the requested advance; computed identically online and offline.",
    owner="risk-ml@featurekit.example",
    tags={"tier": "hot", "schedule": "request", "domain": "cash_advance"},
)
def cash_advance_ratios(inputs: dict[str, Any]) -> dict[str, Any]:
    # Self-contained on purpose: Feast stores the UDF's source in the registry and runs it without this module.
    def ratio(numerator: float | None, denominator: float | None) -> float | None:
        if numerator is None or denominator is None or denominator <= 0:
            return None
        return float(numerator) / float(denominator)

    amounts = inputs["requested_amount"]
    return {
        "amount_to_balance": [ratio(a, b) for a, b in zip(amounts, inputs["balance"], strict=True)],
        "amount_to_income": [ratio(a, i) for a, i in zip(amounts, inputs["income_30d"], strict=True)],
    }
