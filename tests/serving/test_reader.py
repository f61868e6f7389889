"""The fast read path returns exactly what stock Feast's ``FeatureStore.get_online_features`` returns through the
featurekit online store, and fails clearly on bad requests."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest

from featurekit.serving import EntityRowsError, FeatureReferenceError

PROFILE = ["user_profile:age", "user_profile:credit_limit", "user_profile:country", "user_profile:verified"]
BALANCE = ["user_balance:balance", "user_balance:pending"]


def _same(stock: dict, fast: dict) -> None:
    assert list(fast) == list(stock)
    for name in stock:
        for a, b in zip(stock[name], fast[name], strict=True):
            if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
                assert math.isnan(b)
            else:
                assert a == b, (name, stock[name], fast[name])


@pytest.mark.parametrize("full_feature_names", [False, True])
def test_feature_list_matches_stock_feast(feature_store, reader, full_feature_names):
    rows = [{"user_id": i} for i in (1, 2, 7, 13, 14, 200, 999)]
    features = PROFILE + BALANCE
    before = reader.get_online_features(features, rows).to_dict()
    assert before["age"][3] == 33  # user 13: still inside the ttl
    time.sleep(max(0.0, feature_store.user13_expires_at.timestamp() - time.time() + 0.05))
    stock = feature_store.get_online_features(features, rows, full_feature_names=full_feature_names).to_dict()
    fast = reader.get_online_features(features, rows, full_feature_names=full_feature_names).to_dict()
    _same(stock, fast)
    assert fast["user_id"] == [1, 2, 7, 13, 14, 200, 999]
    key = "user_balance__balance" if full_feature_names else "balance"
    assert fast[key][0] is None and fast[key][1] == pytest.approx(6.6)  # odd ids have no balance row
    age = "user_profile__age" if full_feature_names else "age"
    assert fast[age][2] is None and fast[age][3] is None  # null value; past-ttl row


def test_feature_service_with_odfv_matches_stock_feast(feature_store, reader):
    service = feature_store.get_feature_service("cash_advance_v1")
    rows = [{"user_id": i, "requested_amount": 50.0} for i in (2, 3, 40, 500)]
    stock = feature_store.get_online_features(service, rows).to_dict()
    fast = reader.get_online_features(service, rows).to_dict()
    _same(stock, fast)
    assert "requested_amount" not in fast
    assert fast["can_cover"] == [False, False, True, False]


def test_pandas_mode_odfv_matches_stock_feast(feature_store, reader):
    rows = {"user_id": [1, 5, 9], "requested_amount": [10.0, 20.5, 1000.0]}
    features = ["user_profile:credit_limit", "advance_pandas:limit_headroom"]
    stock = feature_store.get_online_features(features, rows).to_dict()
    fast = reader.get_online_features(features, rows).to_dict()
    _same(stock, fast)


def test_aliased_projection_and_string_keys_match_stock_feast(feature_store, reader):
    service = feature_store.get_feature_service("aliased_v1")
    rows = [{"user_id": i} for i in (2, 4)]
    _same(
        feature_store.get_online_features(service, rows, full_feature_names=True).to_dict(),
        reader.get_online_features(service, rows, full_feature_names=True).to_dict(),
    )
    rows = [{"merchant_id": m} for m in ("m1", "m20", "nope")]
    stock = feature_store.get_online_features(["merchant_risk:risk_score"], rows).to_dict()
    fast = reader.get_online_features(["merchant_risk:risk_score"], rows).to_dict()
    _same(stock, fast)
    assert fast["risk_score"][2] is None


def test_event_timestamps_and_ages_on_request(feature_store, reader, now):
    rows = [{"user_id": 2}, {"user_id": 3}]
    features = ["user_profile:age", "user_balance:balance"]
    stock = feature_store.get_online_features(features, rows).to_dict(include_event_timestamps=True)
    result = reader.get_online_features(features, rows, include_event_timestamps=True)
    _same(stock, result.to_dict())
    assert result.to_dict()["balance__ts"] == [int(now.timestamp()), 0]
    ts = result.event_timestamps()
    assert ts["user_balance"] == [now, None]
    assert ts["user_profile"][0] == now - timedelta(minutes=2)
    ages = result.ages_seconds()["user_profile"]
    assert 120 <= ages[0] < 180 and ages[1] is not None


def test_large_batch_vectorized_path_matches_small_batch_path(reader):
    ids = list(range(1, 201)) * 3
    big = reader.get_online_features(PROFILE + BALANCE, {"user_id": ids}).to_dict()
    small = {}
    for start in range(0, len(ids), 5):
        part = reader.get_online_features(PROFILE + BALANCE, {"user_id": ids[start : start + 5]}).to_dict()
        for k, v in part.items():
            small.setdefault(k, []).extend(v)
    assert big == small


def test_unknown_feature_reference_is_named(reader):
    with pytest.raises(FeatureReferenceError, match="user_profile:nope"):
        reader.get_online_features(["user_profile:nope"], [{"user_id": 1}])
    with pytest.raises(FeatureReferenceError, match="no_such_view"):
        reader.get_online_features(["no_such_view:x"], [{"user_id": 1}])
    with pytest.raises(FeatureReferenceError, match="no_such_service"):
        reader.feature_service("no_such_service")


def test_missing_entity_column_is_named(reader):
    with pytest.raises(EntityRowsError, match=r"no join key column 'user_id'.*user_profile"):
        reader.get_online_features(PROFILE, [{"customer": 1}])


def test_missing_request_data_is_named(reader):
    with pytest.raises(EntityRowsError, match="requested_amount"):
        reader.get_online_features(["advance_python:can_cover"], [{"user_id": 2}])


@pytest.mark.parametrize("ids", [["a", "b"], ["x"] * 40, [1.5]])
def test_wrong_key_type_is_named(reader, ids):
    with pytest.raises(EntityRowsError, match=r"'user_id'.*must"):
        reader.get_online_features(PROFILE, {"user_id": ids})


def test_corrupt_row_is_an_error_for_that_key_only(reader, feature_store, redis_url):
    import redis

    view = reader.store.compiled(feature_store.config, feature_store.get_feature_view("user_profile"))
    field, bucket = view.keyspace.encode_values([4])
    redis.Redis.from_url(redis_url).hset(view.keyspace.bucket_key(bucket), field, b"\x01garbage")
    result = reader.get_online_features(PROFILE, {"user_id": [2, 4, 6]})
    assert result.to_dict()["age"] == [22, None, 26]
    assert result.errors()[0]["feature_view"] == "user_profile" and result.errors()[0]["row"] == 1
    body = result.to_feast_json()
    assert body["results"][1]["statuses"] == ["PRESENT", "INVALID", "PRESENT"]


def test_plan_is_recompiled_when_the_registry_changes(feature_store, reader):
    from feast import FeatureView, Field
    from feast.types import Float32

    from support.serving_project import USER, USER_SOURCE

    reader.get_online_features(["user_profile:age"], [{"user_id": 2}])
    assert not reader.refresh_if_changed()
    extra = FeatureView(
        name="user_extra",
        entities=[USER],
        ttl=timedelta(days=1),
        schema=[
            Field(name="user_id", dtype=feature_store.get_feature_view("user_profile").entity_columns[0].dtype),
            Field(name="score", dtype=Float32),
        ],
        source=USER_SOURCE,
    )
    feature_store.apply([extra])
    assert reader.refresh_if_changed()
    result = reader.get_online_features(["user_extra:score"], [{"user_id": 2}]).to_dict()
    assert result == {"user_id": [2], "score": [None]}
