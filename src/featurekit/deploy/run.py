"""``featurekit deploy``: build the artifacts once, then deploy MWAA, EMR Serverless and ECS in that order.

Order matters: the DAGs and workers get the new code first; the streaming jobs are restarted next (from their
checkpoints); the feature server last, when everything that writes the online store runs the new code.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from featurekit.config.settings import Settings
from featurekit.deploy.artifacts import (
    DeployError,
    build_streaming_env,
    build_wheel,
    locked_pins,
    pack_streaming_env,
    streaming_requirements,
)
from featurekit.deploy.context import Action, DeployContext
from featurekit.deploy.ecs import deploy_ecs
from featurekit.deploy.emr import deploy_emr, streaming_applications
from featurekit.deploy.mwaa import deploy_mwaa

TARGETS = ("mwaa", "emr", "ecs")


def current_commit(root: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise DeployError(f"cannot read the commit of {root} (git rev-parse HEAD): {done.stderr.strip()}")
    return done.stdout.strip()


def deploy(
    settings: Settings,
    root: Path,
    *,
    targets: tuple[str, ...] = TARGETS,
    dry_run: bool = False,
    commit: str | None = None,
    streaming_venv: Path | None = None,
    client: Callable[[str], Any] | None = None,
    emr_timeout_s: float = 900,
) -> list[Action]:
    """Deploy ``root`` (a checkout) to ``settings``' AWS environment; returns every action (taken or, dry run, not).

    ``streaming_venv``: an environment already built for the streaming jobs (default: built here with uv from the
    wheel and ``uv.lock``)."""
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise DeployError(f"unknown deploy target(s) {unknown}; choose from {list(TARGETS)}")
    ctx = DeployContext(settings, root, commit or current_commit(root), dry_run=dry_run, client=client)
    ctx.deploy  # noqa: B018 - fail before building anything when the environment has no deploy settings
    with tempfile.TemporaryDirectory(prefix="featurekit-deploy-") as work:
        wheel = build_wheel(root, Path(work) / "dist")
        pins = locked_pins(root)
        if "mwaa" in targets:
            deploy_mwaa(ctx, wheel, pins)
        if "emr" in targets:
            venv = streaming_venv or build_streaming_env(Path(work) / "venv", wheel, streaming_requirements(pins))
            deploy_emr(
                ctx, pack_streaming_env(venv, root), streaming_applications(ctx.settings), timeout_s=emr_timeout_s
            )
        if "ecs" in targets:
            deploy_ecs(ctx, ctx.commit)
    return ctx.actions
