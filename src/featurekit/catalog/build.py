"""Write the catalog as a static site: ``index.html`` (every feature, server-rendered), ``catalog.json``, assets.

Rows are rendered here, so the page is complete without JavaScript (readable as a CI artifact, indexable);
``catalog.js`` adds the client-side search and filters. No external resources: it opens from disk or any bucket.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path

from featurekit.catalog.model import Catalog, FeatureEntry, build_model
from featurekit.config.settings import Settings

ASSETS = ("catalog.css", "catalog.js")


@dataclass(frozen=True)
class CatalogSite:
    index: Path
    features: int
    views: int


def build_catalog(settings: Settings, out: Path) -> CatalogSite:
    """Load the feature repo of ``settings`` and write the site into ``out`` (created; previous files replaced)."""
    from featurekit.repo.loader import load_repo

    catalog = build_model(load_repo(settings), settings.project)
    return write_site(catalog, Path(out), env=settings.env)


def write_site(catalog: Catalog, out: Path, *, env: str, generated_at: datetime | None = None) -> CatalogSite:
    out.mkdir(parents=True, exist_ok=True)
    generated_at = generated_at or datetime.now(UTC)
    assets = resources.files("featurekit.catalog") / "assets"
    for name in ASSETS:
        with resources.as_file(assets / name) as path:
            shutil.copyfile(path, out / name)
    data = {
        "project": catalog.project,
        "env": env,
        "generated_at": generated_at.isoformat(),
        "features": [f.to_dict() for f in catalog.features],
        "feature_services": [vars(s) for s in catalog.services],
    }
    (out / "catalog.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    index = out / "index.html"
    index.write_text(_page(catalog, env, generated_at))
    return CatalogSite(index=index, features=len(catalog.features), views=len(catalog.views))


def _page(catalog: Catalog, env: str, generated_at: datetime) -> str:
    tiers = sorted({f.tier for f in catalog.features if f.tier})
    schedules = sorted({f.schedule for f in catalog.features if f.schedule})
    rows = "\n".join(_row(f) for f in catalog.features)
    services = "\n".join(
        f'<li id="service-{escape(s.name)}"><strong>{escape(s.name)}</strong> — {escape(s.description)} '
        f'<span class="muted">({len(s.features)} features, owner {escape(s.owner)})</span></li>'
        for s in catalog.services
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feature catalog — {escape(catalog.project)}</title>
<link rel="stylesheet" href="catalog.css">
</head>
<body>
<header>
  <h1>Feature catalog <span class="muted">{escape(catalog.project)}</span></h1>
  <p class="muted">{len(catalog.features)} features in {len(catalog.views)} feature views · env {escape(env)} ·
  generated {generated_at:%Y-%m-%d %H:%M} UTC</p>
  <div class="controls">
    <input id="search" type="search" placeholder="Search features, views, owners, tables, services…"
           aria-label="Search features" autofocus>
    {_select("tier", "all tiers", tiers)}
    {_select("schedule", "all schedules", schedules)}
    <span id="count" aria-live="polite">{len(catalog.features)} of {len(catalog.features)} features</span>
  </div>
</header>
<main>
<table id="features">
<thead><tr>
  <th>Feature</th><th>Type</th><th>Description</th><th>Owner</th><th>Tier</th><th>Schedule</th>
  <th>Freshness SLO</th><th>Source tables</th><th>Feature services</th>
</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p id="empty" hidden>No feature matches the search.</p>
<h2>Feature services</h2>
<ul id="services">
{services}
</ul>
</main>
<script src="catalog.js"></script>
</body>
</html>
"""


def _select(name: str, label: str, values: list[str]) -> str:
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return f'<select id="filter-{name}" aria-label="{label}"><option value="">{label}</option>{options}</select>'


def _row(f: FeatureEntry) -> str:
    haystack = " ".join(
        [f.ref, f.name, f.view, f.kind, f.dtype, f.description, f.view_description, f.owner, f.tier, f.schedule,
         *f.source_tables, *f.sources, *f.feature_services, *f.entities, *f.tags.values()]
    ).lower()  # fmt: skip
    tables = ", ".join(f"<code>{escape(t)}</code>" for t in f.source_tables) or '<span class="muted">-</span>'
    services = ", ".join(escape(s) for s in f.feature_services) or '<span class="muted">none</span>'
    return (
        f'<tr class="feature" id="{escape(f.ref)}" data-search="{escape(haystack)}" data-tier="{escape(f.tier)}" '
        f'data-schedule="{escape(f.schedule)}">'
        f'<td><strong class="name">{escape(f.name)}</strong><br><span class="view">{escape(f.view)}</span> '
        f'<span class="badge">{escape(f.kind)}</span></td>'
        f"<td><code>{escape(f.dtype)}</code></td>"
        f'<td>{escape(f.description)}<br><span class="muted">{escape(f.view_description)}</span></td>'
        f"<td>{escape(f.owner)}</td>"
        f"<td>{escape(f.tier)}</td>"
        f"<td>{escape(f.schedule)}</td>"
        f"<td>{escape(f.freshness_slo) or '-'}</td>"
        f'<td>{tables}<br><span class="muted">{escape("; ".join(f.sources))}</span></td>'
        f"<td>{services}</td>"
        "</tr>"
    )
