"""``featurekit cicd demo``: a data scientist's path from branch to prod, run locally against two registries.

It plays what the GitHub workflows do, with the same functions the CLI calls: a dev and a prod registry as local
files (prod protected), a pull request that adds features (plan against prod, apply to its own dev project), the
merge (prod apply refused outside main-branch CI, accepted from it, re-apply a no-op), a second pull request whose
breaking change the gate blocks until it is made compatible, and the teardown of both PR projects.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.rule import Rule

from featurekit.config import Settings, load_settings
from featurekit.config.loader import project_root
from featurekit.demo.example import example_module
from featurekit.services.redis_server import RedisServer

MAIN_CI = "refs/heads/main"  # the ref CI runs for on a merge to main


class DemoStepError(RuntimeError):
    """A step of the demo did not behave as the workflow expects (a bug, not a user error)."""


def _edit(repo: Path, relative: str, old: str, new: str) -> None:
    path = repo / relative
    text = path.read_text()
    if old not in text:
        raise DemoStepError(f"{path}: expected text not found: {old!r}")
    path.write_text(text.replace(old, new, 1))


@contextlib.contextmanager
def _redis_url() -> Iterator[str]:
    import os

    if os.environ.get("FEATUREKIT_REDIS_URL"):
        yield os.environ["FEATUREKIT_REDIS_URL"]
        return
    with RedisServer.start() as server:
        yield server.url


def _environment(name: str, work: Path, repo: Path, redis_url: str, *, protected: bool) -> Settings:
    """The local environment's settings with its own registry file: ``dev`` or ``prod`` (protected)."""
    tier = {"url": redis_url}
    overrides = {
        "feature_repo": str(repo),
        "data_dir": str(work / name),
        "registry": {"path": str(work / name / "registry.db"), "protected": protected},
        "online_store": {"tiers": {"hot": tier, "warm": tier}},
    }
    return load_settings("local", overrides=overrides).model_copy(update={"env": name})


def run_cicd_demo(console: Console, workdir: Path | None = None, comments_dir: Path | None = None) -> None:
    """Run the whole path; raises on the first step that does not behave as CI expects."""
    from featurekit.repo.apply import (
        BreakingChangeError,
        ProtectedEnvironmentError,
        apply_repo,
        checked_repo,
        for_pull_request,
        plan_repo,
        silence_feast_preview_warnings,
        teardown_project,
    )

    silence_feast_preview_warnings()

    with contextlib.ExitStack() as stack:
        work = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="featurekit-cicd-")))
        redis_url = stack.enter_context(_redis_url())
        branch = work / "branch" / "feature_repo"
        if branch.exists():
            shutil.rmtree(branch)
        shutil.copytree(project_root() / "feature_repo", branch, ignore=shutil.ignore_patterns("__pycache__"))
        dev = _environment("dev", work, branch, redis_url, protected=False)
        prod = _environment("prod", work, branch, redis_url, protected=True)
        console.print(
            f"[bold]featurekit cicd demo[/]: dev registry {dev.registry.path}, prod registry {prod.registry.path}"
        )

        def step(title: str) -> None:
            console.print(Rule(title, align="left"))

        def comment(name: str, markdown: str) -> None:
            console.print(Markdown(markdown.replace("<!-- featurekit-plan -->", "")))
            if comments_dir is not None:
                comments_dir.mkdir(parents=True, exist_ok=True)
                (comments_dir / f"{name}.md").write_text(markdown)

        step("1. bootstrap: main's repo applied to prod from main-branch CI")
        apply_repo(prod, checked_repo(prod), ci_ref=MAIN_CI)
        console.print(f"prod: {plan_repo(prod).summary} after the first apply")

        # The pull requests' edits are the example's (``CICD_EDITS`` of ``featurekit.demo.example``):
        # {"add": (file, old, new, feature), "breaking": (file, old, new, feature)}.
        edits = example_module().CICD_EDITS
        added, breaking = edits["add"], edits["breaking"]
        step(f"2. PR #1 adds {added[3]}: check, plan against prod (the PR comment), apply to dev project _pr1")
        _edit(branch, *added[:3])
        checked_repo(prod)
        console.print("featurekit check: feature repo OK")
        comment("pr1-plan-prod", plan_repo(prod).to_markdown())
        pr1 = for_pull_request(dev, 1)
        result = apply_repo(pr1, checked_repo(pr1), allow_breaking=True)
        console.print(f"applied to dev project {result.project}: {result.plan.summary}")

        step("3. merge PR #1: prod apply refused outside main-branch CI, accepted from it, then a no-op")
        try:
            apply_repo(prod, checked_repo(prod), ci_ref=None)
            raise DemoStepError("apply to the protected prod registry was not refused outside CI")
        except ProtectedEnvironmentError as exc:
            console.print(f"[yellow]refused:[/] {escape(str(exc))}", highlight=False)
        result = apply_repo(prod, checked_repo(prod), ci_ref=MAIN_CI)
        console.print(f"[green]applied[/] to prod: {result.plan.summary}")
        again = apply_repo(prod, checked_repo(prod), ci_ref=MAIN_CI)
        console.print(f"re-apply: {again.plan.summary} (applied={again.applied})")

        step(f"4. PR #2 changes the type of {breaking[3]}: the gate blocks the served feature's dtype change")
        _edit(branch, *breaking[:3])
        blocked = plan_repo(prod)
        comment("pr2-plan-prod", blocked.to_markdown())
        try:
            apply_repo(prod, checked_repo(prod), ci_ref=MAIN_CI)
            raise DemoStepError("the breaking change was not blocked")
        except BreakingChangeError as exc:
            console.print(f"[red]blocked:[/] {escape(str(exc))}", highlight=False)

        step("5. PR #2 made compatible (dtype restored): plan clean, dev project _pr2, merge, prod apply")
        _edit(branch, breaking[0], breaking[2], breaking[1])
        console.print(f"plan against prod: {plan_repo(prod).summary}")
        pr2 = for_pull_request(dev, 2)
        apply_repo(pr2, checked_repo(pr2), allow_breaking=True)
        console.print(f"prod: {apply_repo(prod, checked_repo(prod), ci_ref=MAIN_CI).plan.summary}")

        step("6. PRs closed: their dev projects are torn down (registry; the maintenance DAG deletes the rows)")
        for pr in (1, 2):
            down = teardown_project(for_pull_request(dev, pr))
            console.print(f"torn down {down.project}: views {', '.join(down.views)}")
        console.print("[green]done[/]: dev and prod registries each changed only through plan -> apply")
