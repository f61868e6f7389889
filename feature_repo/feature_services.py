"""Feature services: the versioned feature vectors models read. A breaking change means a new ``_vN``."""

from feast import FeatureService
from feature_views.balances import user_balance_live
from feature_views.on_demand import cash_advance_ratios
from feature_views.profile import user_profile
from feature_views.transactions import user_txn_1h, user_txn_24h, user_txn_30d

cash_advance_v1 = FeatureService(
    name="cash_advance_v1",
    features=[user_profile, user_txn_30d, user_txn_24h, user_txn_1h, user_balance_live, cash_advance_ratios],
    description="Everything the cash-advance eligibility model reads for one request.",
    owner="risk-ml@featurekit.example",
    tags={"model": "cash_advance_eligibility", "consumer": "cash-advance-service"},
)
