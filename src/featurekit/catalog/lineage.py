"""Which warehouse tables a feature view reads: the tables of its SQL, parsed with sqlglot (never regexes).

CTE names are not tables, and a table read twice is listed once. Stream views list their warehouse backfill's tables
plus the Kafka topic; on-demand views inherit the tables of the views they read.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from featurekit.warehouse.sql import load_feature_sql


def sql_tables(tree: exp.Expr) -> list[str]:
    """Fully qualified names (``db.table`` when qualified) of the tables a query reads, sorted."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name in ctes):
            continue
        names.add(".".join(part for part in (table.catalog, table.db, table.name) if part))
    return sorted(names)


def view_tables(feature_repo: Path, view: str) -> list[str]:
    """The warehouse tables of ``feature_repo/feature_views/<view>.sql`` (empty when the view has no SQL)."""
    from featurekit.warehouse.sql import FeatureSQLError

    try:
        sql = load_feature_sql(feature_repo, view)
    except FeatureSQLError:
        return []
    return sql_tables(sql.tree)
