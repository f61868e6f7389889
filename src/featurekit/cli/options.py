"""Options and error handling shared by every command group."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from featurekit.errors import FeaturekitError

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        envvar="FEATUREKIT_ENV",
        help="Environment: a name in config/ (local, dev, prod) or an environment file (*.yaml). Default: local.",
    ),
]

# Logs (CI, pipes) get 120 columns instead of rich's 80 so tables stay readable; terminals keep their width.
console = Console(width=max(120, Console().width))
err_console = Console(stderr=True, width=max(120, Console(stderr=True).width))
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Turn the kit's expected failures into one red message and exit code 1 instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeaturekitError as exc:
            # escape(): messages name rules as "[rule-id]", which rich would otherwise swallow as markup tags.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(code=1) from exc

    return wrapper  # type: ignore[return-value]
