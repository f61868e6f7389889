"""How a :class:`~featurekit.repo.plan.model.Plan` reads: text for the terminal, Markdown for the sticky PR comment.

Kept apart from the model and the diff so a new audience (a chat message, an HTML report) is a new function here,
not a change to what a plan is or how it is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featurekit.repo.plan.model import Plan

PLAN_COMMENT_MARKER = "<!-- featurekit-plan -->"


def text(plan: Plan) -> str:
    """The terminal form: one line per object, one indented line per changed attribute."""
    lines = [f"plan for project {plan.project} in {plan.env} ({plan.registry}): {plan.summary}"]
    symbol = {"add": "+", "change": "~", "remove": "-"}
    for obj in plan.objects:
        lines.append(f"{symbol[obj.action]} {obj.kind} {obj.name}")
        lines.extend(f"    {c}" for c in obj.changes)
    lines.extend(_breaking_lines(plan))
    return "\n".join(lines)


def _breaking_lines(plan: Plan) -> list[str]:
    if not plan.breaking:
        return []
    state = "ALLOWED (--allow-breaking)" if plan.allow_breaking else "BLOCKED"
    lines = [f"{len(plan.breaking)} breaking change(s), {state}:"]
    lines.extend(f"  {b}" for b in plan.breaking)
    if not plan.allow_breaking:
        lines.append("  publish a new feature service version (_vN) instead, or allow with --allow-breaking")
    return lines


def markdown(plan: Plan) -> str:
    """The PR comment: starts with a hidden marker so CI updates one comment instead of adding more."""
    title = f"### featurekit plan: `{plan.env}` (project `{plan.project}`)"
    lines = [PLAN_COMMENT_MARKER, title, "", f"**{plan.summary}** against `{plan.registry}`", ""]
    if plan.objects:
        lines += ["| | object | name | details |", "|---|---|---|---|"]
        icon = {"add": "🟢 add", "change": "🟡 change", "remove": "🔴 remove"}
        for obj in plan.objects:
            details = "<br>".join(_md(str(c)) for c in obj.changes) or " "
            lines.append(f"| {icon[obj.action]} | {obj.kind} | `{obj.name}` | {details} |")
        lines.append("")
    if plan.breaking:
        if plan.allow_breaking:
            lines.append(f"#### ⚠️ {len(plan.breaking)} breaking change(s), allowed by the `allow-breaking` label")
        else:
            lines.append(f"#### ❌ {len(plan.breaking)} breaking change(s) block this PR")
        lines.append("")
        lines += [f"- **{b.rule}** {b.kind} `{b.name}`: {_md(b.message)}" for b in plan.breaking]
        if not plan.allow_breaking:
            lines += [
                "",
                "Publish a new feature service version (`_v2`) and keep the old one until its consumers move, "
                "or add the `allow-breaking` label if every consumer is ready.",
            ]
    else:
        lines.append("✅ no breaking changes")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
