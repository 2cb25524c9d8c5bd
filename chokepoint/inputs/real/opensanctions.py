"""OpenSanctions curated government lists (``opensanctions/*.csv``) → list entries and firm matches.

Six files, each with its own layout (OpenSanctions, CC BY-NC 4.0; the underlying
government lists are public works):

================================================  =====================  ===========================
file                                              list id                dates
================================================  =====================  ===========================
``us_dod_1260h_chinese_military_companies.csv``   ``us_1260h``           ``Start date`` ISO (one row
                                                                         per list edition)
``us_ndaa_section_5949.csv``                      ``us_ndaa_5949``       none given
``us_ndaa_section_889.csv``                       ``us_ndaa_889``        none given
``us_bis_military_intelligence_end_users.csv``    ``us_bis_mieu``        ISO
``cn_countermeasures.csv``                        ``cn_countermeasures`` DD.MM.YYYY (some DD.MM.YY)
``eu_regulation_833_2014_annexes.csv``            ``eu_833_annex_iv``    D.M.YYYY
================================================  =====================  ===========================

Rules
-----
- **EU file.** Only Annex IV entries (entities under tighter dual-use export
  restrictions) are list entries; rows of the other annexes (banks, vessels, assets) are
  kept in ``list_skipped`` with the reason, so that every row read is accounted for. The
  EU file gives the country only inside the address: it is the last address component
  that resolves to a country (of the first address when there are several).
- **Dates** are parsed per file (ISO, ``DD.MM.YYYY``, ``D.M.YYYY``, ``DD.MM.YY`` = 20YY,
  ``D Month YYYY``);
  a date that is given but cannot be read sends the row to the quarantine naming the
  field.
- **Matching** (:func:`match_entries`) never creates a firm: each entry's name, then its
  aliases, are looked up in the firm alias table (``data/reference/firm_aliases.csv``,
  method ``alias``) and among the spellings and ids of known firms with the firm
  resolver's normalisation (``exact``); failing both, the entry's parent (``parent``);
  else ``none``. An ``exact`` or ``parent`` match is refused when the entry's country and
  the firm's country are both known and differ (Hong Kong and Macao count as China): the
  EU's "Trade Engine System" (alias TES, Russia) is not the Korean equipment maker TES.
  Every entry gets exactly one decision row.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.firms import firm_key
from chokepoint.inputs.real.quarantine import empty_quarantine, source_columns, split_checks

__all__ = ["LIST_FILES", "LISTS", "ListsStaged", "ENTRY_SCHEMA", "MATCH_SCHEMA", "SKIPPED_SCHEMA", "FirmIndex",
           "stage_opensanctions", "match_entries", "parse_list_date"]

DATASET = "opensanctions"


@dataclass(frozen=True)
class _Layout:
    """How one file's columns map onto an entry."""

    table: str                 # raw table (warehouse name)
    list_id: str
    required: tuple[str, ...]
    name: str                  # column with the entry's name
    aliases: tuple[str, ...]   # columns with other names (';'-separated)
    kind: str | None = None    # column with the entity type
    parent: str | None = None
    country: str | None = None
    start: str | None = None
    end: str | None = None
    url: str | None = None
    detail: tuple[str, ...] = ()  # columns describing the sub-list / programme
    address: str | None = None    # column whose address holds the country (EU file)


#: File stem → layout.
LIST_FILES = {
    "us_dod_1260h_chinese_military_companies": _Layout(
        "src_opensanctions_us_1260h", "us_1260h",
        ("Name", "Clean Name", "Alias", "Previous Name", "Parent Name", "Start date", "End date", "Source Url"),
        name="Clean Name", aliases=("Alias", "Previous Name"), parent="Parent Name", start="Start date",
        end="End date", url="Source Url"),
    "us_ndaa_section_5949": _Layout(
        "src_opensanctions_us_ndaa_5949", "us_ndaa_5949",
        ("schema", "name", "aliases", "program", "start-date", "end-date", "country", "source_url"),
        name="name", aliases=("aliases",), kind="schema", country="country", start="start-date", end="end-date",
        url="source_url", detail=("program",)),
    "us_ndaa_section_889": _Layout(
        "src_opensanctions_us_ndaa_889", "us_ndaa_889",
        ("schema", "name", "aliases", "program", "start-date", "end-date", "country", "source_url"),
        name="name", aliases=("aliases",), kind="schema", country="country", start="start-date", end="end-date",
        url="source_url", detail=("program",)),
    "us_bis_military_intelligence_end_users": _Layout(
        "src_opensanctions_us_bis_mieu", "us_bis_mieu",
        ("Type", "Name", "Alias", "Country", "Program", "Date", "End date", "Source URL"),
        name="Name", aliases=("Alias",), kind="Type", country="Country", start="Date", end="End date",
        url="Source URL", detail=("Program",)),
    "cn_countermeasures": _Layout(
        "src_opensanctions_cn_countermeasures", "cn_countermeasures",
        ("Type", "Name", "Alias", "Chinese name", "Country", "Body", "List", "Date", "End date", "Source URL"),
        name="Name", aliases=("Alias", "Chinese name"), kind="Type", country="Country", start="Date",
        end="End date", url="Source URL", detail=("Body", "List")),
    "eu_regulation_833_2014_annexes": _Layout(
        "src_opensanctions_eu_833", "eu_833_annex_iv",
        ("celex", "annex", "measure", "startDate", "schema", "name", "alias", "jurisdiction", "address"),
        name="name", aliases=("alias",), kind="schema", start="startDate", detail=("annex", "measure"),
        address="address"),
}
#: List id → what the list is.
LISTS = {
    "us_1260h": "US DoD Section 1260H list of Chinese military companies",
    "us_ndaa_5949": "US NDAA FY2023 Section 5949 semiconductor procurement prohibition",
    "us_ndaa_889": "US NDAA FY2019 Section 889 telecommunications and video surveillance prohibition",
    "us_bis_mieu": "US BIS military-intelligence end users (EAR 744.22)",
    "cn_countermeasures": "China's countermeasures (MOFCOM export-control and unreliable-entity lists, MFA sanctions)",
    "eu_833_annex_iv": "EU Regulation 833/2014 Annex IV (tighter dual-use export restrictions)",
}
_EU_ANNEX = "IV"
_EU_URL = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:{}"

ENTRY_SCHEMA = {
    "list_id": pl.String, "entry_type": pl.String, "name": pl.String, "aliases": pl.List(pl.String),
    "parent": pl.String, "country_as_written": pl.String, "iso3": pl.String, "start_date": pl.Date,
    "end_date": pl.Date, "start_as_written": pl.String, "end_as_written": pl.String, "list_detail": pl.String,
    "source_url": pl.String, "dataset": pl.String, "file": pl.String, "line": pl.Int64}
MATCH_SCHEMA = {
    "list_id": pl.String, "name": pl.String, "firm_id": pl.String, "method": pl.String,
    "matched_spelling": pl.String, "matched_field": pl.String, "dataset": pl.String, "file": pl.String,
    "line": pl.Int64}
SKIPPED_SCHEMA = {"dataset": pl.String, "file": pl.String, "line": pl.Int64, "name": pl.String, "reason": pl.String}

_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DAY_MONTHNAME_YEAR = re.compile(r"^(\d{1,2}) ([A-Za-z]+) (\d{4})$")
_MONTHS = {name: i for i, name in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                             "september", "october", "november", "december"), start=1)}
#: Countries treated as one when checking that a list entry and a firm are in the same place.
_SAME_PLACE = {"HKG": "CHN", "MAC": "CHN"}


def parse_list_date(text: str | None) -> tuple[bool, object]:
    """``(ok, date)``: ISO ``YYYY-MM-DD``, ``DD.MM.YYYY``, ``D.M.YYYY``, ``DD.MM.YY`` (= 20YY) or
    ``D Month YYYY`` (English month name, as some EU annex rows have).

    A blank is ``(True, None)``; text that is none of these, or not a calendar date, is
    ``(False, None)``.
    """
    if text is None or not text.strip():
        return True, None
    text = text.strip()
    if match := _ISO.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DAY_MONTH_YEAR.match(text):
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000
    elif (match := _DAY_MONTHNAME_YEAR.match(text)) and match.group(2).lower() in _MONTHS:
        day, month, year = int(match.group(1)), _MONTHS[match.group(2).lower()], int(match.group(3))
    else:
        return False, None
    try:
        return True, datetime.date(year, month, day)
    except ValueError:
        return False, None


@dataclass(frozen=True)
class ListsStaged:
    entries: pl.DataFrame
    skipped: pl.DataFrame
    quarantine: pl.DataFrame


def _split_names(values) -> list[str]:
    out = []
    for value in values:
        if value:
            out += [part.strip() for part in value.split(";") if part.strip()]
    return out


def _address_country(address: str | None, countries: CountryResolver) -> tuple[str | None, str | None]:
    """Country of the first address: from its last three comma-separated parts (last first), the
    first that is, or ends or starts with, a country name once postcodes are dropped."""
    if not address or not address.strip():
        return None, None
    first = address.replace("\u2019", "'").split(";")[0]
    parts = [p.strip().rstrip(".").strip() for p in first.split(",") if p.strip()]
    for part in reversed(parts[-3:]):
        words = [w for w in part.split() if not any(ch.isdigit() for ch in w)]
        candidates = [part, " ".join(words)]
        candidates += [" ".join(words[-k:]) for k in range(min(4, len(words)), 0, -1)]
        candidates += [" ".join(words[:k]) for k in range(min(4, len(words)), 0, -1)]
        for candidate in candidates:
            if len(candidate) > 3 and (iso3 := countries.resolve(candidate).iso3):
                return candidate, iso3
    return (parts[-1] if parts else None), None


def stage_opensanctions(raw: dict[str, pl.DataFrame], countries: CountryResolver) -> ListsStaged:
    """Stage the list files (raw tables keyed by warehouse name, see :data:`LIST_FILES`).

    Returns
    -------
    ListsStaged
        ``entries`` (:data:`ENTRY_SCHEMA`, one row per list entry), ``skipped`` (EU rows of
        other annexes) and the quarantine (rows without a name, or with a date that
        cannot be read, naming the field).

    Notes
    -----
    Linear in the number of rows.
    """
    entries, skipped, quarantines = [], [], []
    for layout in LIST_FILES.values():
        frame = raw.get(layout.table)
        if frame is None or frame.height == 0:
            continue
        cols = source_columns(frame)
        dates = {}
        for column in (layout.start, layout.end):
            if column:
                parsed = [parse_list_date(v) for v in frame[column].to_list()]
                dates[column] = parsed
                frame = frame.with_columns(pl.Series(f"_{column}_ok", [p[0] for p in parsed], dtype=pl.Boolean),
                                           pl.Series(f"_{column}_date", [p[1] for p in parsed], dtype=pl.Date))
        checks = [(pl.col(layout.name).fill_null("").str.strip_chars() == "",
                   f"'{layout.name}' is empty (an entry needs a name)")]
        for column in (layout.start, layout.end):
            if column:
                checks.append((~pl.col(f"_{column}_ok"),
                               pl.format("'{}' in '{}' is not a date (expected YYYY-MM-DD, DD.MM.YYYY or DD.MM.YY)",
                                         pl.col(column), pl.lit(column))))
        good, quarantine = split_checks(frame, checks, cols)
        quarantines.append(quarantine)
        if layout.list_id == "eu_833_annex_iv":
            annex = pl.col("annex").fill_null("").str.strip_chars()
            other = good.filter(annex != _EU_ANNEX)
            skipped.append(other.select(
                pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"),
                pl.col("name").str.strip_chars().alias("name"),
                pl.format("EU Regulation 833/2014 Annex {} ({}, {}): not Annex IV, so not a list entry here",
                          annex, pl.col("measure").fill_null(""), pl.col("schema").fill_null("")).alias("reason")))
            good = good.filter(annex == _EU_ANNEX)
        if good.height == 0:
            continue
        entries.append(_entries(good, layout, countries))
    entry_frame = (pl.concat(entries) if entries else pl.DataFrame(schema=ENTRY_SCHEMA)).cast(ENTRY_SCHEMA)
    skipped_frame = (pl.concat(skipped) if skipped else pl.DataFrame(schema=SKIPPED_SCHEMA)).cast(SKIPPED_SCHEMA)
    quarantine = pl.concat(quarantines) if quarantines else empty_quarantine()
    return ListsStaged(entry_frame.sort("list_id", "file", "line"), skipped_frame.sort("file", "line"), quarantine)


def _entries(good: pl.DataFrame, layout: _Layout, countries: CountryResolver) -> pl.DataFrame:
    file = good["_file"][0]
    names = good[layout.name].str.strip_chars().to_list()
    alias_cols = [good[c].to_list() if c in good.columns else [None] * good.height for c in layout.aliases]
    aliases = []
    for i, name in enumerate(names):
        found = [a for a in _split_names(col[i] for col in alias_cols) if a != name]
        aliases.append(list(dict.fromkeys(found)))
    if layout.country:
        written = [v.strip() if v and v.strip() else None for v in good[layout.country].to_list()]
        iso3 = [countries.resolve(v, dataset=DATASET, file=file, field=layout.country).iso3 if v else None
                for v in written]
    elif layout.address:  # EU: the country is inside the address (jurisdiction when there is no address)
        pairs = [_address_country(a, countries) for a in good[layout.address].to_list()]
        written = [p[0] for p in pairs]
        iso3 = [p[1] for p in pairs]
        for jurisdiction, i in ((j, i) for i, j in enumerate(good["jurisdiction"].to_list())):
            if iso3[i] is None and jurisdiction and jurisdiction.strip():
                written[i], iso3[i] = jurisdiction.strip(), countries.resolve(jurisdiction.strip()).iso3
        for value, code in zip(written, iso3):
            if value and code:  # log resolved spellings only; address fragments are not country names
                countries.resolve(value, dataset=DATASET, file=file, field=layout.address)
    else:
        written, iso3 = [None] * good.height, [None] * good.height
    detail = (pl.concat_str([pl.col(c).fill_null("").str.strip_chars() for c in layout.detail], separator=": ")
              .str.strip_chars(": ") if layout.detail else pl.lit(None, pl.String))
    if layout.list_id == "eu_833_annex_iv":
        url = pl.format(_EU_URL, pl.col("celex").str.strip_chars())
    elif layout.url:
        url = pl.when(pl.col(layout.url).fill_null("").str.strip_chars() != "").then(
            pl.col(layout.url).str.strip_chars())
    else:
        url = pl.lit(None, pl.String)

    def text(column: str | None) -> pl.Expr:
        if column is None:
            return pl.lit(None, pl.String)
        value = pl.col(column).str.strip_chars()
        return pl.when(value.fill_null("") != "").then(value)

    return good.with_columns(
        pl.Series("_name", names, dtype=pl.String), pl.Series("_aliases", aliases, dtype=pl.List(pl.String)),
        pl.Series("_country_written", written, dtype=pl.String), pl.Series("_iso3", iso3, dtype=pl.String),
    ).select(
        pl.lit(layout.list_id).alias("list_id"), text(layout.kind).alias("entry_type"), pl.col("_name").alias("name"),
        pl.col("_aliases").alias("aliases"), text(layout.parent).alias("parent"),
        pl.col("_country_written").alias("country_as_written"), pl.col("_iso3").alias("iso3"),
        (pl.col(f"_{layout.start}_date") if layout.start else pl.lit(None, pl.Date)).alias("start_date"),
        (pl.col(f"_{layout.end}_date") if layout.end else pl.lit(None, pl.Date)).alias("end_date"),
        text(layout.start).alias("start_as_written"), text(layout.end).alias("end_as_written"),
        pl.when(detail != "").then(detail).alias("list_detail"), url.alias("source_url"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))


@dataclass(frozen=True)
class FirmIndex:
    """What list matching may match against: the alias table and the known firms' spellings.

    ``aliases`` maps a normalised spelling (role ``any``) to a firm id; ``known`` maps a normalised firm id, name or spelling to its firm id.
    """

    aliases: dict[str, str]
    known: dict[str, str]
    iso3: dict[str, str]

    @classmethod
    def build(cls, firm_aliases: pl.DataFrame, firms: pl.DataFrame) -> "FirmIndex":
        """From the alias table (``name``, ``role``, ``firm_id``) and ``staging.firms``-like rows
        (``firm_id``, ``name``, ``spellings``, ``iso3``); firm ids in sorted order decide ties."""
        aliases = {}
        if firm_aliases is not None and firm_aliases.height:
            for row in firm_aliases.filter(pl.col("role") == "any").iter_rows(named=True):
                aliases.setdefault(firm_key(row["name"]), row["firm_id"])
        known, iso3 = {}, {}
        for row in firms.sort("firm_id").iter_rows(named=True):
            if row.get("iso3"):
                iso3[row["firm_id"]] = row["iso3"]
            for spelling in [row["firm_id"], row["name"], *(row.get("spellings") or [])]:
                key = firm_key(spelling or "")
                if key:
                    known.setdefault(key, row["firm_id"])
        return cls(aliases, known, iso3)

    def lookup(self, spelling: str | None) -> tuple[str | None, str | None]:
        """``(firm_id, method)`` with method ``alias`` or ``exact``; ``(None, None)`` if unknown."""
        key = firm_key(spelling or "")
        if not key:
            return None, None
        if key in self.aliases:
            return self.aliases[key], "alias"
        if key in self.known:
            return self.known[key], "exact"
        return None, None

    def same_place(self, firm_id: str, iso3: str | None) -> bool:
        """False only when both the firm's and the entry's country are known and differ."""
        theirs = self.iso3.get(firm_id)
        if not theirs or not iso3:
            return True
        return _SAME_PLACE.get(theirs, theirs) == _SAME_PLACE.get(iso3, iso3)


def match_entries(entries: pl.DataFrame, index: FirmIndex) -> pl.DataFrame:
    """One decision per entry: the firm it is (or null) and how (see the module docstring).

    Returns
    -------
    polars.DataFrame
        :data:`MATCH_SCHEMA`: ``method`` is ``alias``, ``exact``, ``parent`` or ``none``;
        ``matched_spelling`` is the spelling that matched and ``matched_field`` where it
        stands (``name``, ``alias``, ``parent``).
    """
    rows = []
    for entry in entries.iter_rows(named=True):
        decision = (None, "none", None, None)
        candidates = [("name", entry["name"])] + [("alias", a) for a in entry["aliases"] or []]
        # The curated alias table first over every spelling, then exact names.
        for wanted in ("alias", "exact"):
            for field, spelling in candidates:
                firm_id, method = index.lookup(spelling)
                if firm_id and method == wanted and (method == "alias" or index.same_place(firm_id, entry["iso3"])):
                    decision = (firm_id, method, spelling, field)
                    break
            if decision[0]:
                break
        if decision[0] is None and entry["parent"]:
            firm_id, _ = index.lookup(entry["parent"])
            if firm_id and index.same_place(firm_id, entry["iso3"]):
                decision = (firm_id, "parent", entry["parent"], "parent")
        rows.append({"list_id": entry["list_id"], "name": entry["name"], "firm_id": decision[0],
                     "method": decision[1], "matched_spelling": decision[2], "matched_field": decision[3],
                     "dataset": entry["dataset"], "file": entry["file"], "line": entry["line"]})
    return pl.DataFrame(rows, schema=MATCH_SCHEMA)
