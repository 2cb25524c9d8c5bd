"""From validated tables and a scenario to the AND/OR supply network.

One builder serves the country-level network and the synthetic facility-level one: both
take the same arrays (:func:`network_arrays`) and differ only in the graph routine that
lays out the nodes (:func:`graph.network.build_supply_network` or
:func:`graph.synthetic.generate_facility_network`). The model is in
``docs/design.md#2-the-supply-model``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from chokepoint.inputs.reference import COMPUTE_INPUT
from chokepoint.inputs.scenario import Scenario
from graph.network import EDGE_KINDS, NODE_KINDS, SupplyNetwork, build_supply_network
from graph.synthetic import SyntheticSpec, generate_facility_network

__all__ = ["network_arrays", "network_from_tables", "synthetic_network_from_tables", "network_tables"]


def network_arrays(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                   capacities: pl.DataFrame, scenario: Scenario) -> dict:
    """Keyword arguments shared by every network builder: countries and inputs as codes,
    producers, recipes, the scenario's actors with their member countries, cloud access
    and transit hubs.

    ``capacities`` is either the country-level table (``iso3``, ``input_id``,
    ``capacity``: one producer per country and input) or the producer table
    (``staging.producers``: the same plus ``firm_id`` and ``facility_id``, several
    producers per country and input where firm or facility data exists).
    """
    country_ids = countries["iso3"].to_list()
    input_ids = input_types["input_id"].to_list()
    c_index = {c: i for i, c in enumerate(country_ids)}
    k_index = {k: i for i, k in enumerate(input_ids)}

    def codes(series, index):
        return np.array([index[v] for v in series], dtype=np.int64)

    firm_detail = {}
    if "firm_id" in capacities.columns:
        firms = sorted(f for f in capacities["firm_id"].unique().to_list() if f is not None)
        facilities = (sorted(f for f in capacities["facility_id"].unique().to_list() if f is not None)
                      if "facility_id" in capacities.columns else [])
        f_index, s_index = {f: i for i, f in enumerate(firms)}, {s: i for i, s in enumerate(facilities)}
        firm_detail = dict(
            producer_firm=np.array([f_index.get(f, -1) if f is not None else -1 for f in capacities["firm_id"]],
                                   dtype=np.int64),
            producer_facility=(np.array([s_index[s] if s is not None else -1 for s in capacities["facility_id"]],
                                        dtype=np.int64) if facilities else None),
            firms=firms, facilities=facilities)
    transit = sorted(scenario.transit.items())
    return dict(
        countries=country_ids,
        inputs=input_ids,
        producer_country=codes(capacities["iso3"], c_index),
        producer_input=codes(capacities["input_id"], k_index),
        producer_capacity=capacities["capacity"].to_numpy(),
        **firm_detail,
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


def network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                        capacities: pl.DataFrame, scenario: Scenario) -> SupplyNetwork:
    """The country-level AND/OR network of a scenario (one producer per country and input)."""
    return build_supply_network(**network_arrays(countries, input_types, recipes, capacities, scenario))


def synthetic_network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                                  capacities: pl.DataFrame, scenario: Scenario,
                                  spec: SyntheticSpec = SyntheticSpec()) -> SupplyNetwork:
    """Facility-level network with the same country shares, recipes, actors, cloud access
    and transit hubs (see :mod:`graph.synthetic`)."""
    return generate_facility_network(**network_arrays(countries, input_types, recipes, capacities, scenario),
                                     spec=spec)


def network_tables(network: SupplyNetwork) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Node and edge tables of a network, with readable labels, for the warehouse."""
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
