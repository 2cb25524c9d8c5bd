"""From validated tables and a scenario to the AND/OR supply network.

One builder serves the country-level network and the synthetic facility-level one: both
take the same arrays (:func:`network_arrays`) and differ only in the graph routine that
lays out the nodes (:func:`graph.network.build_supply_network` or
:func:`graph.synthetic.generate_facility_network`). The model is in
``docs/design.md#2-the-supply-model``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.reference import COMPUTE_INPUT
from chokepoint.inputs.scenario import Scenario
from chokepoint.model.controls import tool_origin
from chokepoint.model.horizons import (HORIZONS, LONG_RUN, SHORT_RUN, ShortRun, ShortRunRules, rules_from_tables,
                                       short_run_network)
from chokepoint.threads import in_threads
from graph.network import EDGE_KINDS, NODE_KINDS, SupplyNetwork, build_supply_network
from graph.synthetic import SyntheticSpec, generate_facility_network

__all__ = ["network_arrays", "network_from_tables", "synthetic_network_from_tables", "network_tables",
           "HorizonNetworks", "horizon_networks", "horizon_network", "horizon_rules", "producer_table", "with_firm_actor_compute", "headroom_table", "with_horizon_first", "with_baseline", "NETWORK_TABLES", "HORIZON_TABLES",
           "FDP_TOOL_STAGES", "CHIP_OUTPUT_STAGES", "inputs_of_stages", "fdp_tool_inputs", "with_tool_origin"]

#: Staged tables every network is built from.
NETWORK_TABLES = ("countries", "input_types", "recipes", "capacities")
#: Staged tables that refine it: producers at firm and facility level, the short-run rules
#: and who owns compute (for firm actors) — each optional: without them producers are
#: countries and nothing is restricted.
HORIZON_TABLES = ("producers", "short_run_rules", "qualifications", "compute_sourcing", "compute_owners")

#: Stages whose products taint what is made with them under a foreign-direct-product rule:
#: equipment (a "plant or major component of a plant") and design (software and
#: technology, EDA among them) — 15 CFR 734.9, the US foreign-direct-product rules
#: (https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C/part-734/section-734.9).
FDP_TOOL_STAGES = ("equipment", "design")


#: Stages whose output is a country's chip output (wafers for every use, most of them not
#: AI): what `analytics.counter_chokepoints.chip_output_loss` measures.
CHIP_OUTPUT_STAGES = ("fabrication",)


def inputs_of_stages(input_types: pl.DataFrame, stages) -> tuple[str, ...]:
    """Input types whose ``stage`` (``staging.input_types.stage``) is one of ``stages``."""
    if "stage" not in input_types.columns:
        return ()
    return tuple(input_types.filter(pl.col("stage").is_in(list(stages)))["input_id"].to_list())


def fdp_tool_inputs(input_types: pl.DataFrame) -> tuple[str, ...]:
    """Input types of a :data:`FDP_TOOL_STAGES` stage."""
    return inputs_of_stages(input_types, FDP_TOOL_STAGES)


def with_tool_origin(network: SupplyNetwork, input_types: pl.DataFrame) -> SupplyNetwork:
    """``network`` with ``node_tool_origin`` judged on its own routes (build it on the
    long-run network: the short-run view derived from it keeps the installed base's taint)."""
    return dataclasses.replace(network, node_tool_origin=tool_origin(network, fdp_tool_inputs(input_types)))


def network_arrays(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                   capacities: pl.DataFrame, scenario: Scenario) -> dict:
    """Keyword arguments shared by every network builder: countries and inputs as codes,
    producers, recipes, the scenario's actors with their member countries, cloud access
    and transit hubs.

    ``capacities`` is either the country-level table (``iso3``, ``input_id``,
    ``capacity``: one producer per country and input) or the producer table
    (``staging.producers``: the same plus ``firm_id`` and ``facility_id``, several
    producers per country and input where firm or facility data exists). A scenario with
    firm actors also gets ``actor_firms``: the indices of each actor's firms among the
    producers' firms (give :func:`producer_table` of the scenario, which splits their compute out).
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
    owned = {}
    if scenario.firm_actors:
        index = {f: i for i, f in enumerate(firm_detail.get("firms", []))}
        owned = {"actor_firms": [[index[f] for f in a.firms if f in index] for a in scenario.actors]}
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
        **owned,
        cloud_access_fraction=scenario.settings.cloud_access_fraction,
        transit_country=[c_index[c] for c, _ in transit],
        transit_fraction=[f for _, f in transit],
        world_capacity=input_types["world_capacity"].to_numpy(),
    )


def network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                        capacities: pl.DataFrame, scenario: Scenario) -> SupplyNetwork:
    """The country-level AND/OR network of a scenario (one producer per country and input)."""
    return with_tool_origin(build_supply_network(**network_arrays(countries, input_types, recipes, capacities,
                                                                  scenario)), input_types)


def synthetic_network_from_tables(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                                  capacities: pl.DataFrame, scenario: Scenario,
                                  spec: SyntheticSpec = SyntheticSpec()) -> SupplyNetwork:
    """Facility-level network with the same country shares, recipes, actors, cloud access
    and transit hubs (see :mod:`graph.synthetic`). Its facilities are synthetic, not firms,
    so a firm actor has no compute of its own there (only cloud access)."""
    arrays = network_arrays(countries, input_types, recipes, capacities, scenario)
    arrays.pop("actor_firms", None)
    return generate_facility_network(**arrays, spec=spec)


def network_tables(network: SupplyNetwork, short_run: ShortRun | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Node and edge tables of a (long-run) network, with readable labels, for the warehouse.

    With ``short_run`` (the short-run view of the same network) the edge table says which
    routes are qualified within the horizon (``short_run_route``)."""
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
        "firm_id": np.array(list(network.firms) + [None], dtype=object)[network.firm_index()].tolist(),
        "facility_id": np.array(list(network.facilities) + [None], dtype=object)[network.facility_index()].tolist(),
    }, schema_overrides={"iso3": pl.String, "input_id": pl.String, "actor": pl.String, "firm_id": pl.String,
                         "facility_id": pl.String})
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
    if short_run is not None:
        qualified = np.zeros(network.num_edges, dtype=bool)
        qualified[short_run.long_run_edge] = True
        edges = edges.with_columns(pl.Series("short_run_route", qualified))
    return nodes, edges


def headroom_table(short_run: ShortRun) -> pl.DataFrame:
    """What each actor can draw from each producer within the short-run horizon.

    One row per (producer, actor): physical capacity, the actor's committed capacity
    (its current compute's demand attributed upstream), headroom = committed + spare
    (``h[u, a]``, ``docs/design.md#9-horizons``), and the node's spare and non-AI
    capacity (null where the input type has no utilisation figure: no limit) and
    whether attributed AI demand was rationed.
    """
    net = short_run.network
    producers = np.flatnonzero(net.node_kind == NODE_KINDS.index("producer"))
    num_actors = len(net.actors)
    countries = np.array(list(net.countries) + [None], dtype=object)
    inputs = np.array(list(net.inputs) + [None], dtype=object)
    firms = np.array(list(net.firms) + [None], dtype=object)
    headroom = net.actor_capacity if net.actor_capacity is not None else np.repeat(
        net.node_capacity[None, :], num_actors, axis=0)
    node = np.tile(producers, num_actors)
    actor = np.repeat(np.arange(num_actors), producers.size)

    def optional(values: np.ndarray) -> list:
        return [None if np.isnan(v) else float(v) for v in values]

    return pl.DataFrame({
        "node_id": node.astype(np.int64),
        "name": [net.node_names[i] for i in node] if net.node_names else [str(i) for i in node],
        "iso3": countries[net.node_country[node]].tolist(),
        "input_id": inputs[net.node_input[node]].tolist(),
        "firm_id": firms[net.firm_index()[node]].tolist(),
        "actor": [net.actors[a] for a in actor],
        "capacity": net.node_capacity[node],
        "committed": short_run.committed[node, actor],
        "headroom": headroom[actor, node],
        "spare": optional(short_run.spare[node]),
        "non_ai": optional(short_run.non_ai[node]),
        "rationed": short_run.rationed[node],
    }, schema_overrides={"iso3": pl.String, "input_id": pl.String, "firm_id": pl.String,
                         "spare": pl.Float64, "non_ai": pl.Float64})


@dataclass(frozen=True)
class HorizonNetworks:
    """The network of a scenario in every horizon (``docs/design.md#9-horizons``).

    Attributes
    ----------
    long_run : SupplyNetwork
        Producers at firm and facility level where the data has them; capacity fungible
        across suppliers of a type.
    short_run : ShortRun
        Qualified routes and headroom within the scenario's short-run horizon; its
        ``network`` has the same nodes as ``long_run``.
    rules : ShortRunRules
        The short-run rules it was derived with (horizon length, flexibility).
    """

    long_run: SupplyNetwork
    short_run: ShortRun
    rules: ShortRunRules

    def __getitem__(self, horizon: str) -> SupplyNetwork:
        if horizon == LONG_RUN:
            return self.long_run
        if horizon == SHORT_RUN:
            return self.short_run.network
        raise KeyError(f"unknown horizon {horizon!r}; use {', '.join(HORIZONS)}")

    def items(self) -> Iterator[tuple[str, SupplyNetwork]]:
        """(horizon, network) pairs in report order: short run first."""
        return ((horizon, self[horizon]) for horizon in HORIZONS)

    def table_marginal(self, baselines: Mapping, analyse: Callable, *, threads: int = 1) -> pl.DataFrame:
        """``analyse(horizon, network, baseline)`` run on each horizon's network with that
        horizon's baseline placement (``baselines``: horizon →
        :class:`~chokepoint.model.baseline.BaselinePlacement`), stacked, with ``horizon`` and
        ``baseline`` (its name) columns after ``scenario``. With ``threads`` > 1 the horizons
        are analysed at once (:func:`chokepoint.threads.in_threads`, the larger network
        first): ``analyse`` must then build its own models per call and share no mutable
        state between horizons."""
        units = list(self.items())
        tables = in_threads(lambda unit: analyse(unit[0], unit[1], baselines[unit[0]]), units, threads,
                            work=lambda unit: unit[1].num_edges, name="horizon")
        frames = [with_baseline(with_horizon_first(table.with_columns(pl.lit(horizon).alias("horizon"))),
                                baselines[horizon].name) for (horizon, _), table in zip(units, tables)]
        return pl.concat(frames, how="vertical")


def with_horizon_first(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its ``horizon`` column right after ``scenario`` (or first)."""
    rest = [c for c in frame.columns if c != "horizon"]
    at = rest.index("scenario") + 1 if "scenario" in rest else 0
    return frame.select(*rest[:at], "horizon", *rest[at:])


def with_baseline(frame: pl.DataFrame, baseline: str) -> pl.DataFrame:
    """``frame`` with a ``baseline`` column (``none`` / ``status_quo``: what its figures are
    marginal to) right after ``horizon`` (or first)."""
    rest = [c for c in frame.columns if c != "baseline"]
    at = rest.index("horizon") + 1 if "horizon" in rest else 0
    return frame.with_columns(pl.lit(baseline, dtype=pl.String).alias("baseline")).select(
        *rest[:at], "baseline", *rest[at:])


def _empty(tables: Mapping[str, pl.DataFrame], name: str) -> bool:
    return name not in tables or tables[name] is None or tables[name].height == 0


def producer_table(tables: Mapping[str, pl.DataFrame], scenario: Scenario | None = None) -> pl.DataFrame:
    """The finest producer table staged: ``producers`` (firms and facilities) where present
    and non-empty, else the country-level ``capacities``; with the compute of the
    scenario's firm actors split out (:func:`with_firm_actor_compute`)."""
    producers = tables["capacities"] if _empty(tables, "producers") else tables["producers"]
    if scenario is None or not scenario.firm_actors:
        return producers
    owners = None if _empty(tables, "compute_owners") else tables["compute_owners"]
    return with_firm_actor_compute(producers, owners, scenario)


def with_firm_actor_compute(producers: pl.DataFrame, compute_owners: pl.DataFrame | None,
                            scenario: Scenario) -> pl.DataFrame:
    """``producers`` with each firm actor's compute as producers of its own
    (``docs/design.md#10-firms-and-facilities``).

    For every country where a firm of a firm actor owns counted clusters
    (``staging.compute_owners``), a ``datacenter_compute`` producer ``ISO3:datacenter_compute:firm``
    takes ``share_of_country`` of the country's compute capacity from the country's
    producer without a firm (which keeps the rest), so country totals are unchanged.

    Raises
    ------
    InputError
        When a firm actor's firm owns no counted compute (``staging.compute_owners``; empty
        on reference data), or a country's compute has no producer without a firm to split.
    """
    firms = {f: a.id for a in scenario.firm_actors for f in a.firms}
    rows = (compute_owners.filter(pl.col("firm_id").is_in(list(firms))) if compute_owners is not None
            else pl.DataFrame(schema={"iso3": pl.String, "firm_id": pl.String, "share_of_country": pl.Float64}))
    for firm, actor in firms.items():
        if firm not in set(rows["firm_id"].to_list()):
            raise InputError(scenario.path, f"firm '{firm}' owns no counted AI compute in staging.compute_owners, so "
                             "the firm actor would have no compute of its own", row=f"[actors.{actor}]", field="firms",
                             hint="firm actors need cluster ownership data (Epoch AI GPU clusters: real data)")
    base = producers if "firm_id" in producers.columns else producers.with_columns(
        pl.lit(None, dtype=pl.String).alias("firm_id"))
    compute = pl.col("input_id") == COMPUTE_INPUT
    country_capacity = dict(base.filter(compute).group_by("iso3").agg(pl.col("capacity").sum()).iter_rows())
    taken: dict[str, float] = {}
    added = []
    for iso3, firm, share in rows.select("iso3", "firm_id", "share_of_country").iter_rows():
        if iso3 not in country_capacity:
            continue    # clusters in a country without staged compute capacity: nothing to split
        capacity = min(float(share), 1.0) * country_capacity[iso3]
        taken[iso3] = taken.get(iso3, 0.0) + capacity
        added.append({"iso3": iso3, "input_id": COMPUTE_INPUT, "firm_id": firm, "capacity": capacity})
    residual = compute & pl.col("firm_id").is_null()
    for iso3 in taken:
        if base.filter(residual & (pl.col("iso3") == iso3)).height != 1:
            actor = next(firms[row["firm_id"]] for row in added if row["iso3"] == iso3)
            raise InputError(scenario.path, f"the datacenter_compute of {iso3} has no single producer without a firm "
                             "to give the firm actors' compute", row=f"[actors.{actor}]", field="firms")
    taken_expr = pl.col("iso3").replace_strict(taken, default=0.0, return_dtype=pl.Float64)
    split = base.with_columns(pl.when(residual).then(pl.max_horizontal(pl.col("capacity") - taken_expr, 0.0))
                              .otherwise(pl.col("capacity")).alias("capacity"))
    extra = pl.DataFrame(added, schema={"iso3": pl.String, "input_id": pl.String, "firm_id": pl.String,
                                        "capacity": pl.Float64})
    return pl.concat([split, extra], how="diagonal_relaxed")


def horizon_networks(tables: Mapping[str, pl.DataFrame], scenario: Scenario, *,
                     rules: ShortRunRules | None = None) -> HorizonNetworks:
    """Both horizons' networks of a scenario from staged tables.

    Parameters
    ----------
    tables : mapping of str to polars.DataFrame
        :data:`NETWORK_TABLES` (required) and :data:`HORIZON_TABLES` (optional):
        ``producers`` (``staging.producers``; absent or empty: one producer per country
        and input from ``capacities``), ``short_run_rules``, ``qualifications``,
        ``compute_sourcing`` (absent: every route qualified, no headroom limit, so the
        short run equals the long run).
    scenario : Scenario
    rules : ShortRunRules, optional
        :func:`horizon_rules` of the same tables and scenario, when the caller already has
        them (they do not depend on capacities).

    Returns
    -------
    HorizonNetworks

    Notes
    -----
    Cost: one network build, O(N + E + R) for N nodes, E routes and R requirement rows,
    plus the short-run derivation, O(N log N + E + R·A) for A actors.
    """
    long_run = _long_run_network(tables, scenario)
    rules = rules or horizon_rules(tables, scenario)
    short_run = short_run_network(long_run, rules, list(long_run.inputs).index(COMPUTE_INPUT))
    return HorizonNetworks(long_run=long_run, short_run=short_run, rules=rules)


def horizon_network(tables: Mapping[str, pl.DataFrame], scenario: Scenario, horizon: str, *,
                    rules: ShortRunRules | None = None) -> SupplyNetwork:
    """One horizon's network of :func:`horizon_networks`; the long run is built without the
    short-run derivation, which it does not need."""
    if horizon == LONG_RUN:
        return _long_run_network(tables, scenario)
    if horizon != SHORT_RUN:
        raise KeyError(f"unknown horizon {horizon!r}; use {', '.join(HORIZONS)}")
    return horizon_networks(tables, scenario, rules=rules)[horizon]


def _long_run_network(tables: Mapping[str, pl.DataFrame], scenario: Scenario) -> SupplyNetwork:
    return with_tool_origin(build_supply_network(**network_arrays(
        tables["countries"], tables["input_types"], tables["recipes"], producer_table(tables, scenario), scenario)),
        tables["input_types"])


def horizon_rules(tables: Mapping[str, pl.DataFrame], scenario: Scenario) -> ShortRunRules:
    """The short-run rules of a scenario from the staged :data:`HORIZON_TABLES` (absent or
    empty tables: no restriction); capacities do not enter them."""
    empty_rules = pl.DataFrame(schema={"input_id": pl.String, "qualification": pl.String, "utilisation": pl.Float64})
    empty_qualified = pl.DataFrame(schema={"buyer_firm_id": pl.String, "input_id": pl.String,
                                           "supplier_firm_id": pl.String, "basis": pl.String})
    empty_sourcing = pl.DataFrame(schema={"iso3": pl.String, "input_id": pl.String, "supplier_firm_id": pl.String,
                                          "h100e": pl.Float64})
    return rules_from_tables(
        empty_rules if _empty(tables, "short_run_rules") else tables["short_run_rules"],
        empty_qualified if _empty(tables, "qualifications") else tables["qualifications"],
        empty_sourcing if _empty(tables, "compute_sourcing") else tables["compute_sourcing"], scenario)
