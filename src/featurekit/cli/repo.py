"""Feature repo commands: ``check``, ``plan``, ``apply``, ``teardown``; the same commands CI runs.

Exit codes: 0 success, 1 an error (message printed), 3 ``plan`` found breaking changes that were not allowed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from featurekit.cli.options import EnvOption, console, err_console, friendly_errors

if TYPE_CHECKING:
    from featurekit.quality.preview import PlanWithPreview
    from featurekit.repo.plan import Plan

BLOCKED_EXIT_CODE = 3

PrOption = Annotated[
    int | None,
    typer.Option("--pr", help="Pull request number: use the project <project>_pr<N> (non-protected registries only)."),
]
AllowBreakingOption = Annotated[
    bool,
    typer.Option("--allow-breaking", help="Let breaking changes through (CI: the allow-breaking PR label)."),
]
FingerprintFileOption = Annotated[
    Path | None,
    typer.Option(
        "--fingerprint-file",
        help="Write what the plan was computed from (repo sha256, registry version): the merge apply checks it.",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Change a protected environment from outside main-branch CI."),
]

CiRefOption = Annotated[
    str | None,
    typer.Option(
        "--ci-ref",
        help='The git ref a CI job runs for (GitHub Actions: --ci-ref "$GITHUB_REF"); a protected environment is '
        "changed only for refs/heads/main.",
    ),
]


class PlanFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _settings(env: str | None, pr: int | None):
    from featurekit.config import load_settings
    from featurekit.repo.apply import for_pull_request, silence_feast_preview_warnings

    silence_feast_preview_warnings()

    settings = load_settings(env)
    return for_pull_request(settings, pr) if pr is not None else settings


@friendly_errors
def check(env: EnvOption = None) -> None:
    """Check the feature definitions against the repository rules (owner, ttl, tags, SQL, expectations, names)."""
    from featurekit.config import load_settings
    from featurekit.repo.apply import silence_feast_preview_warnings
    from featurekit.repo.loader import load_repo
    from featurekit.repo.rules import check_repo

    silence_feast_preview_warnings()
    violations = check_repo(load_repo(load_settings(env)))
    for violation in violations:
        console.print(str(violation), highlight=False, markup=False, soft_wrap=True)
    if violations:
        console.print(f"[red]{len(violations)} violation(s)[/]")
        raise typer.Exit(code=1)
    console.print("[green]feature repo OK[/]")


@friendly_errors
def plan(
    env: EnvOption = None,
    pr: PrOption = None,
    output_format: Annotated[PlanFormat, typer.Option("--format", "-f", help="Output format.")] = PlanFormat.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the plan to this file.")] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown-file", help="Also write the Markdown plan (the PR comment) here.")
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json-file", help="Also write the JSON plan here.")] = None,
    fingerprint_file: FingerprintFileOption = None,
    allow_breaking: AllowBreakingOption = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="Add a data preview of new and changed views (quality.preview bounds).")
    ] = False,
    preview_base: Annotated[
        str | None,
        typer.Option("--preview-base", help="Current definitions for the preview: a git ref (HEAD^1) or a directory."),
    ] = None,
    preview_env: Annotated[
        str | None, typer.Option("--preview-env", help="Environment whose warehouse the preview reads (default --env).")
    ] = None,
) -> None:
    """Diff the feature repo against the environment's registry and run the breaking-change gate."""
    from featurekit.repo.apply import reviewed_plan

    settings = _settings(env, pr)
    result, fingerprint = reviewed_plan(settings, allow_breaking=allow_breaking)
    if fingerprint_file is not None:
        fingerprint_file.parent.mkdir(parents=True, exist_ok=True)
        fingerprint_file.write_text(fingerprint.to_json())
    shown: Plan | PlanWithPreview = result
    if preview:
        from featurekit.config import load_settings
        from featurekit.quality.preview import with_preview

        shown = with_preview(result, load_settings(preview_env) if preview_env else settings, base=preview_base)
    for path, render in ((markdown_file, shown.to_markdown), (json_file, shown.to_json)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render().rstrip("\n") + "\n")
    rendered = {
        PlanFormat.text: shown.to_text,
        PlanFormat.markdown: shown.to_markdown,
        PlanFormat.json: shown.to_json,
    }[output_format]()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(rendered.rstrip("\n") + "\n")
        console.print(shown.to_text(), highlight=False, markup=False, soft_wrap=True)
        console.print(f"plan written to {output}")
    else:
        typer.echo(rendered)
    if result.blocked:
        err_console.print(f"[bold red]blocked:[/] {len(result.breaking)} breaking change(s); see the plan above")
        raise typer.Exit(code=BLOCKED_EXIT_CODE)


@friendly_errors
def apply(
    env: EnvOption = None,
    pr: PrOption = None,
    allow_breaking: AllowBreakingOption = False,
    force: ForceOption = False,
    ci_ref: CiRefOption = None,
    expect_fingerprint: Annotated[
        Path | None,
        typer.Option(
            "--expect-fingerprint",
            help="Apply only if the repo and registry are those of this reviewed plan (plan --fingerprint-file).",
        ),
    ] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown-file", help="When refused as not reviewed: write the fresh plan here.")
    ] = None,
) -> None:
    """Check the feature repo, then apply it to the environment's registry (one conditional write).

    A registry conflict (another apply won) stops the apply with nothing written; it is never re-planned here."""
    from featurekit.repo.apply import apply_repo, checked_repo
    from featurekit.repo.fingerprint import PlanFingerprint, StalePlanError

    settings = _settings(env, pr)
    expect = PlanFingerprint.from_file(expect_fingerprint) if expect_fingerprint is not None else None
    try:
        result = apply_repo(
            settings,
            checked_repo(settings),
            allow_breaking=allow_breaking,
            force=force,
            ci_ref=ci_ref,
            on_planned=lambda p: console.print(p.to_text(), highlight=False, markup=False, soft_wrap=True),
            expect=expect,
        )
    except StalePlanError as exc:
        if markdown_file is not None:
            markdown_file.parent.mkdir(parents=True, exist_ok=True)
            markdown_file.write_text(exc.plan.to_markdown())
        raise
    if not result.applied:
        console.print(f"[green]no changes[/]: project {result.project} in {result.registry} is up to date")
        return
    if result.removed_views:
        console.print(f"removed views {', '.join(result.removed_views)}: the maintenance DAG deletes their online rows")
    console.print(f"[green]applied[/] project {result.project} to {result.registry}")


@friendly_errors
def teardown(
    env: EnvOption = None,
    pr: Annotated[int, typer.Option("--pr", help="Pull request whose project <project>_pr<N> is removed.")] = ...,  # type: ignore[assignment]  # typer: required
    force: ForceOption = False,
    ci_ref: CiRefOption = None,
) -> None:
    """Remove a pull request's project from the registry (the maintenance DAG deletes its online rows)."""
    from featurekit.repo.apply import teardown_project

    result = teardown_project(_settings(env, pr), force=force, ci_ref=ci_ref)
    if not result.existed:
        console.print(f"project {result.project} is not in {result.registry}: nothing to tear down")
        return
    console.print(
        f"[green]torn down[/] project {result.project} from {result.registry} "
        f"(views {', '.join(result.views) or 'none'}; the maintenance DAG deletes their online rows)"
    )
