"""Export controls in force, as data: who restricts what to whom, since when, under which instrument.

File: ``data/reference/controls_in_force.csv``, one row per (measure, input type), every row
with its legal instrument and a public source URL. Columns, exactly in this order:

``measure_id``        short slug, unique with ``input_id`` (``us-2022-10-sme-deposition``, …)
``imposed_by``        ISO3 of the jurisdiction imposing the measure
``kind``              ``export_control``, ``entity_control``, ``foreign_direct_product`` or
                      ``compute_exclusion``
``target``            ISO3 of the target country, ``*`` for all destinations (China's licensing
                      regimes), or a firm id (``huawei``, ``smic``, …) for firm-level measures
``input_id``          input type of ``input_types.csv``; empty when the item is not in the taxonomy
``product``           the item as the instrument names it
``scope``             ``licence_required``, ``presumption_of_denial``, ``ban``, ``end_use_control``
                      or ``stricter_review``
``in_force_from``     ISO date the measure took effect
``until``             ISO date it stopped being in force (lifted or suspended), else empty
``status``            ``in_force``, ``suspended`` or ``lifted``
``legal_instrument``  the official instrument (number, date)
``source_url``        public source (http or https)
``modelled``          ``true`` if the model represents it as closed routes, else ``false``
``note``              how it maps to the model, or why it is not modelled

A measure is in force on day *d* when ``in_force_from <= d`` and (``until`` is empty or
``d < until``): ``until`` is the first day it no longer applies.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.reference import INPUT_COLUMNS, iso3_problem
from chokepoint.inputs.tables import FILE, LINE, Column, fail_at, read_csv_text, typed

__all__ = ["CONTROLS_IN_FORCE_FILE", "COLUMN_ORDER", "MEASURE_KINDS", "SCOPES", "STATUSES", "ALL_DESTINATIONS",
           "CONTROLS_IN_FORCE_COLUMNS", "read_controls_in_force", "stage_controls_in_force", "in_force_on",
           "BaselineControls", "baseline_controls"]

#: File name in the reference folder.
CONTROLS_IN_FORCE_FILE = "controls_in_force.csv"
MEASURE_KINDS = ("export_control", "entity_control", "foreign_direct_product", "compute_exclusion")
SCOPES = ("licence_required", "presumption_of_denial", "ban", "end_use_control", "stricter_review")
STATUSES = ("in_force", "suspended", "lifted")
#: ``target`` of a measure that applies to every destination.
ALL_DESTINATIONS = "*"
#: Kinds whose target may be a firm id instead of a country.
FIRM_KINDS = ("entity_control", "foreign_direct_product")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FIRM = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ISO3_SHAPE = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _slug_problem(value: str) -> str | None:
    if not _SLUG.match(value):
        return f"'{value}' is not a slug (lower-case letters, digits and '-')"
    return None


def _date_problem(value: str) -> str | None:
    if not _DATE.match(value):
        return f"'{value}' is not an ISO date (YYYY-MM-DD)"
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        return f"'{value}' is not a valid date ({exc})"
    return None


def _url_problem(value: str) -> str | None:
    if not value.startswith(("http://", "https://")) or len(value) < len("https://x.y"):
        return f"'{value}' is not a URL starting with http:// or https://"
    if any(c.isspace() for c in value):
        return f"'{value}' contains white space"
    return None


def _target_problem(value: str) -> str | None:
    if value == ALL_DESTINATIONS:
        return None
    if _ISO3_SHAPE.match(value):
        problem = iso3_problem(value)
        return f"unknown target: {problem}" if problem else None
    if _FIRM.match(value):
        return None
    return (f"'{value}' is neither an ISO3 country code, '{ALL_DESTINATIONS}' (all destinations) nor a firm id "
            "(lower-case letters, digits and '-')")


#: Expected columns, in file order.
CONTROLS_IN_FORCE_COLUMNS = [
    Column("measure_id", extra_check=_slug_problem),
    Column("imposed_by", extra_check=iso3_problem),
    Column("kind", choices=MEASURE_KINDS),
    Column("target", extra_check=_target_problem),
    Column("input_id", "id", nullable=True),
    Column("product"),
    Column("scope", choices=SCOPES),
    Column("in_force_from", extra_check=_date_problem),
    Column("until", nullable=True, extra_check=_date_problem),
    Column("status", choices=STATUSES),
    Column("legal_instrument"),
    Column("source_url", extra_check=_url_problem),
    Column("modelled", choices=("true", "false")),
    Column("note"),
]
COLUMN_ORDER = tuple(c.name for c in CONTROLS_IN_FORCE_COLUMNS)


def read_controls_in_force(path: Path, *, input_ids: Iterable[str] | None = None,
                           firm_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Read and validate ``controls_in_force.csv``.

    Parameters
    ----------
    path : Path
        The CSV file.
    input_ids : iterable of str, optional
        Known input type ids. Default: the ``input_id`` column of ``input_types.csv`` in the
        same folder.
    firm_ids : iterable of str, optional
        Known firm ids (``staging.firms``). When given, firm targets must be among them;
        when omitted, firm targets are only checked for their form.

    Returns
    -------
    polars.DataFrame
        See :func:`stage_controls_in_force`.

    Raises
    ------
    InputError
        Naming file, line and field of the first problem.
    """
    path = Path(path)
    if input_ids is None:
        input_ids = typed(read_csv_text(path.parent / "input_types.csv"), INPUT_COLUMNS)["input_id"].to_list()
    return stage_controls_in_force(read_csv_text(path), input_ids, firm_ids)


def stage_controls_in_force(raw: pl.DataFrame, input_ids: Iterable[str],
                            firm_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Validate a text frame from :func:`~chokepoint.inputs.tables.read_csv_text` and type it.

    Parameters
    ----------
    raw : polars.DataFrame
        Every cell as text, with ``_line`` and ``_file``.
    input_ids : iterable of str
        Known input type ids.
    firm_ids : iterable of str, optional
        Known firm ids; when omitted, firm targets are checked for their form only.

    Returns
    -------
    polars.DataFrame
        The columns of :data:`COLUMN_ORDER` (dates as ``Date``, ``modelled`` as ``Boolean``)
        followed by ``_line`` and ``_file``.

    Raises
    ------
    InputError
        On the first problem, naming file, line and field: header not exactly
        :data:`COLUMN_ORDER`, empty or malformed values, unknown ISO3 codes or input ids, a
        firm target on a country-level kind (or a country target on ``entity_control``),
        ``until`` before ``in_force_from``, a status that disagrees with ``until``, a
        ``modelled`` row without an input type, duplicate (``measure_id``, ``input_id``).
    """
    path = Path(raw[FILE][0])
    header = [c for c in raw.columns if c not in (LINE, FILE)]
    for position, name in enumerate(COLUMN_ORDER):
        if position >= len(header) or header[position] != name:
            found = header[position] if position < len(header) else "nothing"
            raise InputError(path, f"column {position + 1} must be '{name}', found '{found}'", row=1, field=name,
                             hint="header must be exactly: " + ",".join(COLUMN_ORDER))
    if len(header) > len(COLUMN_ORDER):
        raise InputError(path, "unexpected extra column", row=1, field=header[len(COLUMN_ORDER)],
                         hint="header must be exactly: " + ",".join(COLUMN_ORDER))
    frame = typed(raw, CONTROLS_IN_FORCE_COLUMNS)

    known_inputs = sorted(set(input_ids))
    fail_at(path, frame, ~frame["input_id"].is_in(known_inputs).fill_null(True), "input_id",
            lambda r: f"unknown input type '{r['input_id']}'",
            hint="input ids are defined in input_types.csv; leave input_id empty (modelled = false) for items "
                 "outside the taxonomy")
    is_country = frame["target"].str.contains(_ISO3_SHAPE.pattern)
    is_firm = ~is_country & (frame["target"] != ALL_DESTINATIONS)
    fail_at(path, frame, is_firm & ~frame["kind"].is_in(list(FIRM_KINDS)), "target",
            lambda r: f"firm target '{r['target']}' on a {r['kind']} (firm targets need entity_control or "
                      "foreign_direct_product)")
    fail_at(path, frame, (frame["kind"] == "entity_control") & ~is_firm, "target",
            lambda r: f"entity_control needs a firm id as target, got '{r['target']}'")
    if firm_ids is not None:
        known_firms = sorted(set(firm_ids))
        fail_at(path, frame, is_firm & ~frame["target"].is_in(known_firms), "target",
                lambda r: f"unknown firm id '{r['target']}'", hint="firm ids are those of staging.firms")

    frame = frame.with_columns(pl.col("in_force_from").str.to_date("%Y-%m-%d"),
                               pl.col("until").str.to_date("%Y-%m-%d"),
                               (pl.col("modelled") == "true").alias("modelled"))
    fail_at(path, frame, (frame["until"] < frame["in_force_from"]).fill_null(False), "until",
            lambda r: f"until {r['until']} is before in_force_from {r['in_force_from']}")
    ended = frame["status"].is_in(["suspended", "lifted"])
    fail_at(path, frame, ended & frame["until"].is_null(), "until",
            lambda r: f"status '{r['status']}' needs the date it stopped applying in until",
            hint="record until only with a source for the suspension or lifting")
    fail_at(path, frame, ~ended & frame["until"].is_not_null(), "status",
            lambda r: f"until is {r['until']} but status is '{r['status']}' (expected suspended or lifted)")
    fail_at(path, frame, frame["modelled"] & frame["input_id"].is_null(), "modelled",
            lambda r: "a modelled measure needs an input_id", hint="set modelled to false and say why in note")
    duplicate = ~frame.select(pl.struct("measure_id", "input_id").is_first_distinct()).to_series()
    fail_at(path, frame, duplicate, "measure_id",
            lambda r: f"duplicate of an earlier row for measure_id={r['measure_id']}, input_id={r['input_id']}")
    return frame.select(*COLUMN_ORDER, LINE, FILE)


def _as_date(date) -> dt.date:
    if isinstance(date, dt.datetime):
        return date.date()
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(str(date))
    except ValueError:
        raise ValueError(f"'{date}' is not an ISO date (YYYY-MM-DD)") from None


def in_force_on(frame: pl.DataFrame, date) -> pl.DataFrame:
    """The measures in force on ``date``.

    Parameters
    ----------
    frame : polars.DataFrame
        A table from :func:`read_controls_in_force` (or ``staging.controls_in_force``).
    date : datetime.date or str
        The day, as a date or an ISO string.

    Returns
    -------
    polars.DataFrame
        The rows with ``in_force_from <= date`` and (``until`` empty or ``date < until``).
    """
    day = _as_date(date)
    return frame.filter((pl.col("in_force_from") <= day) & (pl.col("until").is_null() | (pl.col("until") > day)))


@dataclass(frozen=True)
class BaselineControls:
    """Measures in force translated into a scenario's control vocabulary.

    ``controls``: one dict per distinct control, with ``kind``, ``jurisdiction`` (ISO3),
    ``input``, ``destination`` (actor id, or None for a firm whose country is unknown),
    ``firm`` (firm id or None), ``measure_id`` (the earliest measure giving it) and
    ``measure_ids`` (all of them). ``skipped``: one dict per measure row not used, with
    ``measure_id``, ``input_id`` and ``reason``.
    """

    controls: list[dict]
    skipped: list[dict]

    def __iter__(self):
        return iter((self.controls, self.skipped))


def baseline_controls(frame: pl.DataFrame, scenario_actors: Sequence, date, *,
                      firm_countries: Mapping[str, str] | None = None) -> BaselineControls:
    """The modelled measures in force on ``date``, as controls of a scenario.

    Parameters
    ----------
    frame : polars.DataFrame
        A table from :func:`read_controls_in_force` (or ``staging.controls_in_force``).
    scenario_actors : sequence of Actor
        The scenario's actors (:class:`~chokepoint.inputs.scenario.Actor`: ``id`` and
        ``members``).
    date : datetime.date or str
        The day the baseline describes.
    firm_countries : mapping of str to str, optional
        Firm id -> ISO3 (``staging.firms``), to give firm measures the actor of the firm's
        country as ``destination``.

    Returns
    -------
    BaselineControls
        ``controls`` and ``skipped`` (also unpackable as a pair).

    Notes
    -----
    The imposing country stays the ``jurisdiction`` (as in ``[[controls]]``); it must be a
    member of some actor. A country target becomes the actor whose members include it. The
    target ``*`` (all destinations, used for China's licensing regimes) expands to every
    actor except the one the imposing country belongs to: a licence requirement is read as
    closed routes to every other actor, an upper bound where licences are in fact granted
    (``scope`` says which measures are bans). A firm target keeps the firm in ``firm``;
    its ``destination`` is the actor of the firm's country when ``firm_countries`` knows
    it, else None. Skipped, with a reason: measures not in force on ``date``, not
    ``modelled``, imposed by a country in no actor, aimed at a country in no actor or at the
    imposing country's own actor. Measures giving the same control are merged into one
    dict listing every ``measure_id``.
    """
    day = _as_date(date)
    actor_of = {member: actor.id for actor in scenario_actors for member in actor.members}
    actor_ids = [actor.id for actor in scenario_actors]
    firm_countries = dict(firm_countries or {})
    controls: dict[tuple, dict] = {}
    skipped: list[dict] = []

    def skip(row, reason):
        skipped.append({"measure_id": row["measure_id"], "input_id": row["input_id"], "reason": reason})

    rows = frame.with_row_index("_row")
    active = set(in_force_on(rows, day)["_row"].to_list())
    for row in rows.sort("in_force_from", "measure_id").iter_rows(named=True):
        if row["_row"] not in active:
            skip(row, f"not in force on {day.isoformat()}")
            continue
        if not row["modelled"]:
            skip(row, "not modelled (see note)")
            continue
        own = actor_of.get(row["imposed_by"])
        if own is None:
            skip(row, f"imposing jurisdiction {row['imposed_by']} is in no actor of the scenario")
            continue
        target, firm = row["target"], None
        if target == ALL_DESTINATIONS:
            destinations = [a for a in actor_ids if a != own]
        elif _ISO3_SHAPE.match(target):
            destination = actor_of.get(target)
            if destination is None:
                skip(row, f"target {target} is in no actor of the scenario")
                continue
            if destination == own:
                skip(row, f"target {target} is in the imposing jurisdiction's own actor {own}")
                continue
            destinations = [destination]
        else:
            firm = target
            destination = actor_of.get(firm_countries.get(firm, ""))
            if destination == own:
                skip(row, f"firm {firm} is in the imposing jurisdiction's own actor {own}")
                continue
            destinations = [destination]
        for destination in destinations:
            key = (row["kind"], row["imposed_by"], row["input_id"], destination, firm)
            if key in controls:
                controls[key]["measure_ids"].append(row["measure_id"])
                continue
            controls[key] = {"kind": row["kind"], "jurisdiction": row["imposed_by"], "input": row["input_id"],
                             "destination": destination, "firm": firm, "measure_id": row["measure_id"],
                             "measure_ids": [row["measure_id"]]}
    return BaselineControls(list(controls.values()), skipped)
