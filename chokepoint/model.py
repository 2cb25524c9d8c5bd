"""From validated tables and a scenario to the AND/OR network and control route sets."""

from __future__ import annotations

import numpy as np
import polars as pl

from chokepoint.reference import COMPUTE_INPUT
from chokepoint.scenario import Scenario
from graph.network import (
    SupplyNetwork,
    build_supply_network,
    compute_exclusion_routes,
    export_control_routes,
    secondary_control_routes,
)

__all__ = ["network_from_tables", "control_route_masks", "network_tables"]


def network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                        capacities: pl.DataFrame, scenario: Scenario) -> SupplyNetwork:
    """Build the country-level AND/OR network of a scenario from canonical tables."""
    country_ids = countries["iso3"].to_list()
    input_ids = input_types["input_id"].to_list()
    c_index = {c: i for i, c in enumerate(country_ids)}
    k_index = {k: i for i, k in enumerate(input_ids)}

    def codes(series, index):
        return np.array([index[v] for v in series], dtype=np.int32)

    transit = sorted(scenario.transit.items())
    return build_supply_network(
        countries=country_ids,
        inputs=input_ids,
        producer_country=codes(capacities["iso3"], c_index),
        producer_input=codes(capacities["input_id"], k_index),
        producer_capacity=capacities["capacity"].to_numpy(),
        recipe_product=codes(recipes["product"], k_index),
        recipe_input=codes(recipes["input"], k_index),
        recipe_coefficient=recipes["coefficient"].to_numpy(),
        compute_input=k_index[COMPUTE_INPUT],
        actors=[a.id for a in scenario.actors],
        actor_members=[[c_index[m] for m in a.members] for a in scenario.actors],
        cloud_access_fraction=scenario.settings.cloud_access_fraction,
        transit_country=[c_index[c] for c, _ in transit],
        transit_fraction=[f for _, f in transit],
        world_capacity=input_types["world_capacity"].to_numpy(),
    )


def control_route_masks(network: SupplyNetwork, scenario: Scenario) -> dict[str, np.ndarray]:
    """For each control id, the boolean mask of routes it closes."""
    c_index = {c: i for i, c in enumerate(network.countries)}
    k_index = {k: i for i, k in enumerate(network.inputs)}
    a_index = {a: i for i, a in enumerate(network.actors)}
    masks = {}
    for control in scenario.controls:
        actor = a_index[control.destination]
        if control.kind == "export_control":
            mask = export_control_routes(network, c_index[control.jurisdiction], k_index[control.input], actor)
        elif control.kind == "compute_exclusion":
            mask = compute_exclusion_routes(network, c_index[control.jurisdiction], actor)
        else:
            mask = secondary_control_routes(network, c_index[control.transit], k_index[control.input], actor)
        masks[control.id] = mask
    return masks


def network_tables(network: SupplyNetwork) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Node and edge tables of a network, with readable labels, for the warehouse."""
    from graph.network import EDGE_KINDS, NODE_KINDS

    countries = np.array(list(network.countries) + [None], dtype=object)
    inputs = np.array(list(network.inputs) + [None], dtype=object)
    actors = np.array(list(network.actors) + [None], dtype=object)
    nodes = pl.DataFrame({
        "node_id": np.arange(network.num_nodes, dtype=np.int64),
        "name": list(network.node_names),
        "kind": np.array(NODE_KINDS, dtype=object)[network.node_kind].tolist(),
        "iso3": countries[network.node_country].tolist(),
        "input_id": inputs[network.node_input].tolist(),
        "actor": actors[network.node_actor].tolist(),
        "capacity": np.where(np.isfinite(network.node_capacity), network.node_capacity, np.nan),
    }, schema_overrides={"iso3": pl.String, "input_id": pl.String, "actor": pl.String})
    edges = pl.DataFrame({
        "edge_id": np.arange(network.num_edges, dtype=np.int64),
        "src": network.edge_src.astype(np.int64),
        "dst": network.edge_dst.astype(np.int64),
        "kind": np.array(EDGE_KINDS, dtype=object)[network.edge_kind].tolist(),
        "input_id": inputs[network.edge_input].tolist(),
        "capacity": np.where(np.isfinite(network.edge_capacity), network.edge_capacity, np.nan),
    })
    req = network.edge_requirement()
    edges = edges.with_columns(pl.Series("coefficient", network.req_coefficient[req]))
    return nodes, edges
