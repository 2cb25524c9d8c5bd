"""Controls as sets of closed routes: each control of a scenario's catalogue becomes the
boolean mask of the routes it closes (``docs/design.md#2-the-supply-model``)."""

from __future__ import annotations

import numpy as np

from chokepoint.inputs.scenario import Scenario
from graph.network import SupplyNetwork, compute_exclusion_routes, export_control_routes, secondary_control_routes

__all__ = ["control_route_masks"]


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
