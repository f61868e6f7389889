"""User profile features: slow-moving attributes, refreshed daily."""

from datetime import timedelta

from data_sources import user_profile_source
from entities import user
from feast import FeatureView, Field
from feast.types import Float64, Int64, String

user_profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=timedelta(days=3),
    schema=[
        Field(name="user_id", dtype=Int64, description="Join key of the user entity."),
        Field(name="account_age_days", dtype=Int64, description="Days since signup at the snapshot."),
        Field(name="age_years", dtype=Int64, description="Customer age in whole years."),
        Field(name="employment_type", dtype=String, description="salaried, gig or unemployed."),
        Field(name="pay_frequency", dtype=String, description="weekly, biweekly or monthly."),
        Field(name="declared_monthly_income", dtype=Float64, description="Income the user declared at signup."),
        Field(name="state", dtype=String, description="US state of residence (the view's monitoring slice)."),
    ],
    source=user_profile_source,
    online=True,
    description="Slow-moving user attributes, one daily snapshot per user.",
    owner="risk-ml@featurekit.example",
    # slices: null rate, row count and drift are also watched per state, so a one-state outage is not averaged away.
    tags={"tier": "warm", "schedule": "daily", "freshness_slo": "30h", "domain": "cash_advance", "slices": "state"},
)
