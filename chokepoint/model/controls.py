"""Controls as sets of closed routes (``docs/design.md#10-firms-and-facilities``).

Each control of a scenario's catalogue becomes the boolean mask of the routes it closes,
so the interdiction MILP and its duality treat every kind alike:

- ``export_control``: ``input`` from producers in ``jurisdiction`` to buyers in the
  destination actor's countries (and to its sink for compute);
- ``compute_exclusion``: compute in ``jurisdiction`` → the destination's sink;
- ``secondary_control``: re-exports of ``input`` through a transit hub to the destination;
- ``entity_control``: every route carrying ``input`` into a node of ``firm``, wherever it
  operates (an entity listing);
- ``foreign_direct_product``: routes carrying ``input`` into the destination (or into
  ``firm``) from producers in ``jurisdiction`` or made with its tools or design software
  somewhere up their supply chain (:func:`made_with`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from chokepoint.inputs.scenario import Control, Scenario
from graph.network import (PRODUCER, SupplyNetwork, compute_exclusion_routes, export_control_routes,
                           secondary_control_routes)

__all__ = ["control_route_masks", "made_with", "tool_origin", "tainted_by", "entity_routes", "foreign_direct_product_routes"]


def made_with(network: SupplyNetwork, jurisdiction: int, tool_inputs) -> np.ndarray:
    """Nodes whose product is made with ``jurisdiction``'s tools or design software.

    A producer is *tainted* when it receives a tool or software input (``tool_inputs``)
    from a producer located in ``jurisdiction``, or any input from a tainted producer
    (the taint follows products down the chain). Computed on the network's routes:
    pass the long-run network to judge the installed base of a short-run one.

    Returns
    -------
    bool array (N,)

    Notes
    -----
    One breadth-first sweep over routes, O(N + E) numpy work per level of the DAG.
    """
    tools = _tool_types(network, tool_inputs)
    producer = network.node_kind == PRODUCER
    src, dst = network.edge_src, network.edge_dst
    from_jurisdiction = producer[src] & (network.node_country[src] == jurisdiction) & tools[network.edge_input]
    tainted = np.zeros(network.num_nodes, dtype=bool)
    frontier = np.unique(dst[from_jurisdiction & producer[dst]])
    while frontier.size:
        tainted[frontier] = True
        step = np.isin(src, frontier) & producer[dst] & ~tainted[dst]
        frontier = np.unique(dst[step])
    return tainted


def _tool_types(network: SupplyNetwork, tool_inputs) -> np.ndarray:
    """Flag per input type of the network: is it one of ``tool_inputs``."""
    return np.isin(np.asarray(network.inputs, dtype=object), list(tool_inputs))


def tool_origin(network: SupplyNetwork, tool_inputs) -> np.ndarray:
    """:func:`made_with` for every country at once: ``[v, c]`` when node ``v``'s product
    is made with country ``c``'s tools or design software (``tool_inputs``).

    Returns
    -------
    bool array (N, C), the value of :attr:`graph.network.SupplyNetwork.node_tool_origin`

    Notes
    -----
    C sweeps of :func:`made_with`, O(C·(N + E)) numpy work per level of the DAG; a
    country that supplies no tool input costs one vector test.
    """
    origin = np.zeros((network.num_nodes, len(network.countries)), dtype=bool)
    src = network.edge_src
    tool_route = (network.node_kind[src] == PRODUCER) & _tool_types(network, tool_inputs)[network.edge_input]
    for country in np.unique(network.node_country[src[tool_route]]):
        origin[:, country] = made_with(network, int(country), tool_inputs)
    return origin


def tainted_by(network: SupplyNetwork, jurisdiction: int, *, tool_inputs=(),
               installed_base: SupplyNetwork | None = None) -> np.ndarray:
    """Nodes whose product is made in effect with ``jurisdiction``'s tools: the network's
    recorded ``node_tool_origin`` when no ``tool_inputs`` or ``installed_base`` is given,
    else :func:`made_with` on ``installed_base`` (default ``network``)."""
    base = installed_base if installed_base is not None else network
    if network.node_tool_origin is not None and not tool_inputs and base is network:
        return network.node_tool_origin[:, jurisdiction]
    return made_with(base, jurisdiction, tool_inputs)


def entity_routes(network: SupplyNetwork, firm: int, input_type: int) -> np.ndarray:
    """Routes an entity listing of ``firm`` closes: ``input_type`` into any node of the firm."""
    return (network.firm_index()[network.edge_dst] == firm) & (network.edge_input == input_type)


def foreign_direct_product_routes(network: SupplyNetwork, tainted: np.ndarray, jurisdiction: int, input_type: int,
                                  destination_actor: int | None, firm: int | None) -> np.ndarray:
    """Routes a foreign-direct-product control closes: ``input_type`` made in or with
    ``jurisdiction`` (``tainted``) into the destination actor's countries and sink, or
    into ``firm``'s nodes."""
    src = network.edge_src
    origin = (network.node_kind[src] == PRODUCER) & (tainted[src] | (network.node_country[src] == jurisdiction))
    if firm is not None:
        target = network.firm_index()[network.edge_dst] == firm
    else:
        target = network.actor_nodes(destination_actor)[network.edge_dst]
    return origin & target & (network.edge_input == input_type)


def control_route_masks(network: SupplyNetwork, scenario: Scenario, *, tool_inputs=(),
                        installed_base: SupplyNetwork | None = None,
                        controls: Iterable[Control] | None = None) -> dict[str, np.ndarray]:
    """For each control id, the boolean mask of the network's routes it closes.

    Parameters
    ----------
    network : SupplyNetwork
        The network of one horizon.
    scenario : Scenario
    tool_inputs : iterable of str
        Input types whose origin taints a product (tools and design software) for
        foreign-direct-product controls.
    installed_base : SupplyNetwork, optional
        The network whose routes say who supplied each producer's tools (the long-run
        network when ``network`` is a short-run view that waived tool routes); default
        ``network`` itself. Same nodes as ``network``.
    controls : iterable of Control, optional
        The controls to mask (default: the scenario's whole catalogue).

    Without ``tool_inputs`` and ``installed_base``, a network that carries
    ``node_tool_origin`` (as every network :func:`chokepoint.model.build.horizon_networks`
    builds does) gives the taint; otherwise a product is tainted only by its origin.
    """
    c_index = {c: i for i, c in enumerate(network.countries)}
    k_index = {k: i for i, k in enumerate(network.inputs)}
    a_index = {a: i for i, a in enumerate(network.actors)}
    f_index = {f: i for i, f in enumerate(network.firms)}
    taint: dict[int, np.ndarray] = {}
    masks = {}
    for control in scenario.controls if controls is None else controls:
        actor = a_index[control.destination]
        masks[control.id] = _mask(network, control, c_index, k_index, actor, f_index, taint, tool_inputs,
                                  installed_base or network)
    return masks


def _mask(network, control: Control, c_index, k_index, actor, f_index, taint, tool_inputs, installed_base):
    if control.kind == "export_control":
        return export_control_routes(network, c_index[control.jurisdiction], k_index[control.input], actor)
    if control.kind == "compute_exclusion":
        return compute_exclusion_routes(network, c_index[control.jurisdiction], actor)
    if control.kind == "secondary_control":
        return secondary_control_routes(network, c_index[control.transit], k_index[control.input], actor)
    firm = f_index.get(control.firm) if control.firm is not None else None
    if control.firm is not None and firm is None:
        # A firm the network has no node of: the control closes nothing.
        return np.zeros(network.num_edges, dtype=bool)
    if control.kind == "entity_control":
        return entity_routes(network, firm, k_index[control.input])
    jurisdiction = c_index[control.jurisdiction]
    if jurisdiction not in taint:
        taint[jurisdiction] = tainted_by(network, jurisdiction, tool_inputs=tool_inputs, installed_base=installed_base)
    return foreign_direct_product_routes(network, taint[jurisdiction], jurisdiction, k_index[control.input],
                                         None if firm is not None else actor, firm)
