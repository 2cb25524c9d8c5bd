"""Country entity resolution: every spelling in every source → ISO 3166-1 alpha-3.

Order of attempts for one name (after turning non-breaking spaces into spaces and
collapsing white space):

1. the project's alias table (``data/reference/country_aliases.csv``: USGS and Epoch
   spellings such as "Burma", "Congo (Kinshasa)", "Korea, North", and aggregates such as
   "World total (rounded)", "Other countries", "Various countries", "EUR");
2. an ISO 3166-1 alpha-3 code, then an alpha-2 code (upper case);
3. an ISO 3166 name, official name or common name (case-insensitive, from pycountry);
4. the same with a USGS footnote marker removed: trailing digits ("New Caledonia11",
   "Other countries4") or a trailing "e" for "estimated" ("Japane", "Russiae",
   "Korea, Republic ofe") — only when the name does not resolve as written.

A name that resolves to nothing is *unresolved*: callers keep the row (with a null
ISO3) and list the name in the unresolved-names report; nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pycountry

from chokepoint.errors import InputError
from chokepoint.inputs.reference import iso3_problem
from chokepoint.inputs.tables import Column, read_csv_table

__all__ = ["CountryResolution", "CountryResolver", "ALIAS_COLUMNS", "AGGREGATES", "normalise_name", "load_aliases",
           "check_aliases"]

#: Aggregate codes an alias may resolve to instead of a country.
AGGREGATES = ("WORLD", "OTHER", "EUROPE")

ALIAS_COLUMNS = [
    Column("name"),
    Column("iso3", nullable=True),
    Column("aggregate", nullable=True, choices=AGGREGATES),
    Column("note"),
]

_SPACES = re.compile(r"\s+")
_TRAILING_DIGITS = re.compile(r"\d+$")


def normalise_name(name: str) -> str:
    """``name`` with non-breaking and repeated spaces collapsed, stripped."""
    return _SPACES.sub(" ", name.replace("\u00a0", " ")).strip()


@dataclass(frozen=True)
class CountryResolution:
    """Outcome for one spelling: ``iso3`` (or ``aggregate``) and how it was found.

    ``method`` is one of ``alias``, ``iso3``, ``iso2``, ``name``, ``footnote_stripped``,
    ``unresolved`` (a name that matches nothing) or ``missing`` (no name given).
    """

    name: str
    iso3: str | None
    aggregate: str | None
    method: str

    @property
    def resolved(self) -> bool:
        return self.iso3 is not None or self.aggregate is not None


class CountryResolver:
    """Resolve country spellings to ISO3 with a memo of every name seen.

    Parameters
    ----------
    aliases : polars.DataFrame
        Columns ``name``, ``iso3`` (nullable), ``aggregate`` (nullable) — see
        :func:`load_aliases`.
    """

    def __init__(self, aliases: pl.DataFrame):
        self._alias: dict[str, tuple[str | None, str | None]] = {}
        for row in aliases.iter_rows(named=True):
            self._alias[normalise_name(row["name"]).casefold()] = (row["iso3"], row["aggregate"])
        self._names: dict[str, str] = {}
        self._alpha3 = {c.alpha_3 for c in pycountry.countries}
        self._alpha2 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
        for country in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                value = getattr(country, attribute, None)
                if value:
                    self._names[value.casefold()] = country.alpha_3
        self._memo: dict[str, CountryResolution] = {}
        self._usage: dict[tuple[str, str, str, str], int] = {}

    @classmethod
    def from_file(cls, path: Path) -> "CountryResolver":
        return cls(load_aliases(path))

    def resolve(self, name: str | None, *, dataset: str = "", file: str = "", field: str = "") -> CountryResolution:
        """The resolution of one spelling (memoised); ``dataset``/``file``/``field`` log where it was seen."""
        if name is None or not name.strip():
            return CountryResolution("", None, None, "missing")
        if dataset:
            key = (dataset, file, field, name)
            self._usage[key] = self._usage.get(key, 0) + 1
        if name in self._memo:
            return self._memo[name]
        clean = normalise_name(name)
        found = self._direct(clean)
        if found is None:
            found = self._footnote(clean)
        result = CountryResolution(name, *found) if found else CountryResolution(name, None, None, "unresolved")
        self._memo[name] = result
        return result

    def _direct(self, clean: str) -> tuple[str | None, str | None, str] | None:
        key = clean.casefold()
        if key in self._alias:
            iso3, aggregate = self._alias[key]
            return iso3, aggregate, "alias"
        if len(clean) == 3 and clean.isupper() and clean in self._alpha3:
            return clean, None, "iso3"
        if len(clean) == 2 and clean.isupper() and clean in self._alpha2:
            return self._alpha2[clean], None, "iso2"
        if key in self._names:
            return self._names[key], None, "name"
        return None

    def _footnote(self, clean: str) -> tuple[str | None, str | None, str] | None:
        candidates = []
        stripped = _TRAILING_DIGITS.sub("", clean).strip()
        if stripped != clean:
            candidates.append(stripped)
        if clean.endswith("e") and len(clean) > 3:
            candidates.append(clean[:-1].strip())
        for candidate in candidates:
            found = self._direct(candidate)
            if found is not None:
                return found[0], found[1], "footnote_stripped"
        return None

    def resolve_column(self, names: pl.Series, *, dataset: str = "", file: str = "",
                       field: str = "") -> pl.DataFrame:
        """Resolutions of a column of names: ``iso3``, ``aggregate``, ``country_method`` (row-aligned)."""
        rows = [self.resolve(n, dataset=dataset, file=file, field=field) for n in names.to_list()]
        return pl.DataFrame({"iso3": [r.iso3 for r in rows], "aggregate": [r.aggregate for r in rows],
                             "country_method": [r.method for r in rows]},
                            schema={"iso3": pl.String, "aggregate": pl.String, "country_method": pl.String})

    def names(self) -> pl.DataFrame:
        """Every spelling seen: dataset, file, field, name as written, ISO3 or aggregate, method, rows."""
        rows = []
        for (dataset, file, field, name), count in self._usage.items():
            r = self.resolve(name)
            rows.append({"kind": "country", "dataset": dataset, "file": file, "field": field, "name": name,
                         "resolved_to": r.iso3 or r.aggregate, "iso3": r.iso3, "aggregate": r.aggregate,
                         "method": r.method, "rows": count})
        return pl.DataFrame(rows, schema={"kind": pl.String, "dataset": pl.String, "file": pl.String,
                                          "field": pl.String, "name": pl.String, "resolved_to": pl.String,
                                          "iso3": pl.String, "aggregate": pl.String, "method": pl.String,
                                          "rows": pl.Int64}).sort("dataset", "file", "name")


def load_aliases(path: Path) -> pl.DataFrame:
    """Read and check the country alias table (one of ``iso3`` or ``aggregate`` per row)."""
    return check_aliases(read_csv_table(path, ALIAS_COLUMNS), Path(path))


def check_aliases(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Check a typed alias table: exactly one of ``iso3`` / ``aggregate``, known ISO3 codes, no repeats."""
    seen: dict[str, int] = {}
    for row in frame.iter_rows(named=True):
        if (row["iso3"] is None) == (row["aggregate"] is None):
            raise InputError(path, "give exactly one of iso3 and aggregate", row=row["_line"], field="iso3")
        if row["iso3"] is not None and (problem := iso3_problem(row["iso3"])):
            raise InputError(path, problem, row=row["_line"], field="iso3")
        key = normalise_name(row["name"]).casefold()
        if key in seen:
            raise InputError(path, f"name '{row['name']}' is listed twice (first on line {seen[key]})",
                             row=row["_line"], field="name")
        seen[key] = row["_line"]
    return frame
