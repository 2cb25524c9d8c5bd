"""Scenario files: who signs, who may defect, their payoffs, the control catalogue.

A scenario is data (TOML), not code. Example (see ``data/scenarios/default.toml``)::

    name = "default"
    [settings]
    budget = 4.0
    cloud_access_fraction = 0.10
    [leakage.transit]          # non-signatory -> share of world capacity it can re-export
    MYS = 0.01
    [actors.CHN]
    signatory = false
    candidate_defector = true
    detection_probability = 0.6
    value_of_capability = 100.0
    first_mover_gain = 35.0
    benefit_of_compliance = 5.0
    [actors.xai]               # a firm actor: a lab or cloud that owns clusters (no member countries)
    firms = ["xai"]
    signatory = true
    detection_probability = 0.9
    value_of_capability = 30.0
    first_mover_gain = 5.0
    [[controls]]
    id = "nld-euv-chn"
    kind = "export_control"
    jurisdiction = "NLD"
    input = "euv_lithography"
    destination = "CHN"
    cost = 1.0

Errors name the file, the table (with its line) and the key.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chokepoint.errors import InputError
from chokepoint.inputs.reference import iso3_problem
from chokepoint.inputs.uncertainty import UncertaintySpec, parse_uncertainty

__all__ = ["Actor", "Control", "Settings", "GameSettings", "ShortRunSettings", "NamedPlacement", "Scenario",
           "BaselineSettings", "RetaliationSettings", "VerificationMechanism", "load_scenario", "parse_scenario",
           "CONTROL_KINDS", "SOLVERS", "BASELINES"]

CONTROL_KINDS = ("export_control", "compute_exclusion", "secondary_control", "entity_control",
                 "foreign_direct_product")
_FIRM_ID = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")
SOLVERS = ("HIGHS", "SCIP")
_ACTOR_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_CONTROL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
#: Values of the ``baseline`` column: no controls, or the controls in force on ``as_of``.
BASELINES = ("none", "status_quo")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Actor:
    """An actor with an AI-development sink: a country or a group of countries
    (``members``), or a firm actor — a lab or cloud — owning the compute of ``firms``
    wherever it is (``docs/design.md#10-firms-and-facilities``)."""

    id: str
    name: str
    members: tuple[str, ...]
    signatory: bool
    candidate_defector: bool
    detection_probability: float
    value_of_capability: float
    first_mover_gain: float
    benefit_of_compliance: float
    firms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Control:
    """One placement the coalition can make.

    ``export_control``: routes carrying ``input`` from suppliers in ``jurisdiction`` to
    buyers in ``destination`` close. ``compute_exclusion``: cloud access from clusters
    in ``jurisdiction`` to ``destination``'s sink closes. ``secondary_control``:
    re-exports of ``input`` through non-signatory ``transit`` to ``destination`` close.
    ``entity_control`` (an entity listing): every route carrying ``input`` into a node of
    ``firm``, wherever the firm operates, closes. ``foreign_direct_product``: routes
    carrying ``input`` into ``destination`` (or into ``firm`` when given) close when the
    product was made with ``jurisdiction``'s tools or design software anywhere up its
    supply chain (``docs/design.md#10-firms-and-facilities``). ``destination`` is the
    actor whose capability a control targets.
    """

    id: str
    kind: str
    jurisdiction: str
    destination: str
    cost: float
    input: str | None = None
    transit: str | None = None
    firm: str | None = None


@dataclass(frozen=True)
class ShortRunSettings:
    """The short-run horizon (``docs/design.md#9-horizons``): its length in months and the
    share of its usual volume a buyer may add from each remaining supplier of a
    process-of-record input within it."""

    months: int = 12
    supplier_flexibility: float = 0.0


@dataclass(frozen=True)
class BaselineSettings:
    """The placement already in force (``docs/design.md#111-controls-in-force-as-a-baseline``).

    ``controls_in_force``: the modelled measures of ``controls_in_force.csv`` in force on
    ``as_of`` (ISO date) are the scenario's baseline; every figure marginal to it.
    """

    controls_in_force: bool = False
    as_of: str | None = None

    @property
    def name(self) -> str:
        """``status_quo`` with the controls in force as baseline, else ``none``."""
        return "status_quo" if self.controls_in_force else "none"


@dataclass(frozen=True)
class RetaliationSettings:
    """The defector's counter-controls (``docs/design.md#112-retaliation``).

    ``share_threshold``: an input enters a defector's counter-catalogue when its member
    countries hold at least this share of world capacity. ``inputs``: inputs added to every
    defector's catalogue whatever their share. ``clouds``: whether a defector may exclude
    the coalition from its compute. ``control_cost``: cost of each counter-control;
    ``budget``: the defector's retaliation budget in the same units. ``tolerance``: the
    largest expected loss (share of attainable compute, mean over signatories) the
    coalition accepts for its placement to stay credible.
    """

    share_threshold: float = 0.5
    inputs: tuple[str, ...] = ()
    clouds: bool = True
    control_cost: float = 1.0
    budget: float = 2.0
    tolerance: float = 0.05


@dataclass(frozen=True)
class VerificationMechanism:
    """A verification mechanism (``docs/design.md#113-verification-as-a-lever``): its cost
    and the detection coverage ``q_{m,d}`` it gives against each candidate defector
    (``coverage``: actor id → [0, 1]; defectors not listed get 0)."""

    id: str
    name: str
    cost: float
    coverage: dict[str, float]


@dataclass(frozen=True)
class Settings:
    budget: float = 1.0
    cloud_access_fraction: float = 0.10
    collateral_cap: float = math.inf
    solver: str = "HIGHS"
    time_limit_s: float = 60.0
    year: int | None = None


@dataclass(frozen=True)
class GameSettings:
    """How the race game couples actors (see :mod:`optimization.games`).

    ``first_mover_decay`` γ: a defector's first-mover gain is ``G / (1 + γ·k)`` when
    ``k`` others race too. ``collective_risk`` ρ: value every actor loses per racer.
    """

    first_mover_decay: float = 0.0
    collective_risk: float = 0.0


@dataclass(frozen=True)
class NamedPlacement:
    """A placement an analyst wants evaluated: a name and control ids from the catalogue."""

    name: str
    controls: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: Path
    settings: Settings
    actors: tuple[Actor, ...]
    controls: tuple[Control, ...]
    transit: dict[str, float] = field(default_factory=dict)
    text: str = field(default="", repr=False)
    game: GameSettings = field(default_factory=GameSettings)
    placements: tuple[NamedPlacement, ...] = ()
    #: Cost of each control a recruited country would place (whom-to-recruit analysis).
    recruit_control_cost: float = 1.0
    short_run: ShortRunSettings = field(default_factory=ShortRunSettings)
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    retaliation: RetaliationSettings = field(default_factory=RetaliationSettings)
    verification: tuple[VerificationMechanism, ...] = ()
    #: Distributions of uncertain inputs (``[uncertainty]``; docs/design.md#12-uncertainty).
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)

    @property
    def signatory_countries(self) -> set[str]:
        return {m for a in self.actors if a.signatory for m in a.members}

    @property
    def defectors(self) -> tuple[Actor, ...]:
        return tuple(a for a in self.actors if a.candidate_defector)

    def actor(self, actor_id: str) -> Actor:
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(actor_id)

    @property
    def firm_actors(self) -> tuple[Actor, ...]:
        """Actors that own firms' compute (labs, clouds)."""
        return tuple(a for a in self.actors if a.firms)

    def validate_against(self, countries, inputs, firms=None) -> None:
        """Check that every country, input type and firm the scenario names exists in the data.

        Parameters
        ----------
        countries, inputs : iterable of str
            Known ISO3 codes and input type ids.
        firms : iterable of str, optional
            Known firm ids (checked when given).
        """
        countries, inputs = set(countries), set(inputs)
        firms = None if firms is None else set(firms)
        for actor in self.actors:
            for member in actor.members:
                if member not in countries:
                    self._fail(f"[actors.{actor.id}]", "members", f"country '{member}' is not in the reference countries")
            for firm in actor.firms:
                if firms is not None and firm not in firms:
                    self._fail(f"[actors.{actor.id}]", "firms", f"unknown firm '{firm}'",
                               hint="firm ids are in staging.firms")
        for i, control in enumerate(self.controls):
            where = f"[[controls]] #{i + 1} ({control.id})"
            if control.jurisdiction not in countries:
                self._fail(where, "jurisdiction", f"country '{control.jurisdiction}' is not in the reference countries")
            if control.input is not None and control.input not in inputs:
                self._fail(where, "input", f"unknown input type '{control.input}'")
            if control.firm is not None and firms is not None and control.firm not in firms:
                self._fail(where, "firm", f"unknown firm '{control.firm}'", hint="firm ids are in staging.firms")
        for k in self.retaliation.inputs:
            if k not in inputs:
                self._fail("[retaliation]", "inputs", f"unknown input type '{k}'")
        for country in self.transit:
            if country not in countries:
                self._fail("[leakage.transit]", country, f"country '{country}' is not in the reference countries")

    def _fail(self, table: str, key: str, message: str, hint: str | None = None):
        raise InputError(self.path, message, row=_locate(self.text, table), field=key, hint=hint)


def _locate(text: str, table: str) -> str:
    """``table`` with the line its header starts on, for error messages."""
    match = re.match(r"\[\[(\w+)\]\] #(\d+)", table)
    if match:
        pattern, nth = re.compile(r"^[ \t]*\[\[[ \t]*" + match.group(1) + r"[ \t]*\]\]", re.M), int(match.group(2))
    else:
        pattern, nth = re.compile(r"^[ \t]*" + re.escape(table.split(" ")[0]).replace(r"\.", r"[ \t]*\.[ \t]*"), re.M), 1
    hits = list(pattern.finditer(text))
    if len(hits) >= nth:
        line = text.count("\n", 0, hits[nth - 1].start()) + 1
        return f"{table} (line {line})"
    return table


class _Reader:
    """Typed access to one TOML table with errors that name file, table and key."""

    def __init__(self, path: Path, text: str, table: str, data: dict):
        self.path, self.text, self.table, self.data = path, text, table, data
        self.used: set[str] = set()

    def fail(self, key, message, hint=None):
        raise InputError(self.path, message, row=_locate(self.text, self.table), field=key, hint=hint)

    def get(self, key, kind, default=..., *, minimum=None, maximum=None, choices=None):
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                self.fail(key, "required key missing")
            return default
        value = self.data[key]
        if isinstance(kind, tuple):
            if not isinstance(value, tuple(k for k in kind if k is not str)) and not (
                    str in kind and isinstance(value, str)):
                self.fail(key, f"expected one of {', '.join(k.__name__ for k in kind)}, got {value!r}")
            if isinstance(value, list) and (not value or not all(isinstance(v, str) for v in value)):
                self.fail(key, f"expected a non-empty list of strings, got {value!r}")
            return value
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(key, f"expected a number, got {value!r}")
            value = float(value)
            if math.isnan(value):
                self.fail(key, "NaN is not allowed")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(key, f"expected an integer, got {value!r}")
        elif kind is bool:
            if not isinstance(value, bool):
                self.fail(key, f"expected true or false, got {value!r}")
        elif kind is str:
            if not isinstance(value, str) or not value.strip():
                self.fail(key, f"expected a non-empty string, got {value!r}")
        elif kind is dict:
            if not isinstance(value, dict):
                self.fail(key, f"expected a table, got {value!r}")
        elif kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
                self.fail(key, f"expected a non-empty list of strings, got {value!r}")
        if minimum is not None and value < minimum:
            self.fail(key, f"{value} is below the minimum {minimum}")
        if maximum is not None and value > maximum:
            self.fail(key, f"{value} is above the maximum {maximum}")
        if choices is not None and value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def finish(self):
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "unknown key", hint="check the spelling; see data/scenarios/default.toml")


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    Raises
    ------
    InputError
        On malformed TOML (with line and column), missing or unknown keys, values of
        the wrong type or out of range, duplicate ids, controls placed by
        non-signatories, transit through signatories, no candidate defector.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "scenario file not found", hint="scenarios live in data/scenarios/<name>.toml")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8", hint="save the scenario as UTF-8") from None
    return parse_scenario(text, path)


def parse_scenario(text: str, path: Path) -> Scenario:
    """Validate scenario ``text`` read from ``path`` (used in error messages)."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = re.search(r"line (\d+)", message)
        raise InputError(path, f"malformed TOML: {message}", row=int(line.group(1)) if line else None) from None

    top = _Reader(path, text, "(top level)", data)
    name = top.get("name", str, default=path.stem)
    description = top.get("description", str, default="")

    settings_table = top.get("settings", dict, default={})
    s = _Reader(path, text, "[settings]", settings_table)
    settings = Settings(
        budget=s.get("budget", float, default=1.0, minimum=0.0),
        cloud_access_fraction=s.get("cloud_access_fraction", float, default=0.10, minimum=0.0, maximum=1.0),
        collateral_cap=s.get("collateral_cap", float, default=math.inf, minimum=0.0),
        solver=s.get("solver", str, default="HIGHS", choices=SOLVERS),
        time_limit_s=s.get("time_limit_s", float, default=60.0, minimum=0.001),
        year=s.get("year", int, default=None, minimum=1990, maximum=2100),
    )
    s.finish()

    actors_table = top.get("actors", dict, default=None)
    if not actors_table:
        top.fail("actors", "at least one [actors.<ID>] table is required")
    actors = []
    for actor_id, table in actors_table.items():
        r = _Reader(path, text, f"[actors.{actor_id}]", table if isinstance(table, dict) else {})
        if not isinstance(table, dict):
            r.fail(actor_id, "expected a table")
        if not _ACTOR_ID.match(actor_id):
            r.fail(actor_id, f"actor id {actor_id!r} must be a letter followed by letters, digits or _ (≤ 32)")
        owned_firms = r.get("firms", list, default=[])
        for firm in owned_firms:
            if not isinstance(firm, str) or not _FIRM_ID.match(firm):
                r.fail("firms", f"firm id {firm!r} must be lower-case letters, digits and '-' (staging.firms)")
        if len(set(owned_firms)) != len(owned_firms):
            r.fail("firms", "a firm is listed twice")
        # A firm actor's compute is its firms' wherever they are; it has member countries only when given.
        default_members = [] if owned_firms else [actor_id] if iso3_problem(actor_id) is None else ...
        members = r.get("members", list, default=default_members)
        for member in members:
            if problem := iso3_problem(member):
                r.fail("members", problem)
        actors.append(Actor(
            id=actor_id,
            name=r.get("name", str, default=actor_id),
            members=tuple(members),
            signatory=r.get("signatory", bool),
            candidate_defector=r.get("candidate_defector", bool, default=False),
            detection_probability=r.get("detection_probability", float, minimum=0.0, maximum=1.0),
            value_of_capability=r.get("value_of_capability", float, minimum=0.0),
            first_mover_gain=r.get("first_mover_gain", float, minimum=0.0),
            benefit_of_compliance=r.get("benefit_of_compliance", float, default=0.0, minimum=0.0),
            firms=tuple(owned_firms),
        ))
        r.finish()
    # A country, and a firm, belongs to one actor at most.
    for key, what in (("members", "country"), ("firms", "firm")):
        owner: dict[str, str] = {}
        for actor in actors:
            for item in getattr(actor, key):
                if item in owner:
                    _Reader(path, text, f"[actors.{actor.id}]", {}).fail(
                        key, f"{what} '{item}' already belongs to actor '{owner[item]}'")
                owner[item] = actor.id
    if not any(a.candidate_defector for a in actors):
        top.fail("actors", "no actor has candidate_defector = true", hint="the analysis needs at least one candidate defector")
    signatories = {m for a in actors if a.signatory for m in a.members}
    actor_ids = {a.id for a in actors}

    leakage = top.get("leakage", dict, default={})
    lk = _Reader(path, text, "[leakage]", leakage)
    transit_table = lk.get("transit", dict, default={})
    lk.finish()
    tr = _Reader(path, text, "[leakage.transit]", transit_table)
    transit = {}
    for country in transit_table:
        if problem := iso3_problem(country):
            tr.fail(country, problem)
        if country in signatories:
            tr.fail(country, f"'{country}' is a signatory; transit leakage is through non-signatories only")
        transit[country] = tr.get(country, float, minimum=0.0, maximum=1.0)
    tr.finish()

    # An array of tables, which _Reader.get's scalar kinds do not describe.
    top.used.add("controls")
    controls_list = data.get("controls", [])
    if not isinstance(controls_list, list):
        top.fail("controls", "expected an array of tables [[controls]]")
    controls = []
    seen_ids: set[str] = set()
    for i, table in enumerate(controls_list):
        r = _Reader(path, text, f"[[controls]] #{i + 1}", table if isinstance(table, dict) else {})
        if not isinstance(table, dict):
            r.fail("controls", "expected a table")
        control_id = r.get("id", str)
        if not _CONTROL_ID.match(control_id):
            r.fail("id", f"control id {control_id!r} may hold letters, digits, '.', '_' and '-' only (≤ 64)")
        if control_id in seen_ids:
            r.fail("id", f"duplicate control id '{control_id}'")
        seen_ids.add(control_id)
        kind = r.get("kind", str, choices=CONTROL_KINDS)
        jurisdiction = r.get("jurisdiction", str)
        if problem := iso3_problem(jurisdiction):
            r.fail("jurisdiction", problem)
        if jurisdiction not in signatories:
            r.fail("jurisdiction", f"'{jurisdiction}' is not a signatory; only signatory jurisdictions place controls")
        destination = r.get("destination", str)
        if destination not in actor_ids:
            r.fail("destination", f"unknown actor '{destination}'", hint="destinations are actor ids from [actors.*]")
        control_input = r.get("input", str, default=None)
        transit_country = r.get("transit", str, default=None)
        firm = r.get("firm", str, default=None)
        if firm is not None and not _FIRM_ID.match(firm):
            r.fail("firm", f"firm id {firm!r} must be lower-case letters, digits and '-' (staging.firms)")
        if kind == "entity_control" and firm is None:
            r.fail("firm", "required for kind 'entity_control'")
        if firm is not None and kind not in ("entity_control", "foreign_direct_product"):
            r.fail("firm", f"only entity_control and foreign_direct_product take a firm, not '{kind}'")
        if kind in ("export_control", "secondary_control", "entity_control", "foreign_direct_product") \
                and control_input is None:
            r.fail("input", f"required for kind '{kind}'")
        if kind == "compute_exclusion" and control_input is not None:
            r.fail("input", "compute_exclusion closes cloud access; it takes no input")
        if kind == "secondary_control":
            if transit_country is None:
                r.fail("transit", "required for kind 'secondary_control'")
            if transit_country not in transit:
                r.fail("transit", f"'{transit_country}' is not a transit country in [leakage.transit]")
        elif transit_country is not None:
            r.fail("transit", f"only secondary_control takes a transit country, not '{kind}'")
        controls.append(Control(id=control_id, kind=kind, jurisdiction=jurisdiction, destination=destination,
                                cost=r.get("cost", float, minimum=0.0), input=control_input, transit=transit_country,
                                firm=firm))
        r.finish()
    controls.extend(_expand_control_rules(path, text, data, top, controls, signatories, actor_ids,
                                          {a.id for a in actors if a.candidate_defector}, transit))

    game_table = top.get("game", dict, default={})
    g = _Reader(path, text, "[game]", game_table)
    game = GameSettings(first_mover_decay=g.get("first_mover_decay", float, default=0.0, minimum=0.0),
                        collective_risk=g.get("collective_risk", float, default=0.0, minimum=0.0))
    g.finish()

    short_run_table = top.get("short_run", dict, default={})
    sr = _Reader(path, text, "[short_run]", short_run_table)
    short_run = ShortRunSettings(months=sr.get("months", int, default=12, minimum=1, maximum=120),
                                 supplier_flexibility=sr.get("supplier_flexibility", float, default=0.0,
                                                             minimum=0.0, maximum=10.0))
    sr.finish()

    recruitment = top.get("recruitment", dict, default={})
    rc = _Reader(path, text, "[recruitment]", recruitment)
    recruit_cost = rc.get("control_cost", float, default=1.0, minimum=0.0)
    rc.finish()

    baseline = _baseline(path, text, top.get("baseline", dict, default={}))
    retaliation = _retaliation(path, text, top.get("retaliation", dict, default={}))
    verification = _verification(path, text, top.get("verification", dict, default={}),
                                 {a.id for a in actors if a.candidate_defector})

    top.used.add("placements")
    placement_list = data.get("placements", [])
    if not isinstance(placement_list, list):
        top.fail("placements", "expected an array of tables [[placements]]")
    known_ids = {c.id for c in controls}
    placements = []
    for i, table in enumerate(placement_list):
        r = _Reader(path, text, f"[[placements]] #{i + 1}", table if isinstance(table, dict) else {})
        if not isinstance(table, dict):
            r.fail("placements", "expected a table")
        placement_name = r.get("name", str)
        if not _CONTROL_ID.match(placement_name) or placement_name in {p.name for p in placements}:
            r.fail("name", f"placement name {placement_name!r} must be unique and use letters, digits, '.', '_', '-'")
        ids = r.get("controls", list)
        for control_id in ids:
            if control_id not in known_ids:
                r.fail("controls", f"unknown control id '{control_id}'", hint="ids come from [[controls]] or rules")
        placements.append(NamedPlacement(name=placement_name, controls=tuple(ids)))
        r.finish()

    uncertainty_table = top.get("uncertainty", dict, default={})
    uncertainty = parse_uncertainty(
        uncertainty_table, lambda table, entries: _Reader(path, text, table, entries if isinstance(entries, dict) else {}),
        actor_ids=actor_ids, transit_countries=transit)

    top.finish()
    return Scenario(name=name, description=description, path=path, settings=settings, actors=tuple(actors),
                    controls=tuple(controls), transit=transit, text=text, game=game,
                    placements=tuple(placements), recruit_control_cost=recruit_cost, short_run=short_run,
                    baseline=baseline, retaliation=retaliation, verification=verification,
                    uncertainty=uncertainty)


def _baseline(path: Path, text: str, table: dict) -> BaselineSettings:
    r = _Reader(path, text, "[baseline]", table)
    in_force = r.get("controls_in_force", bool, default=False)
    as_of = r.get("as_of", str, default=None)
    if as_of is not None:
        valid = bool(_DATE.match(as_of))
        if valid:
            try:
                dt.date.fromisoformat(as_of)
            except ValueError:
                valid = False
        if not valid:
            r.fail("as_of", f"{as_of!r} is not an ISO date (YYYY-MM-DD)")
    if in_force and as_of is None:
        r.fail("as_of", "required when controls_in_force = true (the day the baseline describes)")
    r.finish()
    return BaselineSettings(controls_in_force=in_force, as_of=as_of)


def _retaliation(path: Path, text: str, table: dict) -> RetaliationSettings:
    r = _Reader(path, text, "[retaliation]", table)
    inputs = r.get("inputs", list, default=[])
    settings = RetaliationSettings(
        share_threshold=r.get("share_threshold", float, default=0.5, minimum=0.0, maximum=1.0),
        inputs=tuple(inputs), clouds=r.get("clouds", bool, default=True),
        control_cost=r.get("control_cost", float, default=1.0, minimum=0.0),
        budget=r.get("budget", float, default=2.0, minimum=0.0),
        tolerance=r.get("tolerance", float, default=0.05, minimum=0.0, maximum=1.0))
    r.finish()
    return settings


def _verification(path: Path, text: str, table: dict, defectors: set[str]) -> tuple[VerificationMechanism, ...]:
    """``[verification.<id>]`` tables: ``name``, ``cost`` ≥ 0 and ``coverage`` — one number
    in [0, 1] for every candidate defector, or a table of candidate defector → number."""
    mechanisms = []
    for mechanism_id, body in table.items():
        r = _Reader(path, text, f"[verification.{mechanism_id}]", body if isinstance(body, dict) else {})
        if not isinstance(body, dict):
            r.fail(mechanism_id, "expected a table [verification.<id>]")
        if not _CONTROL_ID.match(mechanism_id):
            r.fail(mechanism_id, f"mechanism id {mechanism_id!r} may hold letters, digits, '.', '_' and '-' only")
        name = r.get("name", str, default=mechanism_id)
        cost = r.get("cost", float, minimum=0.0)
        r.used.add("coverage")
        if "coverage" not in body:
            r.fail("coverage", "required key missing",
                   hint="a number in [0, 1] for every candidate defector, or a table actor = number")
        raw = body["coverage"]
        if isinstance(raw, dict):
            c = _Reader(path, text, f"[verification.{mechanism_id}.coverage]", raw)
            coverage = {}
            for actor in raw:
                if actor not in defectors:
                    c.fail(actor, f"'{actor}' is not a candidate defector",
                           hint="coverage applies to actors with candidate_defector = true")
                coverage[actor] = c.get(actor, float, minimum=0.0, maximum=1.0)
            c.finish()
        else:
            value = r.get("coverage", float, minimum=0.0, maximum=1.0)
            coverage = dict.fromkeys(sorted(defectors), value)
        r.finish()
        mechanisms.append(VerificationMechanism(id=mechanism_id, name=name, cost=cost, coverage=coverage))
    return tuple(mechanisms)


_KIND_TAG = {"export_control": "x", "compute_exclusion": "cloud", "secondary_control": "sec",
             "entity_control": "entity", "foreign_direct_product": "fdp"}
#: Kinds ``[[control_rules]]`` can generate (entity controls name firms one by one).
_KIND_TAG_RULES = {k: _KIND_TAG[k] for k in ("export_control", "compute_exclusion", "secondary_control")}


def _expand_control_rules(path, text, data, top, explicit, signatories, actor_ids, defector_ids, transit):
    """Controls generated by ``[[control_rules]]``: every combination of the listed
    jurisdictions × inputs × destinations (× transits), one cost each. An explicit
    ``[[controls]]`` entry with the same kind, jurisdiction, input, transit and
    destination takes precedence. Generated ids read ``<tag>-<jurisdiction>-<input>-<destination>``."""
    top.used.add("control_rules")
    rules = data.get("control_rules", [])
    if not isinstance(rules, list):
        top.fail("control_rules", "expected an array of tables [[control_rules]]")
    taken = {(c.kind, c.jurisdiction, c.input, c.transit, c.destination) for c in explicit}
    ids = {c.id for c in explicit}
    generated = []
    for i, table in enumerate(rules):
        r = _Reader(path, text, f"[[control_rules]] #{i + 1}", table if isinstance(table, dict) else {})
        if not isinstance(table, dict):
            r.fail("control_rules", "expected a table")
        kind = r.get("kind", str, choices=tuple(_KIND_TAG_RULES))
        jurisdictions = r.get("jurisdictions", (list, str))
        jurisdictions = sorted(signatories) if jurisdictions == "signatories" else jurisdictions
        if not isinstance(jurisdictions, list):
            r.fail("jurisdictions", "expected a list of ISO3 codes or \"signatories\"")
        for j in jurisdictions:
            if problem := iso3_problem(j):
                r.fail("jurisdictions", problem)
            if j not in signatories:
                r.fail("jurisdictions", f"'{j}' is not a signatory; only signatory jurisdictions place controls")
        destinations = r.get("destinations", (list, str))
        destinations = sorted(defector_ids) if destinations == "defectors" else destinations
        if not isinstance(destinations, list):
            r.fail("destinations", "expected a list of actor ids or \"defectors\"")
        for d in destinations:
            if d not in actor_ids:
                r.fail("destinations", f"unknown actor '{d}'")
        inputs = r.get("inputs", list, default=None)
        transits = r.get("transits", (list, str), default=None)
        if kind == "compute_exclusion":
            if inputs is not None or transits is not None:
                r.fail("inputs" if inputs is not None else "transits", "compute_exclusion takes no inputs or transits")
            inputs = [None]
        elif inputs is None:
            r.fail("inputs", f"required for kind '{kind}'")
        if kind == "secondary_control":
            transits = sorted(transit) if transits in (None, "all") else transits
            if not isinstance(transits, list):
                r.fail("transits", "expected a list of transit countries or \"all\"")
            for t in transits:
                if t not in transit:
                    r.fail("transits", f"'{t}' is not a transit country in [leakage.transit]")
        elif transits is not None:
            r.fail("transits", f"only secondary_control takes transits, not '{kind}'")
        else:
            transits = [None]
        cost = r.get("cost", float, minimum=0.0)
        r.finish()
        for j in jurisdictions:
            for k in inputs:
                for t in transits:
                    for d in destinations:
                        key = (kind, j, k, t, d)
                        if key in taken:
                            continue
                        parts = [_KIND_TAG[kind], j] + ([t] if t else []) + ([k] if k else []) + [d]
                        control_id = "-".join(parts).lower()
                        if control_id in ids:
                            r.fail("kind", f"generated control id '{control_id}' clashes with an explicit control")
                        taken.add(key)
                        ids.add(control_id)
                        generated.append(Control(id=control_id, kind=kind, jurisdiction=j, destination=d, cost=cost,
                                                 input=k, transit=t))
    return generated
