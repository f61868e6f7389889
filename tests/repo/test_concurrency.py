"""Optimistic concurrency on the registry object: of two applies planned from the same registry version, one wins
and the other stops with a conflict, writes nothing, and loses nobody's objects."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from featurekit.repo.apply import BreakingChangeError, apply_repo
from featurekit.repo.feast_config import feature_store
from featurekit.repo.loader import load_repo
from featurekit.repo.registry_lock import RegistryConflictError, RegistryTransaction, registry_backend
from support.cicd import edit

NEW_FEATURE = (
    '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n',
    '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
    '        Field(name="max_credit_24h", dtype=Float64, description="Largest single credit over 24 hours."),\n',
)
NEW_SERVICE = (
    "\ncash_advance_v2 = FeatureService(\n"
    '    name="cash_advance_v2",\n'
    "    features=[user_profile, user_txn_30d],\n"
    '    description="Vector for the v2 model.",\n'
    '    owner="risk-ml@featurekit.example",\n'
    ")\n"
)


def two_repos(tmp_path: Path, source: Path) -> tuple[Path, Path]:
    """Repo A adds a feature to user_txn_24h; repo B adds the feature service cash_advance_v2."""
    import shutil

    a, b = tmp_path / "repo_a", tmp_path / "repo_b"
    shutil.copytree(source, a)
    shutil.copytree(source, b)
    edit(a, "feature_views/transactions.py", *NEW_FEATURE)
    with (b / "feature_services.py").open("a") as out:
        out.write(NEW_SERVICE)
    return a, b


@pytest.fixture(params=["s3", "file"])
def registry_path(request, s3_endpoint: str, tmp_path: Path) -> str | None:
    """The dev registry in S3 (conditional PutObject) or in a local file (compare-and-swap)."""
    return None if request.param == "s3" else str(tmp_path / "registry" / "registry.db")


def test_two_concurrent_applies_one_success_one_conflict(make_env, feature_repo_copy, tmp_path, registry_path) -> None:
    base = make_env("dev", feature_repo_copy, registry=registry_path)
    apply_repo(base, load_repo(base))
    repo_a, repo_b = two_repos(tmp_path, feature_repo_copy)
    settings_a = make_env("dev", repo_a, registry=base.registry.path)
    settings_b = make_env("dev", repo_b, registry=base.registry.path)
    loaded_a, loaded_b = load_repo(settings_a), load_repo(settings_b)  # imports are not thread-safe; load first

    both_planned = threading.Barrier(2, timeout=60)
    a_finished = threading.Event()
    outcome: dict[str, object] = {}

    def run(name: str, settings, repo) -> None:
        def on_planned(plan) -> None:
            both_planned.wait()  # both have read and planned against the same registry version
            if name == "b":
                a_finished.wait(timeout=60)  # then a writes first, b second

        try:
            outcome[name] = apply_repo(settings, repo, on_planned=on_planned)
        except Exception as exc:  # the outcome is what the test inspects
            outcome[name] = exc
        finally:
            if name == "a":
                a_finished.set()

    threads = [
        threading.Thread(target=run, args=("a", settings_a, loaded_a)),
        threading.Thread(target=run, args=("b", settings_b, loaded_b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert getattr(outcome["a"], "applied", False), outcome["a"]
    assert isinstance(outcome["b"], RegistryConflictError), outcome["b"]
    assert "changed since it was read" in str(outcome["b"]) and "Nothing was written" in str(outcome["b"])

    # Read back with Feast's own registry store: a's change is there, b's is not, nothing of the baseline is lost.
    store = feature_store(settings_a)
    views = {v.name: v for v in store.list_feature_views()}
    assert "max_credit_24h" in {f.name for f in views["user_txn_24h"].features}
    assert {"user_profile", "user_txn_24h", "user_txn_30d"} <= set(views)
    assert {s.name for s in store.list_stream_feature_views()} == {"user_balance_live", "user_txn_1h"}
    assert [s.name for s in store.list_feature_services()] == ["cash_advance_v1"]

    # Retrying b unchanged would silently drop a's new feature: the gate stops it, as it should a stale branch.
    with pytest.raises(BreakingChangeError, match=r"user_txn_24h\.max_credit_24h"):
        apply_repo(settings_b, load_repo(settings_b))
    # b rebased on a's change applies exactly its own addition.
    with (repo_a / "feature_services.py").open("a") as out:
        out.write(NEW_SERVICE)
    rebased = apply_repo(settings_a, load_repo(settings_a))
    assert [(o.action, o.name) for o in rebased.plan.objects] == [("add", "cash_advance_v2")]
    assert sorted(s.name for s in feature_store(settings_a).list_feature_services()) == [
        "cash_advance_v1",
        "cash_advance_v2",
    ]


def test_simultaneous_writes_to_a_local_registry_are_serialised(tmp_path: Path) -> None:
    """No ordering between the writers: the lock makes compare-and-swap atomic, so exactly one of eight wins."""
    backend = registry_backend(str(tmp_path / "race" / "registry.db"))
    start = backend.read()
    ready = threading.Barrier(8, timeout=30)
    results: list[object] = []

    def write(i: int) -> None:
        ready.wait()
        try:
            results.append(backend.write_if_unchanged(f"writer {i}".encode(), start))
        except RegistryConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [r for r in results if isinstance(r, str)]
    assert len(results) == 8 and len(winners) == 1
    assert backend.read().token == winners[0]


def test_conditional_write_refuses_a_stale_token(s3_endpoint: str, tmp_path: Path) -> None:
    for location in ("s3://featurekit-dev-registry/stale-token/registry.pb", str(tmp_path / "stale" / "registry.db")):
        backend = registry_backend(location)
        empty = backend.read()
        assert empty.data is None and empty.token is None
        first = backend.write_if_unchanged(b"one", empty)
        with pytest.raises(RegistryConflictError, match="another apply finished first"):
            backend.write_if_unchanged(b"two", empty)  # created by someone else since we read "absent"
        current = backend.read()
        assert current.data == b"one" and current.token == first
        backend.write_if_unchanged(b"three", current)
        with pytest.raises(RegistryConflictError):
            backend.write_if_unchanged(b"four", current)
        assert backend.read().data == b"three"


def test_transaction_publishes_nothing_when_nothing_was_staged(s3_endpoint: str) -> None:
    transaction = RegistryTransaction.begin("s3://featurekit-dev-registry/untouched/registry.pb")
    assert transaction.publish() is None
    assert registry_backend(transaction.location).read().data is None


def test_unreachable_or_missing_registry_bucket_is_a_clear_error(s3_endpoint: str) -> None:
    from featurekit.repo.registry_lock import RegistryAccessError

    with pytest.raises(RegistryAccessError, match=r"s3://no-such-bucket/registry\.pb: reading failed: NoSuchBucket"):
        registry_backend("s3://no-such-bucket/registry.pb").read()
    with pytest.raises(RegistryAccessError, match="only s3:// and local paths"):
        registry_backend("gs://bucket/registry.pb")
