"""The controls in force as a baseline placement: the routes they close on a network
(``docs/design.md#111-controls-in-force-as-a-baseline``).

The modelled measures of ``controls_in_force.csv`` in force on a day
(:func:`chokepoint.inputs.controls_in_force.baseline_controls`) become controls of the
scenario's vocabulary and then route masks with the semantics of
:func:`chokepoint.model.controls.control_route_masks` (exporter country × input ×
destination actor; entity and foreign-direct-product measures by firm). Unlike a
scenario's catalogue they are placed by both sides: the defector's own measures (China's
licensing of gallium, germanium, rare earths …) close routes into the signatories.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import polars as pl

from chokepoint.inputs.controls_in_force import baseline_controls
from chokepoint.inputs.scenario import Control, Scenario
from chokepoint.model.controls import control_route_masks, entity_routes, foreign_direct_product_routes, tainted_by
from graph.network import SupplyNetwork, without_routes

__all__ = ["BaselinePlacement", "baseline_placement", "no_baseline", "scenario_baseline", "scenario_baselines"]


@dataclass(frozen=True)
class BaselinePlacement:
    """The placement in force: what it is made of and which routes it closes.

    ``name``: ``none`` or ``status_quo`` (the value of the ``baseline`` column).
    ``as_of``: the day (ISO) or None. ``controls``: one :class:`Control` per distinct
    modelled measure (``id`` = ``<earliest measure id>:<input>:<destination actor or firm>``). ``measures``: control id → every measure id behind it.
    ``masks``: control id → bool route mask (E,). ``closed``: their union.
    ``skipped``: measure rows not modelled on this network, with the reason.
    """

    name: str
    as_of: str | None
    controls: tuple[Control, ...]
    measures: dict[str, tuple[str, ...]]
    masks: dict[str, np.ndarray]
    closed: np.ndarray
    skipped: tuple[dict, ...]

    @property
    def marginal_to(self) -> np.ndarray | None:
        """The routes figures are marginal to, as the analyses take them (``baseline_closed``):
        None for no baseline, so that the plain models are used unchanged."""
        return None if self.name == "none" else self.closed

    def in_force(self, network: SupplyNetwork) -> SupplyNetwork:
        """``network`` as the baseline leaves it: its closed routes removed (the network
        itself for no baseline)."""
        return network if self.name == "none" else without_routes(network, self.closed)

    def closed_by(self, jurisdictions) -> np.ndarray:
        """Routes closed by the measures of the given imposing countries (ISO3)."""
        wanted = set(jurisdictions)
        out = np.zeros_like(self.closed)
        for control in self.controls:
            if control.jurisdiction in wanted:
                out |= self.masks[control.id]
        return out


def no_baseline(network: SupplyNetwork) -> BaselinePlacement:
    """The empty baseline (``none``): nothing closed."""
    return BaselinePlacement(name="none", as_of=None, controls=(), measures={}, masks={},
                             closed=np.zeros(network.num_edges, dtype=bool), skipped=())


def baseline_placement(network: SupplyNetwork, scenario: Scenario, controls_in_force: pl.DataFrame, *,
                       as_of: str | None = None, firm_countries: Mapping[str, str] | None = None,
                       tool_inputs=(), installed_base: SupplyNetwork | None = None) -> BaselinePlacement:
    """The routes the modelled controls in force close on ``network``.

    Parameters
    ----------
    network : SupplyNetwork
        The network of one horizon.
    scenario : Scenario
        Its actors name the destinations; ``[baseline]`` says whether the controls in force
        are the baseline and on which day. A scenario without ``controls_in_force = true``
        and no explicit ``as_of`` gets :func:`no_baseline`.
    controls_in_force : polars.DataFrame
        ``staging.controls_in_force`` (or :func:`~chokepoint.inputs.controls_in_force.read_controls_in_force`).
    as_of : str, optional
        The day (ISO date); overrides ``[baseline] as_of`` and forces the baseline on.
    firm_countries : mapping, optional
        Firm id → ISO3, to give firm measures their destination actor.
    tool_inputs, installed_base
        As in :func:`chokepoint.model.controls.control_route_masks` (foreign direct product).

    Returns
    -------
    BaselinePlacement

    Notes
    -----
    A measure aimed at every destination (``*``) closes routes to every actor but the
    imposing country's own (an upper bound where licences are granted; ``scope`` in the
    data says which are bans). A firm measure on a firm the network has no node of closes
    nothing (a country-level network has no firms). Route masks are whole-array numpy work,
    O(E) per control, O(C · E) for C controls.
    """
    day = as_of or scenario.baseline.as_of
    if as_of is None and not scenario.baseline.controls_in_force:
        return no_baseline(network)
    if day is None:
        raise ValueError("a baseline of controls in force needs a day (as_of)")
    found = baseline_controls(controls_in_force, scenario.actors, day, firm_countries=firm_countries)
    controls: list[Control] = []
    measures: dict[str, tuple[str, ...]] = {}
    skipped = list(found.skipped)
    for item in found.controls:
        # Unique: the measure fixes kind and jurisdiction, the rest is the control's key.
        control_id = ":".join(str(part) for part in (item["measure_id"], item["input"],
                                                      item["destination"] or item["firm"]))
        controls.append(Control(id=control_id, kind=item["kind"], jurisdiction=item["jurisdiction"],
                                destination=item["destination"], cost=0.0, input=item["input"], firm=item["firm"]))
        measures[control_id] = tuple(item["measure_ids"])
    known = set(network.countries)
    kept = []
    for control in controls:
        if control.jurisdiction not in known or (control.input is not None and control.input not in network.inputs):
            skipped.append({"measure_id": measures[control.id][0], "input_id": control.input,
                            "reason": "jurisdiction or input not in the network"})
            continue
        kept.append(control)
    with_destination = [c for c in kept if c.destination is not None]
    masks = control_route_masks(network, dataclasses.replace(scenario, controls=tuple(with_destination)),
                                tool_inputs=tool_inputs, installed_base=installed_base)
    f_index = {f: i for i, f in enumerate(network.firms)}
    k_index = {k: i for i, k in enumerate(network.inputs)}
    for control in kept:
        if control.destination is not None:
            continue
        # A firm measure whose firm has no known country: by firm only.
        firm = f_index.get(control.firm)
        if firm is None:
            masks[control.id] = np.zeros(network.num_edges, dtype=bool)
        elif control.kind == "entity_control":
            masks[control.id] = entity_routes(network, firm, k_index[control.input])
        else:
            jurisdiction = network.countries.index(control.jurisdiction)
            tainted = tainted_by(network, jurisdiction, tool_inputs=tool_inputs, installed_base=installed_base)
            masks[control.id] = foreign_direct_product_routes(network, tainted, jurisdiction,
                                                              k_index[control.input], None, firm)
    closed = np.zeros(network.num_edges, dtype=bool)
    for mask in masks.values():
        closed |= mask
    return BaselinePlacement(name="status_quo", as_of=str(day), controls=tuple(kept),
                             measures={c.id: measures[c.id] for c in kept}, masks=masks, closed=closed,
                             skipped=tuple(skipped))


def scenario_baseline(network: SupplyNetwork, scenario: Scenario, controls_in_force: pl.DataFrame,
                      firms: pl.DataFrame | None = None) -> BaselinePlacement:
    """The baseline of ``scenario`` on ``network`` from the staged tables.

    ``controls_in_force`` is ``staging.controls_in_force`` (empty: no baseline);
    ``firms`` is ``staging.firms`` (``firm_id``, ``iso3``), which gives firm measures their
    destination actor. A scenario without ``[baseline]`` gets :func:`no_baseline`.
    """
    if controls_in_force.is_empty():
        return no_baseline(network)
    firm_countries = (dict(zip(firms["firm_id"].to_list(), firms["iso3"].to_list()))
                      if firms is not None and firms.height else {})
    return baseline_placement(network, scenario, controls_in_force, firm_countries=firm_countries)


def scenario_baselines(networks, scenario: Scenario, controls_in_force: pl.DataFrame,
                       firms: pl.DataFrame | None = None) -> dict[str, BaselinePlacement]:
    """Horizon → the baseline of ``scenario`` on that horizon's network
    (:func:`scenario_baseline`); ``networks`` is a
    :class:`~chokepoint.model.build.HorizonNetworks` or any mapping with ``items()``."""
    return {horizon: scenario_baseline(network, scenario, controls_in_force, firms)
            for horizon, network in networks.items()}
