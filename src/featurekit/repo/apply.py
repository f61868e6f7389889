"""Plan, apply and tear down the feature repo in an environment's registry, safely.

Apply is a transaction on the registry object (see :mod:`featurekit.repo.registry_lock`): it reads the registry once,
plans against that snapshot, refuses breaking changes unless allowed, lets Feast apply the diff in memory and writes
the result with one conditional write. A concurrent apply makes it stop with a conflict and change nothing; an
unchanged repo plans to nothing and writes nothing.

Apply and teardown write the registry only; they never connect to the online store. CI runs them from hosted
runners, and the production Redis is private to the VPC. Rows of views an apply removed, and of projects a teardown
removed, are deleted in the VPC by the maintenance DAG (:mod:`featurekit.orchestration.maintenance`), which
reconciles Redis with the registry.

Protected environments (``registry.protected``: prod) are applied only from ``main`` in CI (the caller passes the
git ref CI runs for as ``ci_ref``; the CLI's ``--ci-ref``), or with ``force``.
Pull requests apply to their own project ``<project>_pr<N>`` in a non-protected registry and are torn down when
the pull request closes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError
from featurekit.repo.breaking import breaking_changes
from featurekit.repo.feast_config import feature_store_dict, repo_config
from featurekit.repo.fingerprint import PlanFingerprint, StalePlanError, fingerprint_of
from featurekit.repo.loader import LoadedRepo, load_repo
from featurekit.repo.plan import Plan, RepoState, diff_states
from featurekit.repo.registry_lock import STORE_TYPE, RegistryTransaction
from featurekit.repo.rules import Violation, check_repo

MAIN_REF = "refs/heads/main"


class RepoRuleError(FeaturekitError, ValueError):
    """The feature repo breaks repository rules; ``violations`` lists each with file, object and rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  {v}" for v in violations)
        super().__init__(f"{len(violations)} feature definition rule violation(s):\n{lines}")


class BreakingChangeError(FeaturekitError, RuntimeError):
    """The plan contains breaking changes and they were not allowed; ``plan`` holds them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        lines = "\n".join(f"  {b}" for b in plan.breaking)
        super().__init__(
            f"{len(plan.breaking)} breaking change(s) for project {plan.project} in {plan.env}:\n{lines}\n"
            "publish a new feature service version (_vN) instead, or pass --allow-breaking "
            "(in a pull request: the allow-breaking label)"
        )


class ProtectedEnvironmentError(FeaturekitError, RuntimeError):
    """Applying to a protected environment from anywhere but ``main`` in CI, without ``--force``."""


@dataclass
class ApplyResult:
    project: str
    registry: str
    output: str
    plan: Plan
    applied: bool = True
    # Views the apply removed from the registry; the maintenance DAG deletes their online rows.
    removed_views: list[str] = field(default_factory=list)


@dataclass
class TeardownResult:
    project: str
    registry: str
    views: list[str]
    existed: bool


def silence_feast_preview_warnings() -> None:
    """Feast warns on every load that stream and on-demand views are previews; commands print plans, not that."""
    for message in ("Stream feature views are experimental", "On demand feature view is an experimental feature"):
        warnings.filterwarnings("ignore", message=message, category=RuntimeWarning)


def checked_repo(settings: Settings) -> LoadedRepo:
    """Load the repo and refuse it if any rule is broken."""
    repo = load_repo(settings)
    violations = check_repo(repo)
    if violations:
        raise RepoRuleError(violations)
    return repo


# ---- environments: protection and per-PR projects -------------------------------------------------------------


def pr_project(project: str, pr: int) -> str:
    return f"{project}_pr{pr}"


def for_pull_request(settings: Settings, pr: int) -> Settings:
    """Settings for pull request ``pr``: the project ``<project>_pr<N>`` in the same (non-protected) registry."""
    if pr <= 0:
        raise ValueError(f"pull request number must be positive, got {pr}")
    if settings.registry.protected:
        raise ProtectedEnvironmentError(
            f"environment {settings.env!r} is protected: pull requests get their own project in a dev registry, "
            "never in a protected one"
        )
    return settings.model_copy(update={"project": pr_project(settings.project, pr)})


def guard_protected(settings: Settings, action: str, *, force: bool = False, ci_ref: str | None = None) -> None:
    """Refuse to change a protected registry unless running from ``main`` in CI, or forced.

    ``ci_ref`` is the git ref a CI job runs for (GitHub Actions passes ``$GITHUB_REF``); ``None`` is outside CI."""
    if not settings.registry.protected or force:
        return
    if ci_ref == MAIN_REF:
        return
    where = f"CI on {ci_ref}" if ci_ref else "outside CI"
    raise ProtectedEnvironmentError(
        f"environment {settings.env!r} is protected (registry.protected in config/{settings.env}.yaml): "
        f"{action} runs only from {MAIN_REF} in CI (--ci-ref {MAIN_REF}), this is {where}; "
        "pass --force to override"
    )


# ---- the registry session: one snapshot, Feast working in memory ----------------------------------------------


@dataclass
class RegistrySession:
    settings: Settings
    transaction: RegistryTransaction
    store: Any

    @property
    def registry(self) -> Any:
        return self.store.registry

    def state(self) -> RepoState:
        return RepoState.from_registry(self.registry, self.settings.project)


@contextlib.contextmanager
def registry_session(settings: Settings) -> Iterator[RegistrySession]:
    """A Feast ``FeatureStore`` whose registry is one snapshot of the environment's registry object."""
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    transaction = RegistryTransaction.begin(settings.registry.path)
    config = feature_store_dict(settings)
    config["registry"]["registry_store_type"] = STORE_TYPE
    config["registry"]["cache_ttl_seconds"] = 0  # never re-read: the snapshot is the state we plan against
    with transaction.bound():
        store = FeatureStore(
            config=RepoConfig(repo_path=settings.feature_repo, **config), repo_path=str(settings.feature_repo)
        )
        store.registry  # noqa: B018 - build the registry inside the transaction
        yield RegistrySession(settings, transaction, store)


@dataclass
class _Planned:
    plan: Plan
    before: RepoState
    after: RepoState
    registry_diff: Any
    new_infra: Any


def _plan(session: RegistrySession, repo: LoadedRepo, allow_breaking: bool) -> _Planned:
    settings = session.settings
    before = session.state()
    registry_diff, _, new_infra = session.store.plan(repo.contents)  # also runs Feast's inference on the repo
    after = RepoState.from_contents(repo.contents)
    plan = Plan(
        env=settings.env,
        project=settings.project,
        registry=settings.registry.path,
        objects=diff_states(before, after),
        breaking=breaking_changes(before, after),
        allow_breaking=allow_breaking,
    )
    return _Planned(plan, before, after, registry_diff, new_infra)


def plan_repo(settings: Settings, repo: LoadedRepo | None = None, *, allow_breaking: bool = False) -> Plan:
    """The plan of ``repo`` against the environment's registry (read only; breaking changes listed, not raised)."""
    repo = repo or load_repo(settings)
    with registry_session(settings) as session:
        return _plan(session, repo, allow_breaking).plan


def reviewed_plan(
    settings: Settings, repo: LoadedRepo | None = None, *, allow_breaking: bool = False
) -> tuple[Plan, PlanFingerprint]:
    """:func:`plan_repo` plus the fingerprint of what it was computed from (repo content, registry version)."""
    repo = repo or load_repo(settings)
    with registry_session(settings) as session:
        plan = _plan(session, repo, allow_breaking).plan
        return plan, fingerprint_of(settings, session.transaction.snapshot.token)


def apply_repo(
    settings: Settings,
    repo: LoadedRepo | None = None,
    *,
    allow_breaking: bool = False,
    force: bool = False,
    ci_ref: str | None = None,
    on_planned: Callable[[Plan], None] | None = None,
    expect: PlanFingerprint | None = None,
) -> ApplyResult:
    """Apply the repo to the environment's registry as one conditional write, then update the online store.

    Only the registry is written: the online rows of removed views are reconciled away in the VPC by the
    maintenance DAG. With ``expect`` (the reviewed plan's fingerprint), refuses with
    :class:`~featurekit.repo.fingerprint.StalePlanError` unless the repo and the registry version are the reviewed
    ones. Raises :class:`ProtectedEnvironmentError`, :class:`RepoRuleError`, :class:`BreakingChangeError` or
    :class:`~featurekit.repo.registry_lock.RegistryConflictError`; in each case nothing has been changed.
    ``on_planned`` sees the plan before anything is written (to print or confirm it).
    """
    from feast.diff.registry_diff import apply_diff_to_registry

    guard_protected(settings, "apply", force=force, ci_ref=ci_ref)
    repo = repo or checked_repo(settings)
    with registry_session(settings) as session:
        planned = _plan(session, repo, allow_breaking)
        plan = planned.plan
        if expect is not None:
            problems = expect.differences(fingerprint_of(settings, session.transaction.snapshot.token))
            if problems:
                raise StalePlanError(problems, plan)
        if plan.blocked:
            raise BreakingChangeError(plan)
        if not plan.has_changes:
            return ApplyResult(settings.project, settings.registry.path, plan.to_text(), plan, applied=False)
        _check_online_layout(settings, planned.after)
        if on_planned is not None:
            on_planned(plan)
        apply_diff_to_registry(session.registry, planned.registry_diff, settings.project, commit=False)
        session.registry.update_infra(planned.new_infra, settings.project, commit=True)
        session.transaction.publish()
    removed = sorted(set(_online_views(planned.before)) - set(_online_views(planned.after)))
    return ApplyResult(settings.project, settings.registry.path, plan.to_text(), plan, True, removed)


def _online_views(state: RepoState) -> dict[str, Any]:
    return {**state.of("feature view"), **state.of("stream feature view")}


def _check_online_layout(settings: Settings, after: RepoState) -> None:
    """Compile the online layout of every view the apply keeps (tier exists, key and feature types supported)
    before anything is written. Compiling is pure: no connection to the online store is opened."""
    from feast.infra.provider import get_provider

    store = get_provider(repo_config(settings)).online_store
    compiled = getattr(store, "compiled", None)
    if callable(compiled):
        config = repo_config(settings)
        for view in _online_views(after).values():
            compiled(config, view)


def teardown_project(settings: Settings, *, force: bool = False, ci_ref: str | None = None) -> TeardownResult:
    """Remove ``settings.project`` from the registry (idempotent).

    Only the registry is written; the project's online rows are deleted in the VPC by the maintenance DAG, which
    finds rows of projects the registry no longer has.
    """
    guard_protected(settings, "teardown", force=force, ci_ref=ci_ref)
    project = settings.project
    with registry_session(settings) as session:
        state = session.state()
        if not state.of("project"):
            return TeardownResult(project, settings.registry.path, [], existed=False)
        views = list(_online_views(state).values())
        registry = session.registry
        registry.delete_project(project, commit=False)
        # Feast keeps a project_metadata entry that would resurrect the project on the next load; drop it too.
        proto = registry.cached_registry_proto
        kept = [m for m in proto.project_metadata if m.project != project]
        del proto.project_metadata[:]
        proto.project_metadata.extend(kept)
        registry.commit()
        session.transaction.publish()
    return TeardownResult(project, settings.registry.path, sorted(v.name for v in views), existed=True)
