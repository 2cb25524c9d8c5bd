"""From canonical tables and a scenario to a synthetic facility-level network."""

from __future__ import annotations

import numpy as np
import polars as pl

from chokepoint.reference import COMPUTE_INPUT
from chokepoint.scenario import Scenario
from graph.network import SupplyNetwork
from graph.synthetic import SyntheticSpec, generate_facility_network

__all__ = ["synthetic_network_from_tables"]


def synthetic_network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                                  capacities: pl.DataFrame, scenario: Scenario,
                                  spec: SyntheticSpec = SyntheticSpec()) -> SupplyNetwork:
    """Facility-level network with the reference data's country shares, recipes and the
    scenario's actors, cloud access and transit hubs (see :mod:`graph.synthetic`)."""
    country_ids = countries["iso3"].to_list()
    input_ids = input_types["input_id"].to_list()
    c_index = {c: i for i, c in enumerate(country_ids)}
    k_index = {k: i for i, k in enumerate(input_ids)}

    def codes(series, index):
        return np.array([index[v] for v in series], dtype=np.int64)

    transit = sorted(scenario.transit.items())
    return generate_facility_network(
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
        spec=spec,
    )
