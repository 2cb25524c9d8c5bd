"""Stable analyst views in the warehouse (schema ``analytics``), documented in
``docs/warehouse.md``. Each view is created only when the tables it reads exist, so
the set grows as analyses land without breaking older warehouses."""

from __future__ import annotations

import re

__all__ = ["VIEWS", "VIEW_SQL", "create_views", "existing_tables"]

#: name -> (tables it reads, SQL body)
VIEWS: dict[str, tuple[tuple[str, ...], str]] = {
    "v_chokepoint_ranking": (("analytics.chokepoints",), """
        SELECT scenario, horizon, entity, any_value(iso3) AS iso3, any_value(input_id) AS input_id,
               avg(value) FILTER (WHERE metric = 'removal_loss') AS mean_removal_loss,
               max(value) FILTER (WHERE metric = 'removal_loss') AS max_removal_loss,
               sum(value) FILTER (WHERE metric = 'single_point_of_failure')::INTEGER AS spof_defectors,
               count(DISTINCT defector)::INTEGER AS defectors,
               max(value) FILTER (WHERE metric = 'supplier_share') AS supplier_share
        FROM analytics.chokepoints
        WHERE entity_type = 'node'
        GROUP BY scenario, horizon, entity"""),
    "v_chokepoints": (("analytics.chokepoints",), """
        SELECT scenario, horizon, defector, entity_type, entity, iso3, input_id,
               max(value) FILTER (WHERE metric = 'removal_loss') AS removal_loss,
               min(rank) FILTER (WHERE metric = 'removal_loss') AS removal_loss_rank,
               max(value) FILTER (WHERE metric = 'single_point_of_failure') = 1 AS single_point_of_failure,
               max(value) FILTER (WHERE metric = 'supplier_share') AS supplier_share
        FROM analytics.chokepoints
        GROUP BY scenario, horizon, defector, entity_type, entity, iso3, input_id"""),
    "v_capability": (("analytics.capability",), """
        SELECT scenario, horizon, actor, name, signatory, candidate_defector, capability_before, best_control,
               capability_after, leverage
        FROM analytics.capability"""),
    "v_single_controls": (("analytics.control_leverage",), """
        SELECT scenario, horizon, defector, control_id, kind, jurisdiction, input_id, transit, cost,
               capability_before, capability_after, leverage, leverage_per_cost, rank
        FROM analytics.control_leverage"""),
    "v_placements": (("analytics.placements",), """
        -- The optimal placements as an analyst reads them: controls as text, leverage in percent.
        SELECT scenario, horizon, target, defector, array_to_string(controls, ', ') AS controls, n_controls,
               100 * leverage AS leverage_pct, cost, budget, collateral, capability_before, capability_after,
               status, gap, optimal AS proven_optimal
        FROM analytics.placements"""),
    "v_deterrence": (("analytics.deterrence", "analytics.deter_all"), """
        -- The verdict per scenario, placement and candidate defector: does compliance pay?
        SELECT d.scenario, d.horizon, d.placement, d.placement_kind, array_to_string(d.controls, ', ') AS controls,
               d.placement_cost, d.within_budget, d.actor, 100 * d.leverage AS leverage_pct, d.margin, d.deterred,
               d.dominant_strategy, 100 * d.required_leverage AS required_leverage_pct,
               d.threshold_detection_probability, a.deterrable, 100 * a.max_leverage AS max_leverage_pct,
               a.detection_probability_needed
        FROM analytics.deterrence d
        LEFT JOIN analytics.deter_all a ON a.scenario = d.scenario AND a.horizon = d.horizon AND a.defector = d.actor
        WHERE d.candidate_defector"""),
    "v_dependencies": (("staging.capacities", "staging.recipes", "staging.countries"), """
        -- For each country that makes a product, each input the product needs, and who
        -- supplies that input: the foreign suppliers and whether there is only one.
        WITH makers AS (SELECT DISTINCT iso3, input_id AS product FROM staging.capacities),
             needs AS (SELECT m.iso3, r.product, r.input FROM makers m JOIN staging.recipes r ON r.product = m.product),
             suppliers AS (SELECT input_id, iso3 AS supplier, share FROM staging.capacities)
        SELECT n.iso3, n.product, n.input,
               count(s.supplier) FILTER (WHERE s.supplier <> n.iso3) AS foreign_suppliers,
               bool_or(s.supplier = n.iso3) AS domestic_supply,
               list(s.supplier ORDER BY s.share DESC) FILTER (WHERE s.supplier <> n.iso3) AS foreign_supplier_list,
               max(s.share) FILTER (WHERE s.supplier <> n.iso3) AS top_foreign_share
        FROM needs n LEFT JOIN suppliers s ON s.input_id = n.input
        GROUP BY n.iso3, n.product, n.input"""),
}

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
assert all(re.match(r"^v_[a-z_]+$", name) and all(_IDENT.match(t) for t in needs)
           for name, (needs, _) in VIEWS.items())
#: The statement creating each view (module constants: no SQL is built at run time).
VIEW_SQL = {name: f"CREATE OR REPLACE VIEW analytics.{name} AS {body}" for name, (_, body) in VIEWS.items()}


def existing_tables(connection) -> set[str]:
    """``schema.table`` names of every table and view in the database."""
    rows = connection.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
    return {r[0] for r in rows}


def create_views(connection) -> list[str]:
    """Create (or replace) every view whose tables exist; return the names created."""
    connection.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    present = existing_tables(connection)
    created = []
    for name, (needs, _) in VIEWS.items():
        if all(t in present for t in needs):
            connection.execute(VIEW_SQL[name])
            created.append(name)
    return created
