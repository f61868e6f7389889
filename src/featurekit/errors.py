"""The kit's expected failures: each carries a message that names what is wrong and where.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from featurekit.config.loader import ConfigError
from featurekit.services.redis_server import ServiceUnavailableError


def _expected() -> tuple[type[BaseException], ...]:
    from featurekit.deploy.artifacts import DeployError
    from featurekit.monitoring.impact import UnknownTargetError
    from featurekit.monitoring.monitor import SourceBrokenError
    from featurekit.observability.errors import OpsError
    from featurekit.offline.availability import AvailabilityModeError
    from featurekit.offline.schema import SchemaDriftError
    from featurekit.offline.training_filter import UnvalidatedSourceError
    from featurekit.orchestration.manifest import ManifestError
    from featurekit.pipelines.extract import ExtractError
    from featurekit.pipelines.materialize import MaterializeError
    from featurekit.quality.stream_gate import StreamQualityError
    from featurekit.quality.suites import SuiteError
    from featurekit.quality.validate import DataQualityError
    from featurekit.repo.apply import BreakingChangeError, ProtectedEnvironmentError, RepoRuleError
    from featurekit.repo.fingerprint import FingerprintError, StalePlanError
    from featurekit.repo.loader import RepoLoadError
    from featurekit.repo.registry_lock import RegistryAccessError, RegistryConflictError
    from featurekit.streaming.errors import StreamingError
    from featurekit.warehouse.engines import WarehouseQueryError
    from featurekit.warehouse.sql import FeatureSQLError

    return (
        UnknownTargetError,
        SourceBrokenError,
        AvailabilityModeError,
        ConfigError,
        ServiceUnavailableError,
        RepoRuleError,
        BreakingChangeError,
        ProtectedEnvironmentError,
        RegistryConflictError,
        RegistryAccessError,
        RepoLoadError,
        FeatureSQLError,
        WarehouseQueryError,
        SchemaDriftError,
        UnvalidatedSourceError,
        ExtractError,
        MaterializeError,
        OpsError,
        SuiteError,
        DataQualityError,
        StreamQualityError,
        ManifestError,
        StreamingError,
        FingerprintError,
        StalePlanError,
        DeployError,
    )


EXPECTED_ERRORS = _expected()
