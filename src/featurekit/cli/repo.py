"""Feature repo commands: ``check`` and ``apply``."""

from __future__ import annotations

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors


@friendly_errors
def check(env: EnvOption = None) -> None:
    """Check the feature definitions against the repository rules (owner, ttl, tags, SQL, names)."""
    from featurekit.config import load_settings
    from featurekit.repo.loader import load_repo
    from featurekit.repo.rules import check_repo

    violations = check_repo(load_repo(load_settings(env)))
    for violation in violations:
        console.print(str(violation), highlight=False, markup=False)
    if violations:
        console.print(f"[red]{len(violations)} violation(s)[/]")
        raise typer.Exit(code=1)
    console.print("[green]feature repo OK[/]")


@friendly_errors
def apply(env: EnvOption = None) -> None:
    """Check the feature repo, then apply it to the environment's registry."""
    from featurekit.config import load_settings
    from featurekit.repo.apply import apply_repo

    result = apply_repo(load_settings(env))
    console.print(result.output, highlight=False, markup=False)
    console.print(f"[green]applied[/] project {result.project} to {result.registry}")
