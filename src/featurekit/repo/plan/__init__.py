"""What an apply would change: a structured diff of the feature repo against one environment's registry.

Feast's own diff compares protos including creation timestamps, so re-applying an unchanged repo looks like an
update of every data source. The plan here compares definitions with timestamps and project names stripped, so an
unchanged repo plans to nothing (and apply is a no-op), and it spells changes the way a reviewer reads them: added,
changed and removed entities, sources, views and services, with fields, dtypes, ttl and tags one line each.
The same :class:`Plan` renders as text (terminal), Markdown (the sticky PR comment) and JSON (machines).

``model`` is what a plan is, ``diff`` computes it, ``render`` writes it for people.
"""

from featurekit.repo.plan.diff import RepoState, describe, diff_states, fingerprint, format_ttl, view_features
from featurekit.repo.plan.model import KIND_ORDER, Action, BreakingChange, Change, ObjectChange, Plan
from featurekit.repo.plan.render import PLAN_COMMENT_MARKER

__all__ = [
    "KIND_ORDER",
    "PLAN_COMMENT_MARKER",
    "Action",
    "BreakingChange",
    "Change",
    "ObjectChange",
    "Plan",
    "RepoState",
    "describe",
    "diff_states",
    "fingerprint",
    "format_ttl",
    "view_features",
]
