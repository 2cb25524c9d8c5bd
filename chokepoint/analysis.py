"""Analyses the pipeline publishes: concentration, chokepoints, control leverage.

Thin glue between the canonical tables, the graph core (``graph``) and the
optimisation models (``optimization``); returns Polars tables ready for the warehouse.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from chokepoint.scenario import Scenario
from graph.concentration import concentration
from graph.failure import Propagation, country_single_points_of_failure, single_points_of_failure
from graph.network import PRODUCER, TRANSIT, SupplyNetwork
from optimization.capability import CapabilityModel

__all__ = ["concentration_table", "chokepoint_table", "control_leverage_table", "capability_table", "rank_within"]

LARGE_SUPPLIER = 0.10


def concentration_table(input_types: pl.DataFrame, capacities: pl.DataFrame) -> pl.DataFrame:
    """Per input type: top supplier and its share, HHI, suppliers and large suppliers."""
    ids = input_types["input_id"].to_list()
    index = {k: i for i, k in enumerate(ids)}
    rows = capacities.select("input_id", "iso3", "share")
    metrics = concentration(np.array([index[k] for k in rows["input_id"]], dtype=np.int64),
                            rows["share"].to_numpy(), len(ids), large=LARGE_SUPPLIER)
    top_row = metrics["top_row"]
    iso3 = rows["iso3"].to_list()
    return pl.DataFrame({
        "input_id": ids,
        "name": input_types["name"],
        "stage": input_types["stage"],
        "top_iso3": [iso3[r] if r >= 0 else None for r in top_row],
        "top_share": metrics["top_share"],
        "hhi": metrics["hhi"],
        "suppliers": metrics["suppliers"].astype(np.int64),
        "suppliers_above_10pct": metrics["suppliers_above"],
        "covered_share": metrics["covered"],
    }).sort("hhi", descending=True)


def rank_within(frame: pl.DataFrame, by: list[str], value: str = "value") -> pl.DataFrame:
    """Add ``rank`` (1 = largest ``value``, ties share the lowest rank) within groups."""
    return frame.with_columns(pl.col(value).rank(method="min", descending=True).over(by).cast(pl.Int64).alias("rank"))


def _closed_out_of(network: SupplyNetwork, nodes: np.ndarray) -> np.ndarray:
    """Route-open vector with every route leaving ``nodes`` closed (removes those nodes)."""
    mask = np.isin(network.edge_src, nodes)
    return (~mask).astype(np.float64)


def chokepoint_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel,
                     capacities: pl.DataFrame) -> pl.DataFrame:
    """One row per entity × defector × metric, ranked within (defector, entity type, metric).

    Metrics
    -------
    ``removal_loss``: share of the defector's capability lost when the entity (a
    producer node = one country's capacity of one input, or a whole country) is
    removed, by LP re-solve. Entities that carry no flow in the base optimum cannot
    lower it when removed and get 0 without a re-solve (exact pruning).
    ``single_point_of_failure``: 1 if the entity's loss alone makes the defector's sink
    unproducible under the AND/OR semantics.
    ``supplier_share``: the node's share of world capacity of its input.
    """
    prop = Propagation.of(network)
    share = {(r["input_id"], r["iso3"]): r["share"] for r in capacities.iter_rows(named=True)}
    producers = np.flatnonzero(network.node_kind == PRODUCER)
    countries_present = np.unique(network.node_country[network.node_country >= 0])
    rows = []
    for actor_index, actor_id in enumerate(network.actors):
        actor = scenario.actor(actor_id)
        if not actor.candidate_defector:
            continue
        sink = network.sink_of(actor_index)
        base = model.solve(sink)
        out_flow = np.bincount(network.edge_src, weights=base.flow, minlength=network.num_nodes)
        spof_nodes = set(single_points_of_failure(network, sink, producers, prop).tolist())
        spof_countries = set(country_single_points_of_failure(network, sink, prop).tolist())
        for node in producers:
            loss = 0.0
            if out_flow[node] > 1e-9 * max(base.value, 1.0) and base.value > 0:
                loss = (base.value - model.solve(sink, _closed_out_of(network, np.array([node]))).value) / base.value
            iso3 = network.countries[network.node_country[node]]
            input_id = network.inputs[network.node_input[node]]
            common = dict(defector=actor_id, entity_type="node", entity=network.node_names[node],
                          iso3=iso3, input_id=input_id)
            rows.append({**common, "metric": "removal_loss", "value": max(loss, 0.0)})
            rows.append({**common, "metric": "single_point_of_failure", "value": float(node in spof_nodes)})
            rows.append({**common, "metric": "supplier_share", "value": share.get((input_id, iso3), 0.0)})
        for country in countries_present:
            nodes = np.flatnonzero(network.node_country == country)
            loss = 0.0
            if out_flow[nodes].sum() > 1e-9 * max(base.value, 1.0) and base.value > 0:
                loss = (base.value - model.solve(sink, _closed_out_of(network, nodes)).value) / base.value
            common = dict(defector=actor_id, entity_type="country", entity=network.countries[country],
                          iso3=network.countries[country], input_id=None)
            rows.append({**common, "metric": "removal_loss", "value": max(loss, 0.0)})
            rows.append({**common, "metric": "single_point_of_failure", "value": float(country in spof_countries)})
    frame = pl.DataFrame(rows, schema={"defector": pl.String, "entity_type": pl.String, "entity": pl.String,
                                       "iso3": pl.String, "input_id": pl.String, "metric": pl.String,
                                       "value": pl.Float64})
    return rank_within(frame, ["defector", "entity_type", "metric"]).with_columns(pl.lit(scenario.name).alias("scenario"))


def control_leverage_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel,
                           masks: dict[str, np.ndarray]) -> pl.DataFrame:
    """Every catalogue control against every candidate defector: capability before and
    after the control alone, leverage ``(C0 − C1) / C0``, cost and leverage per cost."""
    rows = []
    for actor in scenario.defectors:
        sink = network.sink_of(network.actors.index(actor.id))
        base = model.solve(sink)
        for control in scenario.controls:
            mask = masks[control.id]
            after = model.solve(sink, (~mask).astype(np.float64)) if mask.any() else base
            leverage = (base.value - after.value) / base.value if base.value > 0 else 0.0
            rows.append({
                "defector": actor.id, "control_id": control.id, "kind": control.kind,
                "jurisdiction": control.jurisdiction, "input_id": control.input, "transit": control.transit,
                "destination": control.destination, "cost": control.cost, "routes_closed": int(mask.sum()),
                "capability_before": base.value, "capability_after": after.value,
                "leverage": max(leverage, 0.0), "leverage_per_cost": max(leverage, 0.0) / control.cost if control.cost > 0 else None,
                "status": after.status, "duality_gap": after.duality_gap, "max_residual": after.max_residual,
                "solver": after.solver,
            })
    frame = pl.DataFrame(rows, schema_overrides={"input_id": pl.String, "transit": pl.String,
                                                 "leverage_per_cost": pl.Float64})
    return (rank_within(frame, ["defector"], "leverage")
            .with_columns(pl.lit(scenario.name).alias("scenario"))
            .sort("defector", "rank", "control_id"))


def capability_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel,
                     control_leverage: pl.DataFrame) -> pl.DataFrame:
    """Per actor: attainable capability with no controls; for candidate defectors also
    the single best catalogue control within budget and the capability it leaves."""
    rows = []
    budget = scenario.settings.budget
    for index, actor in enumerate(scenario.actors):
        base = model.solve(network.sink_of(index))
        best = (control_leverage.filter((pl.col("defector") == actor.id) & (pl.col("cost") <= budget))
                .sort(["leverage", "cost", "control_id"], descending=[True, False, False]).head(1))
        has_best = actor.candidate_defector and best.height and best["leverage"][0] > 0
        rows.append({
            "actor": actor.id, "name": actor.name, "signatory": actor.signatory,
            "candidate_defector": actor.candidate_defector,
            "capability_before": base.value,
            "best_control": best["control_id"][0] if has_best else None,
            "best_control_cost": best["cost"][0] if has_best else None,
            "capability_after": best["capability_after"][0] if has_best else base.value,
            "leverage": best["leverage"][0] if has_best else 0.0,
            "status": base.status, "duality_gap": base.duality_gap, "max_residual": base.max_residual,
            "solver": base.solver, "seconds": base.seconds,
        })
    return pl.DataFrame(rows, schema_overrides={"best_control": pl.String, "best_control_cost": pl.Float64}).with_columns(
        pl.lit(scenario.name).alias("scenario"))
