"""Expected errors share one base class and carry their own retry decision; nothing keeps a list of them by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer

import featurekit
from featurekit.cli.options import friendly_errors
from featurekit.errors import FeaturekitError, TransientError
from featurekit.intervals import DataInterval

SRC = Path(featurekit.__file__).parent

# Exceptions that are not expected failures, each with why: they never reach a user as the kit's message.
INTERNAL = {
    "featurekit.streaming.kafka_probe.BrokerUnavailable": "control flow inside the Kafka source's retry",
    "featurekit.streaming.kafka_options.KafkaSourceError": "raised inside Spark's Python data source, Spark wraps it",
    "featurekit.streaming.events.InvalidEvent": "an event routed to the dead-letter topic, never raised to a caller",
    "featurekit.serving.http._Reject": "an HTTP status answer, control flow inside the server",
    "featurekit.config.interpolation.MissingVariableError": "turned into ConfigError naming the file by the loader",
    "featurekit.demo.cicd.DemoStepError": "the demo found a bug: it keeps its traceback",
}


def _classes() -> dict[str, list[str]]:
    """``module.Class`` -> base names of every class in src/featurekit (read from the source: nothing imported)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(("featurekit", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found[f"{module}.{node.name}"] = [getattr(b, "id", None) or getattr(b, "attr", "") for b in node.bases]
    return found


def test_every_error_of_the_kit_is_expected_or_named_internal() -> None:
    classes = _classes()
    by_name = {dotted.rsplit(".", 1)[1]: bases for dotted, bases in classes.items()}

    def expected(bases: list[str]) -> bool:
        return any(b in ("FeaturekitError", "TransientError") or expected(by_name.get(b, [])) for b in bases)

    def exception(bases: list[str]) -> bool:
        return any(b.endswith(("Error", "Exception")) or exception(by_name.get(b, [])) for b in bases)

    errors = {dotted for dotted, bases in classes.items() if exception(bases)}
    assert len(errors) > 40  # the scan sees the kit's errors
    assert set(INTERNAL) <= errors, set(INTERNAL) - errors
    base = {"featurekit.errors.FeaturekitError"}
    stray = sorted(d for d in errors - set(INTERNAL) - base if not expected(classes[d]))
    assert not stray, f"derive these from featurekit.errors.FeaturekitError (or name them in INTERNAL): {stray}"
    # The scan reads names; the classes it accepts really are FeaturekitErrors once imported.
    from featurekit.online_store.errors import EntityRowsError
    from featurekit.warehouse.engines import WarehouseQueryError

    assert issubclass(EntityRowsError, FeaturekitError) and issubclass(WarehouseQueryError, FeaturekitError)


def test_the_marker_follows_the_class() -> None:
    from featurekit.observability.errors import RegistryUnavailableError
    from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError, TierNotConfiguredError
    from featurekit.pipelines.extract import ExtractError
    from featurekit.repo.registry_lock import RegistryConflictError
    from featurekit.repo.slo import InvalidSLOError
    from featurekit.services.redis_server import ServiceUnavailableError

    for permanent in (ExtractError, TierNotConfiguredError, InvalidSLOError):
        assert permanent.permanent and issubclass(permanent, FeaturekitError)
    for transient in (RedisUnavailableError, RegistryUnavailableError, RegistryConflictError, ServiceUnavailableError):
        assert not transient.permanent and issubclass(transient, TransientError)
    assert issubclass(RedisUnavailableError, OnlineStoreError) and issubclass(RedisUnavailableError, RuntimeError)


def test_the_cli_prints_any_expected_error_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from featurekit.online_store.errors import TierNotConfiguredError

    @friendly_errors
    def command() -> None:
        raise TierNotConfiguredError("warm", ["hot"])  # once caught by hand in `featurekit serve`

    with pytest.raises(typer.Exit) as exit_:
        command()
    assert exit_.value.exit_code == 1
    assert "tier 'warm' has no Redis URL" in capsys.readouterr().err

    @friendly_errors
    def buggy() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        buggy()


def test_dag_tasks_fail_permanent_errors_at_once_and_let_airflow_retry_the_rest() -> None:
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException

    from featurekit.online_store.errors import RedisUnavailableError
    from featurekit.orchestration.tasks import _fail_permanently
    from featurekit.quality.validate import DataQualityError

    interval = DataInterval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    with (
        pytest.raises(AirflowFailException, match=r"^validate v .*: 3 rows fail"),
        _fail_permanently("validate", "v", interval),
    ):
        raise DataQualityError("3 rows fail")
    for retried in (RedisUnavailableError("redis down"), ConnectionError("socket")):
        with pytest.raises(type(retried)), _fail_permanently("materialize", "v", interval):
            raise retried
