"""Firm entity resolution: the spellings of one firm across sources → one firm id.

Firm ids are the chip supply map's node ids where the firm is there (``tsmc``,
``sk-hynix``), else a slug of the firm's normalised name (``tokyo-ohka-kogyo``). One
spelling resolves, in order, through:

1. the alias table ``data/reference/firm_aliases.csv`` for its role (``foundry``,
   ``memory``, …), then for role ``any`` — this is where context matters: Epoch AI's
   foundry "Samsung" is ``samsung-foundry`` while the ETO provider "Samsung" is the
   parent ``samsung``;
2. a known firm id written as is (``tsmc``);
3. a known firm's normalised name: case, punctuation, "&"/"and" and legal-form suffixes
   (Inc, Corp, Corporation, Co, Ltd, Group, Holdings, plc, AG, SA, NV, LLC, GmbH) are
   ignored, so "Hoya Corporation" = "Hoya" and "ASE" = "ASE Group"; no fuzzy matching,
   so "Hysol Huawei" stays apart from "Huawei";
4. otherwise a new firm id (the slug), registered so that later spellings with the same
   normalised name (ETO's three "Canon" provider ids) join it.

Every spelling therefore gets a firm id; :meth:`FirmResolver.aliases` lists which
spelling, in which dataset and role, went to which id and how.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.tables import Column, read_csv_table

__all__ = ["FirmResolver", "AGGREGATE_NAMES", "FIRM_ALIAS_COLUMNS", "ROLES", "firm_key", "load_firm_aliases",
           "check_firm_aliases"]

ROLES = ("any", "foundry", "memory", "designer", "owner", "provider")
FIRM_ALIAS_COLUMNS = [
    Column("name"),
    Column("role", choices=ROLES),
    Column("firm_id"),
    Column("note"),
]

_LEGAL_FORMS = {"inc", "corp", "corporation", "co", "ltd", "limited", "group", "holdings", "plc", "ag", "sa", "nv",
                "llc", "gmbh", "kk", "the"}
#: Spellings that stand for many firms, not one ("Various companies", "Other").
AGGREGATE_NAMES = {"various companies", "various", "other", "others", "other companies"}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_FIRM_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def firm_key(name: str) -> str:
    """The normalised name used to match spellings (see the module docstring)."""
    text = name.replace("\u00a0", " ").casefold().replace("&", " and ")
    words = [w for w in _NON_ALNUM.sub(" ", text).split() if w not in _LEGAL_FORMS]
    return " ".join(words)


@dataclass
class _Firm:
    firm_id: str
    name: str
    iso3: str | None = None
    kind: str | None = None
    subtype: str | None = None
    datasets: set[str] = field(default_factory=set)
    spellings: set[str] = field(default_factory=set)


class FirmResolver:
    """Assign firm ids to spellings, remembering every assignment.

    Parameters
    ----------
    aliases : polars.DataFrame
        Columns ``name``, ``role``, ``firm_id`` (see :func:`load_firm_aliases`).
    """

    def __init__(self, aliases: pl.DataFrame | None = None):
        self._firms: dict[str, _Firm] = {}
        self._by_key: dict[str, str] = {}
        self._alias: dict[tuple[str, str], str] = {}
        self._log: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        if aliases is not None:
            for row in aliases.iter_rows(named=True):
                self._alias[(firm_key(row["name"]), row["role"])] = row["firm_id"]

    def register(self, firm_id: str, name: str, *, dataset: str, file: str, iso3: str | None = None,
                 kind: str | None = None, subtype: str | None = None) -> None:
        """Register a firm with a given id (the chip supply map's nodes)."""
        firm = self._firms.setdefault(firm_id, _Firm(firm_id, name))
        firm.iso3 = firm.iso3 or iso3
        firm.kind, firm.subtype = firm.kind or kind, firm.subtype or subtype
        firm.datasets.add(dataset)
        firm.spellings.add(name)
        self._by_key.setdefault(firm_key(name), firm_id)
        self._by_key.setdefault(firm_key(firm_id), firm_id)
        self._log[(dataset, file, name, "any")] = (firm_id, "id")

    def resolve(self, name: str, *, dataset: str, file: str, role: str = "any", iso3: str | None = None) -> str | None:
        """The firm id of ``name`` as written in ``dataset``/``file`` in ``role``; None for an empty name."""
        if name is None or not name.strip():
            return None
        key = firm_key(name)
        if not key:
            return None
        if key in AGGREGATE_NAMES:
            self._log.setdefault((dataset, file, name, role), (None, "aggregate"))
            return None
        method = "alias"
        firm_id = self._alias.get((key, role)) or self._alias.get((key, "any"))
        if firm_id is None:
            if name.strip() in self._firms:
                firm_id, method = name.strip(), "id"
            elif key in self._by_key:
                firm_id, method = self._by_key[key], "name"
            else:
                firm_id, method = key.replace(" ", "-"), "new"
        firm = self._firms.get(firm_id)
        if firm is None:
            firm = self._firms[firm_id] = _Firm(firm_id, name.strip())
            self._by_key.setdefault(key, firm_id)
        firm.iso3 = firm.iso3 or iso3
        firm.datasets.add(dataset)
        firm.spellings.add(name.strip())
        self._log.setdefault((dataset, file, name, role), (firm_id, method))
        return firm_id

    def add_spelling(self, firm_id: str, spelling: str, *, dataset: str, file: str) -> None:
        """Record another spelling of a known firm (a provider's alias, a former name)."""
        spelling = spelling.strip()
        if not spelling or firm_id not in self._firms:
            return
        self._firms[firm_id].spellings.add(spelling)
        self._by_key.setdefault(firm_key(spelling), firm_id)
        self._log.setdefault((dataset, file, spelling, "alias_of"), (firm_id, "listed_alias"))

    def firms(self) -> pl.DataFrame:
        """One row per firm id: name, country, type, datasets and spellings seen."""
        rows = [{"firm_id": f.firm_id, "name": f.name, "iso3": f.iso3, "type": f.kind, "subtype": f.subtype,
                 "datasets": sorted(f.datasets), "spellings": sorted(f.spellings),
                 "cross_source": len(f.datasets) > 1} for f in self._firms.values()]
        return pl.DataFrame(rows, schema={"firm_id": pl.String, "name": pl.String, "iso3": pl.String,
                                          "type": pl.String, "subtype": pl.String,
                                          "datasets": pl.List(pl.String), "spellings": pl.List(pl.String),
                                          "cross_source": pl.Boolean}).sort("firm_id")

    def aliases(self) -> pl.DataFrame:
        """Every spelling resolved: dataset, file, name as written, role, firm id, method."""
        rows = [{"dataset": d, "file": f, "name": n.strip(), "role": r, "firm_id": fid, "method": m}
                for (d, f, n, r), (fid, m) in self._log.items()]
        return pl.DataFrame(rows, schema={"dataset": pl.String, "file": pl.String, "name": pl.String,
                                          "role": pl.String, "firm_id": pl.String, "method": pl.String}
                            ).sort("firm_id", "dataset", "name", nulls_last=True)


def load_firm_aliases(path: Path) -> pl.DataFrame:
    """Read and check the firm alias table."""
    return check_firm_aliases(read_csv_table(path, FIRM_ALIAS_COLUMNS), Path(path))


def check_firm_aliases(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Check a typed firm alias table: firm ids well formed, each (spelling, role) once."""
    for row in frame.iter_rows(named=True):
        if not _FIRM_ID.match(row["firm_id"]):
            raise InputError(path, f"'{row['firm_id']}' is not a firm id (lower-case letters, digits, '-')",
                             row=row["_line"], field="firm_id")
    dup = frame.select(pl.struct(pl.col("name").map_elements(firm_key, return_dtype=pl.String), "role")
                       .is_duplicated()).to_series()
    if dup.any():
        row = frame.filter(dup).row(0, named=True)
        raise InputError(path, f"alias '{row['name']}' for role '{row['role']}' is listed twice", row=row["_line"],
                         field="name")
    return frame
