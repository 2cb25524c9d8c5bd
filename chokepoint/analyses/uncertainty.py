"""Monte Carlo over uncertain inputs: the sampler and the per-sample evaluation (``docs/design.md#12-uncertainty``).

A :class:`SweepProblem` holds everything a sample needs as compact arrays (the network's
construction arrays, provenance classes of data rows, the distributions, the placements
as route masks), so a task on any Dask worker rebuilds its models from it: no solver
object is ever pickled. :func:`run_chunk` evaluates one chunk of samples; its random
stream derives from ``(seed, stream, chunk)`` with :class:`numpy.random.SeedSequence`,
so the samples, and hence the results, do not depend on which worker runs which chunk.

A problem is one horizon's (``docs/design.md#9-horizons``): the sample's long-run network
is built from the arrays, and the short run's is derived from it with the scenario's
short-run rules (:func:`chokepoint.model.horizons.short_run_network`: qualified routes,
headroom from the sampled capacities and utilisations). Both horizons' problems draw the same
quantities in the same order, so with the same seed they see the same samples (common random
numbers: short-run and long-run figures differ by the horizon, not by the draws).

Per sample: every actor's attainable compute, each placement's leverage over each candidate
defector, the defector's deterrence margin ``p·V·L + B − G`` with its sampled parameters,
and the removal-loss rank of every node entity (country × input).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from chokepoint.analyses.chokepoints import entity_groups, removal_losses
from chokepoint.analyses.deterrence import MARGIN_TOLERANCE
from chokepoint.analyses.placements import catalogue_arrays, collateral_weights
from chokepoint.inputs.reference import COMPUTE_INPUT
from chokepoint.inputs.scenario import Scenario
from chokepoint.inputs.uncertainty import Distribution, row_range
from chokepoint.model.baseline import no_baseline, scenario_baseline
from chokepoint.model.build import HorizonNetworks, horizon_networks, network_arrays, producer_table
from chokepoint.model.horizons import HORIZONS, LONG_RUN, SHORT_RUN, ShortRunRules, short_run_network
from graph.failure import Propagation
from graph.network import SupplyNetwork, build_supply_network, without_routes
from optimization.capability import CapabilityModel
from optimization.deterrence_margin import deterrence_margin
from optimization.errors import ModelError

__all__ = ["SweepProblem", "ChunkResult", "PARAMETERS", "sweep_problem", "draw", "sample_inputs",
           "sample_rules", "sample_network", "evaluate_network", "run_chunk", "chunk_bounds", "chunk_rng", "merge_chunks",
           "robustness_table", "rank_intervals_table", "inputs_table", "ROBUSTNESS_SCHEMA", "RANK_INTERVALS_SCHEMA",
           "INPUTS_SCHEMA", "STREAMS"]

#: Actor parameters per defector, in the order of :attr:`SweepProblem.base_parameters` columns.
PARAMETERS = ("detection_probability", "value_of_capability", "benefit_of_compliance", "first_mover_gain")
#: Independent random streams: the sweep, the robust placements' training and test draws.
STREAMS = {"sweep": 0, "train": 1, "test": 2}
#: Smallest sampled transit / cloud fraction: a zero would drop routes and change the network's structure.
_FLOOR = 1e-9


@dataclass(frozen=True)
class SweepProblem:
    """Everything a sample of one horizon needs, as arrays (picklable, small).

    ``kwargs`` are :func:`chokepoint.model.build.network_arrays` of the staged tables (the
    producer table: firms and facilities where the data has them); ``quantities`` names
    each uncertain quantity and ``distributions`` its distribution (``None``: fixed at its
    point estimate); ``slots`` say where the quantities sit: ``parameters`` (D × 4 indices
    into the quantity vector), ``cloud``, ``transit``, ``capacity`` (one per producer row:
    the factor of its country and input), ``recipe`` (one per recipe row), ``utilisation``
    and ``lead_time`` (one per input type of ``utilisation_inputs`` / ``lead_time_inputs``:
    the short-run rules' figures, drawn within their rows' ranges).

    ``horizon`` is ``long_run`` or ``short_run``; ``rules`` (short run only) are the
    scenario's short-run rules at their point values, ``compute_input`` the index of the
    compute input type. ``edge_src`` / ``edge_dst`` are every route of the horizon's network
    (before the baseline).

    ``baseline`` names the scenario's baseline placement (``none`` / ``status_quo``);
    ``kept`` flags the routes it leaves open (None: all). Every route array below
    (``placements``, ``edge_entity``, ``closes``, ``collateral``) is over the kept routes:
    samples are evaluated on the network the baseline leaves (:func:`sample_network`), so
    every figure is marginal to it.
    """

    scenario: str
    kwargs: dict
    quantities: tuple[str, ...]
    distributions: tuple[Distribution | None, ...]
    point: np.ndarray
    parameter_slots: np.ndarray
    cloud_slot: int
    transit_slots: np.ndarray
    capacity_slots: np.ndarray
    recipe_slots: np.ndarray
    defectors: tuple[str, ...]
    placements: dict[str, np.ndarray]
    placement_controls: dict[str, tuple[str, ...]]
    edge_src: np.ndarray
    edge_dst: np.ndarray
    entity_names: tuple[str, ...]
    edge_entity: np.ndarray
    horizon: str = LONG_RUN
    rules: ShortRunRules | None = None
    compute_input: int = -1
    utilisation_inputs: tuple[str, ...] = ()
    utilisation_slots: np.ndarray = field(default=None, repr=False)
    lead_time_inputs: tuple[str, ...] = ()
    lead_time_slots: np.ndarray = field(default=None, repr=False)
    rank_top_k: int = 3
    rank_solves: int = 3
    time_limit: float = 60.0
    all_actors: bool = False
    ranks: bool = True
    #: (D, M): removing entity m leaves defector d's sink unproducible (structural, so the same
    #: in every sample: its removal loss is exactly 1 without an LP).
    spof: np.ndarray = field(default=None, repr=False)
    closes: np.ndarray = field(default=None, repr=False)
    cost: np.ndarray = field(default=None, repr=False)
    control_ids: tuple[str, ...] = ()
    collateral: np.ndarray = field(default=None, repr=False)
    collateral_cap: float = math.inf
    budget: float = 0.0
    baseline: str = "none"
    kept: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_routes(self) -> int:
        """Routes of the networks samples are evaluated on (those the baseline leaves)."""
        return int(self.edge_src.size if self.kept is None else self.kept.sum())


def _provenance(frame: pl.DataFrame, estimate_column: str = "source") -> np.ndarray:
    """True where a row is an estimate: ``imputed`` set, or a source starting ``estimate``."""
    flags = np.zeros(frame.height, dtype=bool)
    if "imputed" in frame.columns:
        flags |= frame["imputed"].fill_null(False).to_numpy().astype(bool)
    if estimate_column in frame.columns:
        flags |= frame[estimate_column].fill_null("").str.to_lowercase().str.starts_with("estimate").to_numpy()
    return flags


def _producer_slots(capacities: pl.DataFrame, producers: pl.DataFrame, slots: np.ndarray) -> np.ndarray:
    """The share-factor slot of each producer row: that of its (input, country) capacity row,
    so the firms and facilities of a country move together and its total stays the country's."""
    index = {(k, c): int(slot) for k, c, slot in zip(capacities["input_id"], capacities["iso3"], slots)}
    missing = [(k, c) for k, c in zip(producers["input_id"], producers["iso3"]) if (k, c) not in index]
    if missing:
        raise KeyError(f"producer rows with no staged capacity row (input, country): {sorted(set(missing))[:5]}")
    return np.array([index[(k, c)] for k, c in zip(producers["input_id"], producers["iso3"])], dtype=np.int64)


def _with_lead_time_routes(networks: HorizonNetworks) -> HorizonNetworks:
    """``networks`` with the short run re-derived so that its routes are those the lowest
    lead time of each range opens (their capacities still follow the figures)."""
    if not networks.rules.lead_time_range:
        return networks
    lows = {k: low for k, (low, _high) in networks.rules.lead_time_range.items()}
    rules = dataclasses.replace(networks.rules, route_lead_time={**networks.rules.lead_time, **lows})
    compute = list(networks.long_run.inputs).index(COMPUTE_INPUT)
    return dataclasses.replace(networks, short_run=short_run_network(networks.long_run, rules, compute), rules=rules)


def sweep_problem(tables: dict[str, pl.DataFrame], scenario: Scenario, placements: dict[str, tuple[str, ...]], *,
                  horizon: str = LONG_RUN, rank_top_k: int = 3, rank_solves: int = 3,
                  time_limit: float | None = None, all_actors: bool = False,
                  controls_in_force: pl.DataFrame | None = None, firms: pl.DataFrame | None = None) -> SweepProblem:
    """The compact problem of a scenario's sweep in one horizon.

    Parameters
    ----------
    tables : dict of polars.DataFrame
        Staged ``countries``, ``input_types``, ``recipes``, ``capacities`` and, where
        present, the firm-level and short-run tables (``producers``, ``short_run_rules``,
        ``qualifications``, ``compute_sourcing``): the networks are
        :func:`chokepoint.model.build.horizon_networks` of them, as in the pipeline.
    scenario : Scenario
        With its ``[uncertainty]`` distributions (data rows get the provenance defaults).
    placements : dict
        Placement name → control ids of the scenario's catalogue (e.g. the point-estimate
        ``optimal`` and ``deter_all`` placements of ``analytics.deterrence`` in this horizon).
    horizon : str
        ``long_run`` or ``short_run``.
    rank_top_k, rank_solves :
        Removal losses per sample (:func:`chokepoint.analyses.chokepoints.removal_losses`):
        at most ``rank_solves`` LP re-solves per defector to prove its top ``rank_top_k``
        entities; entities whose loss is not established are ranked by their certified lower
        bound, so ranks are exact for a certified top ``rank_top_k`` and approximate below it.
        Single points of failure of each defector (found once, structurally, with
        :class:`graph.failure.Propagation`: O(M · (N + E))) lose exactly 1 in every sample.
    all_actors : bool
        Also solve every non-defector actor's attainable compute (one LP each per sample).
    controls_in_force, firms : polars.DataFrame, optional
        ``staging.controls_in_force`` and ``staging.firms``: the scenario's baseline
        (:func:`chokepoint.model.baseline.scenario_baseline`; ``status_quo``: the controls in
        force), placed on the point estimate's routes of this horizon and kept closed in
        every sample.

    Raises
    ------
    KeyError
        If the horizon is unknown, a placement names an unknown control or a producer row
        has no capacity row.
    """
    if horizon not in HORIZONS:
        raise KeyError(f"unknown horizon {horizon!r} (known: {', '.join(HORIZONS)})")
    producers = producer_table(tables, scenario)
    kwargs = network_arrays(tables["countries"], tables["input_types"], tables["recipes"], producers, scenario)
    # Route masks are computed once, on the point estimate: with the installed base's taint. Routes a lead
    # time may open exist in every draw (the low ends of the lead times' ranges decide them).
    networks = _with_lead_time_routes(horizon_networks(tables, scenario))
    full = networks[horizon]
    baseline = (no_baseline(full) if controls_in_force is None
                else scenario_baseline(full, scenario, controls_in_force, firms))
    kept = None if baseline.name == "none" else ~baseline.closed
    network = baseline.in_force(full)
    spec = scenario.uncertainty
    quantities: list[str] = []
    distributions: list[Distribution | None] = []
    point: list[float] = []

    def add(name: str, distribution: Distribution | None, value: float) -> int:
        quantities.append(name)
        distributions.append(distribution)
        point.append(value)
        return len(quantities) - 1

    defectors = tuple(a.id for a in scenario.defectors)
    parameter_slots = np.array([[add(f"{a.id}.{name}", spec.actors.get(a.id, {}).get(name), getattr(a, name))
                                 for name in PARAMETERS] for a in scenario.defectors], dtype=np.int64).reshape(-1, 4)
    cloud_slot = add("settings.cloud_access_fraction", spec.settings.get("cloud_access_fraction"),
                     scenario.settings.cloud_access_fraction)
    transit = sorted(scenario.transit.items())
    transit_slots = np.array([add(f"transit.{c}", spec.transit.get(c), f) for c, f in transit], dtype=np.int64)
    imputed = _provenance(tables["capacities"])
    share_slots = np.array([
        add(f"share.{k}.{c}", spec.data["imputed_share" if flag else "observed_share"], 1.0)
        for k, c, flag in zip(tables["capacities"]["input_id"], tables["capacities"]["iso3"], imputed)],
        dtype=np.int64)
    estimate = _provenance(tables["recipes"])
    recipe_slots = np.array([
        add(f"coefficient.{p}.{i}", spec.data["estimate_coefficient" if flag else "observed_coefficient"], 1.0)
        for p, i, flag in zip(tables["recipes"]["product"], tables["recipes"]["input"], estimate)], dtype=np.int64)
    # Utilisations and lead times are drawn within their rows' ranges, in both horizons' problems (so both
    # draw the same quantities), and used in the short run.
    rules = networks.rules

    def ranged(kind: str, figures: dict[str, float], ranges: dict[str, tuple[float, float]]) -> np.ndarray:
        slots = []
        for k, value in figures.items():
            low, high = ranges.get(k, (None, None))
            slots.append(add(f"{kind}.{k}", row_range(low, value, high), value))
        return np.array(slots, dtype=np.int64)

    utilisation_inputs, lead_time_inputs = tuple(rules.utilisation), tuple(rules.lead_time)
    utilisation_slots = ranged("utilisation", rules.utilisation, rules.utilisation_range)
    lead_time_slots = ranged("lead_time", rules.lead_time, rules.lead_time_range)
    catalogue = catalogue_arrays(full, scenario)
    closes = catalogue.closes if kept is None else catalogue.closes[:, kept]
    index = {c: i for i, c in enumerate(catalogue.ids)}
    masks, controls = {}, {}
    for name, ids in placements.items():
        chosen = np.zeros(len(catalogue.ids), dtype=bool)
        for control in ids:
            if control not in index:
                raise KeyError(f"placement {name!r} names control {control!r}, not in scenario {scenario.name!r}")
            chosen[index[control]] = True
        masks[name] = closes[chosen].any(axis=0) if chosen.any() else np.zeros(network.num_edges, dtype=bool)
        controls[name] = tuple(ids)
    groups = entity_groups(network)
    edge_entity = groups.group[network.edge_src]
    propagation = Propagation.of(network)
    entities = len(groups.group_names)
    sinks = [network.sink_of(network.actors.index(d)) for d in defectors]
    spof = np.zeros((len(defectors), entities), dtype=bool)
    for m in range(entities):
        alive = propagation.run(None, edge_entity != m)
        spof[:, m] = ~alive[sinks]
    return SweepProblem(
        scenario=scenario.name, kwargs=kwargs, quantities=tuple(quantities), distributions=tuple(distributions),
        point=np.array(point, dtype=np.float64), parameter_slots=parameter_slots, cloud_slot=cloud_slot,
        transit_slots=transit_slots, capacity_slots=_producer_slots(tables["capacities"], producers, share_slots),
        recipe_slots=recipe_slots, defectors=defectors,
        placements=masks, placement_controls=controls, edge_src=full.edge_src.copy(),
        edge_dst=full.edge_dst.copy(), entity_names=tuple(str(n) for n in groups.group_names),
        edge_entity=edge_entity.astype(np.int64), horizon=horizon,
        rules=networks.rules if horizon == SHORT_RUN else None,
        compute_input=list(full.inputs).index(COMPUTE_INPUT), utilisation_inputs=utilisation_inputs,
        utilisation_slots=utilisation_slots, lead_time_inputs=lead_time_inputs, lead_time_slots=lead_time_slots,
        rank_top_k=rank_top_k,
        rank_solves=rank_solves, time_limit=float(time_limit or scenario.settings.time_limit_s),
        closes=closes, cost=catalogue.cost, control_ids=catalogue.ids,
        collateral=collateral_weights(full, scenario)[slice(None) if kept is None else kept],
        collateral_cap=scenario.settings.collateral_cap, budget=scenario.settings.budget, all_actors=all_actors,
        spof=spof, baseline=baseline.name, kept=kept)


def chunk_rng(seed: int, stream: int, chunk: int) -> np.random.Generator:
    """The generator of one chunk: ``SeedSequence(seed, spawn_key=(stream, chunk))``, so a
    chunk's draws depend on the seed, the stream and the chunk index only."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream), int(chunk))))


def chunk_bounds(samples: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each chunk of ``samples`` samples."""
    return [(start, min(start + chunk_size, samples)) for start in range(0, samples, chunk_size)]


def draw(problem: SweepProblem, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` joint draws of every quantity (count × Q): inverse-CDF of independent uniforms.

    Notes
    -----
    One ``count × Q`` block of uniforms is drawn whatever the distributions (so adding a
    distribution to one quantity does not shift the others' draws); each distinct
    distribution transforms its columns at once. O(count · Q).
    """
    u = rng.random((count, len(problem.quantities)))
    values = np.broadcast_to(problem.point, u.shape).copy()
    groups: dict[int, tuple[Distribution, list[int]]] = {}
    for j, distribution in enumerate(problem.distributions):
        if distribution is not None:
            groups.setdefault(id(distribution), (distribution, []))[1].append(j)
    for distribution, columns in groups.values():
        values[:, columns] = distribution.ppf(u[:, columns])
    return values


def sample_inputs(problem: SweepProblem, values: np.ndarray) -> tuple[dict, np.ndarray]:
    """Network arrays and defector parameters (D × 4, :data:`PARAMETERS`) of one draw.

    Shares stay consistent: each producer row's capacity is scaled by its factor, then the
    rows of each input are renormalised so that their total share is the staged total
    (which is at most 100 %): ``s'_i = s_i f_i · Σ_j s_j / Σ_j s_j f_j``.
    """
    kwargs = dict(problem.kwargs)
    factor = values[problem.capacity_slots]
    capacity = np.asarray(kwargs["producer_capacity"], dtype=np.float64)
    inputs = np.asarray(kwargs["producer_input"], dtype=np.int64)
    count = len(kwargs["inputs"])
    total = np.bincount(inputs, weights=capacity, minlength=count)
    scaled = np.bincount(inputs, weights=capacity * factor, minlength=count)
    ratio = np.divide(total, scaled, out=np.ones(count), where=scaled > 0)
    kwargs["producer_capacity"] = capacity * factor * ratio[inputs]
    kwargs["recipe_coefficient"] = np.asarray(kwargs["recipe_coefficient"], dtype=np.float64) * values[problem.recipe_slots]
    kwargs["cloud_access_fraction"] = max(float(values[problem.cloud_slot]), _FLOOR)
    kwargs["transit_fraction"] = [max(float(v), _FLOOR) for v in values[problem.transit_slots]]
    return kwargs, values[problem.parameter_slots]


def sample_rules(problem: SweepProblem, values: np.ndarray) -> ShortRunRules | None:
    """The short-run rules of one draw (None for a long-run problem): each rated input's
    utilisation and each lead time as drawn (within their rows' ranges)."""
    if problem.rules is None:
        return None
    utilisation = {**problem.rules.utilisation, **{
        k: float(v) for k, v in zip(problem.utilisation_inputs, values[problem.utilisation_slots])}}
    lead_time = {**problem.rules.lead_time, **{
        k: float(v) for k, v in zip(problem.lead_time_inputs, values[problem.lead_time_slots])}}
    return dataclasses.replace(problem.rules, utilisation=utilisation, lead_time=lead_time)


def sample_network(problem: SweepProblem, kwargs: dict, rules: ShortRunRules | None = None) -> SupplyNetwork:
    """The network of one draw in the problem's horizon, checked to have the problem's
    routes, without the routes the problem's baseline closes.

    The long-run network is built from ``kwargs``; a short-run problem derives its view
    with ``rules`` (:func:`sample_rules`; default: the problem's point rules), so headroom
    follows the sampled capacities and utilisations.

    Raises
    ------
    ModelError
        If the sampled network's routes differ from the point estimate's (placements are
        route masks, so they would no longer mean the same controls).
    """
    network = build_supply_network(**kwargs)
    if problem.rules is not None:
        network = short_run_network(network, rules or problem.rules, problem.compute_input).network
    if not (np.array_equal(network.edge_src, problem.edge_src) and np.array_equal(network.edge_dst, problem.edge_dst)):
        raise ModelError("sampled network", "its routes differ from the point estimate's: a sampled share or "
                                            "fraction removed a route; keep distribution bounds above 0")
    return network if problem.kept is None else without_routes(network, ~problem.kept)


#: Per-sample result arrays of :class:`ChunkResult`.
RESULT_ARRAYS = ("capability", "leverage", "margin", "deterred", "rank", "loss")


@dataclass(frozen=True)
class ChunkResult:
    """Per-sample arrays of one chunk (S samples, A actors, P placements, D defectors,
    M entities): ``capability`` (S, A), ``leverage`` and ``margin`` (S, P, D),
    ``deterred`` (S, P, D) bool, ``rank`` and ``loss`` (S, M)."""

    start: int
    capability: np.ndarray
    leverage: np.ndarray
    margin: np.ndarray
    deterred: np.ndarray
    rank: np.ndarray
    loss: np.ndarray


def evaluate_network(problem: SweepProblem, network: SupplyNetwork, parameters: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate one sample on its network (:func:`sample_network`).

    Returns ``capability`` (A; NaN for actors other than the candidate defectors unless
    ``all_actors``), ``leverage``, ``margin``, ``deterred`` (P, D), ``rank``, ``loss`` (M).

    Notes
    -----
    One capability LP model built from the arrays, D (or A) + P·D capability LPs and at most
    ``rank_solves`` removal re-solves per defector; removal-loss bounds are
    O(depth · R + (N + E) · M) numpy work per defector.
    """
    names = list(problem.placements)
    p, v, b, g = (parameters[:, i] for i in range(4))
    entities = len(problem.entity_names)
    model = CapabilityModel(network, solver="HIGHS", time_limit=problem.time_limit)
    sinks = [network.sink_of(i) for i in range(len(network.actors))]
    defector_index = [network.actors.index(d) for d in problem.defectors]
    solved = range(len(sinks)) if problem.all_actors else defector_index
    base = {a: model.solve(sinks[a]) for a in solved}
    capability = np.array([base[a].value if a in base else math.nan for a in range(len(sinks))])
    c0 = capability[defector_index]
    leverage = np.zeros((len(names), len(defector_index)))
    for i, name in enumerate(names):
        route_open = (~problem.placements[name]).astype(np.float64)
        if problem.placements[name].any():
            after = np.array([model.solve(sinks[a], route_open).value for a in defector_index])
        else:
            after = c0
        leverage[i] = np.clip(np.divide(c0 - after, c0, out=np.zeros_like(c0), where=c0 > 0), 0.0, 1.0)
    margin = deterrence_margin(p[None, :], v[None, :], leverage, b[None, :], g[None, :])
    deterred = margin >= -MARGIN_TOLERANCE * np.maximum(1.0, g[None, :])
    loss = np.zeros(entities)
    for j, a in enumerate(defector_index if problem.ranks else ()):
        spof = np.flatnonzero(problem.spof[j]) if problem.spof is not None else np.empty(0, np.int64)
        found = removal_losses(model, sinks[a], base[a], problem.edge_entity, entities, top_k=problem.rank_top_k,
                               max_solves=problem.rank_solves)
        # Exact where proven (LP re-solve or coinciding bounds), else the certified lower bound: the
        # top ``rank_top_k`` are exact whenever certified (every other entity's upper bound is below them).
        # Single points of failure lose everything (structural, no LP needed).
        exact = found.exact.copy()
        exact[spof] = 1.0 if base[a].value > 0 else 0.0
        loss += np.where(np.isnan(exact), found.lower, exact)
    loss /= max(len(defector_index), 1)
    # Rank 1 = largest loss; ties share the best rank (as analytics.chokepoints).
    order = np.sort(loss)[::-1]
    rank = np.searchsorted(-order, -loss, side="left") + 1
    return {"capability": capability, "leverage": leverage, "margin": margin, "deterred": deterred, "rank": rank,
            "loss": loss}


def run_chunk(problem: SweepProblem, seed: int, stream: int, chunk: int, start: int, stop: int) -> ChunkResult:
    """Evaluate samples ``start … stop − 1`` (chunk ``chunk``) of the sweep with seed ``seed``.

    Pure: the same arguments give the same result on any worker (the draws come from
    :func:`chunk_rng`, the models are rebuilt from the problem's arrays).
    """
    values = draw(problem, stop - start, chunk_rng(seed, stream, chunk))
    per_sample = []
    for row in values:
        kwargs, parameters = sample_inputs(problem, row)
        network = sample_network(problem, kwargs, sample_rules(problem, row))
        per_sample.append(evaluate_network(problem, network, parameters))
    stacked = {key: np.stack([s[key] for s in per_sample]) for key in RESULT_ARRAYS} if per_sample else {}
    return ChunkResult(start=start, **stacked)


def merge_chunks(chunks: list[ChunkResult]) -> ChunkResult:
    """One result from chunks, in sample order (whatever order they finished in)."""
    chunks = sorted(chunks, key=lambda c: c.start)
    return ChunkResult(start=0, **{key: np.concatenate([getattr(c, key) for c in chunks]) for key in RESULT_ARRAYS})


ROBUSTNESS_SCHEMA = {
    "scenario": pl.String, "horizon": pl.String, "baseline": pl.String, "defector": pl.String, "placement": pl.String,
    "controls": pl.List(pl.String), "samples": pl.Int64, "p_deterred": pl.Float64, "p_deterred_se": pl.Float64,
    "leverage_p05": pl.Float64, "leverage_p50": pl.Float64, "leverage_p95": pl.Float64,
    "margin_p05": pl.Float64, "margin_p50": pl.Float64, "margin_p95": pl.Float64, "seed": pl.Int64,
}
RANK_INTERVALS_SCHEMA = {
    "scenario": pl.String, "horizon": pl.String, "baseline": pl.String, "entity": pl.String, "samples": pl.Int64,
    "rank_p05": pl.Float64, "rank_p50": pl.Float64, "rank_p95": pl.Float64, "loss_p50": pl.Float64,
    "seed": pl.Int64,
}


def robustness_table(problem: SweepProblem, result: ChunkResult, *, seed: int, scenario: str | None = None
                     ) -> pl.DataFrame:
    """``analytics.robustness``: per (horizon, defector, placement) the probability of being
    deterred with its standard error ``sqrt(p (1 − p) / n)`` and leverage and margin quantiles."""
    n = result.leverage.shape[0]
    rows = []
    for i, name in enumerate(problem.placements):
        for d, defector in enumerate(problem.defectors):
            deterred = result.deterred[:, i, d]
            prob = float(deterred.mean()) if n else math.nan
            lev = np.quantile(result.leverage[:, i, d], [0.05, 0.5, 0.95])
            mar = np.quantile(result.margin[:, i, d], [0.05, 0.5, 0.95])
            rows.append({"scenario": scenario or problem.scenario, "horizon": problem.horizon,
                         "baseline": problem.baseline, "defector": defector,
                         "placement": name, "controls": list(problem.placement_controls[name]), "samples": n,
                         "p_deterred": prob, "p_deterred_se": math.sqrt(prob * (1.0 - prob) / n),
                         "leverage_p05": float(lev[0]), "leverage_p50": float(lev[1]),
                         "leverage_p95": float(lev[2]), "margin_p05": float(mar[0]), "margin_p50": float(mar[1]),
                         "margin_p95": float(mar[2]), "seed": int(seed)})
    return pl.DataFrame(rows, schema=ROBUSTNESS_SCHEMA)


def rank_intervals_table(problem: SweepProblem, result: ChunkResult, *, seed: int, scenario: str | None = None
                         ) -> pl.DataFrame:
    """``analytics.rank_intervals``: per (horizon, node entity) the 5th, 50th and 95th
    percentile of its removal-loss rank over the samples (1 = the largest loss)."""
    n = result.rank.shape[0]
    count = len(problem.entity_names)
    q = np.quantile(result.rank.astype(np.float64), [0.05, 0.5, 0.95], axis=0)
    frame = pl.DataFrame({
        "scenario": [scenario or problem.scenario] * count, "horizon": [problem.horizon] * count,
        "baseline": [problem.baseline] * count, "entity": list(problem.entity_names),
        "samples": [n] * count, "rank_p05": q[0], "rank_p50": q[1], "rank_p95": q[2],
        "loss_p50": np.quantile(result.loss, 0.5, axis=0), "seed": [int(seed)] * count,
    }, schema=RANK_INTERVALS_SCHEMA)
    return frame.sort("scenario", "horizon", "rank_p50", "entity")


INPUTS_SCHEMA = {
    "scenario": pl.String, "quantity": pl.String, "kind": pl.String, "point": pl.Float64,
    "distribution": pl.String, "low": pl.Float64, "high": pl.Float64, "mode": pl.Float64, "median": pl.Float64,
    "sigma": pl.Float64,
}


def inputs_table(problem: SweepProblem, *, scenario: str | None = None) -> pl.DataFrame:
    """``analytics.uncertain_inputs``: every quantity the sweep draws, its point value and its
    distribution (``fixed`` when it stays at the point value). Share and coefficient rows
    are multiplicative factors (point 1; shares before the per-input renormalisation);
    utilisation and lead-time rows are the short-run rules' figures themselves."""
    def kind(name: str) -> str:
        head = name.split(".", 1)[0]
        return {"share": "share_factor", "coefficient": "coefficient_factor", "settings": "setting",
                "transit": "transit_fraction", "utilisation": "utilisation", "lead_time": "lead_time_months"}.get(
            head, "actor_parameter")

    def number(value: float):
        return None if value is None or not math.isfinite(value) else float(value)

    rows = []
    for name, distribution, point in zip(problem.quantities, problem.distributions, problem.point):
        d = distribution
        rows.append({"scenario": scenario or problem.scenario, "quantity": name, "kind": kind(name),
                     "point": float(point), "distribution": d.kind if d is not None else "fixed",
                     "low": number(d.low) if d else None, "high": number(d.high) if d else None,
                     "mode": number(d.mode) if d else None, "median": number(d.median) if d else None,
                     "sigma": number(d.sigma) if d else None})
    return pl.DataFrame(rows, schema=INPUTS_SCHEMA)
