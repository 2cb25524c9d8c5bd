"""Property/fuzz suite: random corruptions of the real input files, through every loader.

Each case copies a loader's files, corrupts one of them (truncation, dropped or renamed
columns, swapped delimiters, random bytes, huge / negative / NaN / infinite numbers,
duplicated rows or keys, wrong encodings, empty files, ...), loads, and requires one
of two outcomes:

- an :class:`InputError` whose one-line message names one of the loader's files, or
- success, with results that pass independent checks: totals recomputed from the
  corrupted file with the standard library's ``csv``/``tomllib`` equal the loader's
  (so a corruption can never silently change a figure), and no NaN, infinity or
  out-of-range share reaches the capacities.

Any other exception fails the case. Loaders are listed in :data:`LOADERS`; a new
reader (e.g. the real-data loaders under ``chokepoint/ingest``) is one more entry.
The number of cases tried is written to ``tests/artifacts/fuzz-cases.json``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chokepoint.errors import InputError
from chokepoint.settings import shared_data_dir
from chokepoint.inputs.reference import COMPUTE_INPUT, REFERENCE_FILES, load_reference
from chokepoint.inputs.scenario import load_scenario
from chokepoint.inputs.tables import read_csv_text
from tests.conftest import ARTIFACTS, DATA, REFERENCE, clean_env, copy_data, run_cli
from tests.support.real_data import needs_mirror

CASES: Counter = Counter()
SOAK = {"ran": False}  # the soak's counts go to their own file
EXAMPLES = 300  # per loader in the default run; the slow variant tries many more


# --- corruptions -----------------------------------------------------------------------

HOSTILE_NUMBERS = ["1e308", "1e400", "-1", "-0.0", "-1e-300", "NaN", "nan", "inf", "-inf", "Infinity",
                   "99999999999999999999999", "1,5", "0x1F", "", " ", "1e-320", "0", "007", "+3", "1_000"]
ENCODINGS = ["utf-16", "latin-1", "cp1252", "utf-32"]
NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


def _csv_rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8", errors="replace"))))


def _write_rows(rows, delimiter=",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


@st.composite
def corruption(draw, raw: bytes, kind_of_file: str):
    """A (label, corrupted bytes) pair for ``raw``."""
    kinds = ["truncate", "random_bytes", "insert_bytes", "number", "duplicate_line", "encoding", "empty",
             "blank_lines", "bom_crlf", "delete_line"]
    if kind_of_file == "csv":
        kinds += ["drop_column", "rename_column", "delimiter", "header_only", "extra_column", "swap_columns"]
    else:
        kinds += ["rename_key", "duplicate_key_line", "colon_for_equals"]
    kind = draw(st.sampled_from(kinds))
    lines = raw.split(b"\n")
    if kind == "truncate":
        return kind, raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if kind == "random_bytes":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return kind, bytes(data)
    if kind == "insert_bytes":
        at = draw(st.integers(0, len(raw)))
        return kind, raw[:at] + draw(st.binary(min_size=1, max_size=12)) + raw[at:]
    if kind == "number":
        matches = list(NUMBER.finditer(raw))
        if not matches:
            return kind, raw
        match = matches[draw(st.integers(0, len(matches) - 1))]
        value = draw(st.sampled_from(HOSTILE_NUMBERS)).encode()
        return f"number:{value.decode()}", raw[: match.start()] + value + raw[match.end():]
    if kind == "duplicate_line":
        at = draw(st.integers(1, max(1, len(lines) - 1)))
        return kind, b"\n".join(lines[:at] + [lines[at - 1]] + lines[at:])
    if kind == "delete_line":
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        return kind, b"\n".join(lines[:at] + lines[at + 1:])
    if kind == "encoding":
        encoding = draw(st.sampled_from(ENCODINGS))
        text = raw.decode("utf-8").replace("a", "ä", 1)
        return f"encoding:{encoding}", text.encode(encoding, errors="replace")
    if kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"   \n\n", b"\xef\xbb\xbf"]))
    if kind == "blank_lines":
        at = draw(st.integers(0, len(lines)))
        return kind, b"\n".join(lines[:at] + [b"", b"  "] + lines[at:])
    if kind == "bom_crlf":
        return kind, b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n")
    rows = _csv_rows(raw) if kind_of_file == "csv" else None
    width = len(rows[0]) if rows else 1
    if kind == "drop_column":
        i = draw(st.integers(0, width - 1))
        return kind, _write_rows([r[:i] + r[i + 1:] for r in rows])
    if kind == "rename_column":
        i = draw(st.integers(0, width - 1))
        rows[0][i] = draw(st.sampled_from(["", "x", rows[0][i].upper(), rows[0][(i + 1) % width], rows[0][i] + " "]))
        return kind, _write_rows(rows)
    if kind == "delimiter":
        return kind, _write_rows(rows, delimiter=draw(st.sampled_from([";", "\t", "|"])))
    if kind == "header_only":
        return kind, _write_rows(rows[:1])
    if kind == "extra_column":
        return kind, _write_rows([r + ["extra"] for r in rows])
    if kind == "swap_columns":
        i, j = draw(st.integers(0, width - 1)), draw(st.integers(0, width - 1))
        for r in rows[1:]:
            if len(r) == width:
                r[i], r[j] = r[j], r[i]
        return kind, _write_rows(rows)
    text_lines = raw.decode("utf-8").splitlines()
    keyed = [n for n, line in enumerate(text_lines) if re.match(r"^\s*\w+\s*=", line)]
    if not keyed:
        return kind, raw
    n = keyed[draw(st.integers(0, len(keyed) - 1))]
    if kind == "rename_key":
        text_lines[n] = re.sub(r"^(\s*)(\w+)", lambda m: m.group(1) + m.group(2) + "x", text_lines[n], count=1)
    elif kind == "duplicate_key_line":
        text_lines.insert(n, text_lines[n])
    else:  # colon_for_equals
        text_lines[n] = text_lines[n].replace("=", ":", 1)
    return kind, ("\n".join(text_lines) + "\n").encode("utf-8")


# --- independent checks of successful loads --------------------------------------------

def _independent_rows(path: Path) -> list[dict]:
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [f.strip() for f in reader.fieldnames]
    return [{k: (v or "").strip() for k, v in row.items()} for row in reader if any((v or "").strip() for v in row.values())]


def _sane_reference(data, files: dict[str, Path]) -> None:
    caps = data.capacities
    for value in caps["capacity"].to_list() + caps["share"].to_list():
        assert math.isfinite(value), "NaN or infinity reached the capacities"
    assert caps["capacity"].min() > 0
    assert 0 <= caps["share"].min() and caps["share"].max() <= 1
    totals = caps.group_by("input_id").agg(pl.col("share").sum().alias("total"))
    assert totals["total"].max() <= 1.005 + 1e-9
    # Recompute every capacity from the (corrupted) files with the standard library.
    world = {r["input_id"]: float(r["world_capacity"]) for r in _independent_rows(files["input_types"])}
    expected = {}
    for row in _independent_rows(files["shares"]):
        expected[(row["input_id"], row["iso3"])] = float(row["share_pct"]) / 100 * world[row["input_id"]]
    compute = _independent_rows(files["compute_capacity"])
    total = sum(float(r["h100e"]) for r in compute)
    for row in compute:
        expected[(COMPUTE_INPUT, row["iso3"])] = float(row["h100e"]) / total * world[COMPUTE_INPUT]
    expected = {k: v for k, v in expected.items() if v > 0}
    got = {(r["input_id"], r["iso3"]): r["capacity"] for r in caps.iter_rows(named=True)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    assert data.countries.height == len(_independent_rows(files["countries"]))


def _sane_scenario(scenario, files: dict[str, Path]) -> None:
    raw = tomllib.loads(files["default"].read_text(encoding="utf-8"))
    settings_table = raw.get("settings", {})
    if "budget" in settings_table:
        assert scenario.settings.budget == float(settings_table["budget"])
    for actor in scenario.actors:
        assert 0 <= actor.detection_probability <= 1
        for value in (actor.value_of_capability, actor.first_mover_gain, actor.benefit_of_compliance):
            assert math.isfinite(value) or value == math.inf
            assert value >= 0
        assert raw["actors"][actor.id].get("signatory") == actor.signatory
    for control in scenario.controls:
        assert control.cost >= 0 and not math.isnan(control.cost)
    assert {c.id for c in scenario.controls} == {c["id"] for c in raw.get("controls", [])}
    reference = load_reference(REFERENCE)
    try:
        scenario.validate_against(reference.countries["iso3"], reference.input_types["input_id"])
    except InputError as exc:
        assert str(exc).startswith("default.toml")


def _sane_generic_csv(frame, files: dict[str, Path]) -> None:
    (path,) = files.values()
    text = path.read_bytes().decode("utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text))]
    header, body = [c.strip() for c in rows[0]], [r for r in rows[1:] if r]
    data = frame.drop("_line", "_file")
    assert data.columns == header
    assert data.height == len(body), "rows were dropped or invented"
    for got, want in zip(data.iter_rows(), body):
        # Surrounding whitespace (a stray carriage return) is stripped by every typed reader.
        assert [(g or "").strip() for g in got] == [w.strip() for w in want]


# --- the loader registry ---------------------------------------------------------------

@dataclass(frozen=True)
class Loader:
    """One reader of input files: which files, how to load a copy, what a success must satisfy."""

    name: str
    files: dict[str, Path]                       # key -> original file
    kind: str                                    # "csv" or "toml"
    load: Callable[[Path, dict[str, Path]], object]   # (folder with the copies, key -> copy) -> result
    sane: Callable[[object, dict[str, Path]], None]


def _real_csv_files() -> list[Path]:
    """Real data files the generic reader accepts as they are (others fail on purpose:
    multi-line quoted cells, duplicate empty header names)."""
    root = shared_data_dir()
    found = []
    for path in sorted(root.rglob("*.csv")) if root.is_dir() else []:
        try:
            read_csv_text(path)
            found.append(path)
        except InputError:
            pass
    return found


LOADERS = [
    Loader("reference", {name: REFERENCE / f"{name}.csv" for name in REFERENCE_FILES}, "csv",
           lambda folder, files: load_reference(folder), _sane_reference),
    Loader("scenario", {"default": DATA / "scenarios" / "default.toml"}, "toml",
           lambda folder, files: load_scenario(files["default"]), _sane_scenario),
    # Real datasets through the generic reader until dedicated loaders land; add
    # chokepoint.inputs.real loaders here, one entry each.
    *[Loader(f"real:{path.relative_to(shared_data_dir())}", {path.stem: path}, "csv",
             lambda folder, files: read_csv_text(next(iter(files.values()))), _sane_generic_csv)
      for path in _real_csv_files()],
]


@pytest.fixture(scope="module", autouse=True)
def _report_cases():
    yield
    if CASES:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "fuzz-cases-soak.json" if SOAK["ran"] else "fuzz-cases.json"
        (ARTIFACTS / name).write_text(json.dumps({
            "cases": sum(v for k, v in CASES.items() if k[0] == "total"),
            "by_outcome": {f"{k[1]}": v for k, v in CASES.items() if k[0] == "outcome"},
            "by_loader": {f"{k[1]}": v for k, v in CASES.items() if k[0] == "loader"},
            "by_corruption": {f"{k[1]}": v for k, v in CASES.items() if k[0] == "corruption"},
        }, indent=2, sort_keys=True) + "\n")


def _check_case(loader: Loader, target_key: str, label: str, corrupted: bytes, tmp: Path) -> None:
    folder = tmp / "case"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    copies = {}
    for key, original in loader.files.items():
        copies[key] = folder / original.name
        copies[key].write_bytes(corrupted if key == target_key else original.read_bytes())
    CASES["total", ""] += 1
    CASES["loader", loader.name.split(":")[0]] += 1
    CASES["corruption", label.split(":")[0]] += 1
    try:
        result = loader.load(folder, copies)
    except InputError as exc:
        message = str(exc)
        CASES["outcome", "clear error"] += 1
        assert "\n" not in message, message
        assert any(message.startswith(path.name) for path in copies.values()), \
            f"{label}: error does not start with a file name: {message}"
        return
    CASES["outcome", "loaded, totals cross-checked"] += 1
    try:
        loader.sane(result, copies)
    except (AssertionError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise AssertionError(f"{loader.name}: '{label}' on {loader.files[target_key].name} loaded without error "
                             f"but the result is wrong: {type(exc).__name__}: {exc}") from exc


def _fuzz(loader: Loader, data, tmp: Path) -> None:
    key = data.draw(st.sampled_from(sorted(loader.files)))
    label, corrupted = data.draw(corruption(loader.files[key].read_bytes(), loader.kind))
    _check_case(loader, key, label, corrupted, tmp)


def _fuzz_test(examples: int, derandomize: bool):
    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(data=st.data())
    def run(loader, tmp_path, data):
        _fuzz(loader, data, tmp_path)
    return run


_REAL = [loader for loader in LOADERS if loader.name.startswith("real:")]
_OWN = [loader for loader in LOADERS if not loader.name.startswith("real:")]


@pytest.mark.parametrize("loader", _OWN, ids=[loader.name for loader in _OWN])
def test_corrupted_inputs(loader, tmp_path):
    _fuzz_test(EXAMPLES, derandomize=True)(loader, tmp_path)


@needs_mirror
def test_corrupted_real_datasets(tmp_path):
    @settings(max_examples=EXAMPLES * 2, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(data=st.data())
    def run(data):
        loader = data.draw(st.sampled_from(_REAL))
        _fuzz(loader, data, tmp_path)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("loader", LOADERS[:2], ids=[loader.name for loader in LOADERS[:2]])
def test_corrupted_inputs_soak(loader, tmp_path):
    SOAK["ran"] = True
    _fuzz_test(2000, derandomize=False)(loader, tmp_path)


def test_loader_registry_covers_every_reader():
    names = {loader.name for loader in LOADERS}
    assert {"reference", "scenario"} <= names


@needs_mirror
def test_loader_registry_covers_the_real_datasets():
    assert len(_REAL) >= 10, "the real datasets should be fuzzed too"


@pytest.mark.parametrize(("label", "change", "named"), [
    # Cut inside a quoted cell: the reader sees the unclosed quote.
    ("truncated in a quoted cell", lambda raw: raw[: raw.index(b'"', len(raw) // 2) + 5], "shares.csv"),
    # Cut inside an unquoted cell: the rows left are well-formed, so the reader cannot
    # tell; the firm reference finds a firm split of a country capacity that is gone
    # (before the network's check would find inputs without suppliers).
    ("truncated between cells", lambda raw: raw[: len(raw) // 2 - 7], "to split among firms"),
    pytest.param("wrong encoding", lambda raw: raw.decode().replace("a", "ä").encode("utf-16"), "shares.csv",
                 marks=pytest.mark.slow),
    pytest.param("empty", lambda raw: b"", "shares.csv", marks=pytest.mark.slow),
])
def test_no_traceback_reaches_the_cli_user(tmp_path, dagster_home, label, change, named):
    data = copy_data(tmp_path / "data")
    shares = data / "reference" / "shares.csv"
    shares.write_bytes(change(shares.read_bytes()))
    warehouse = tmp_path / "w" / "chokepoint.duckdb"
    # The corruption is in the reference data, which every data mode reads; reference mode keeps the run short.
    env = clean_env(DAGSTER_HOME=dagster_home, CHOKEPOINT_DATA_MODE="reference", CHOKEPOINT_REPORTS=tmp_path / "r")
    result = run_cli("run", "--data-dir", data, "--warehouse", warehouse, env=env, timeout=300)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("chokepoint run: error: "), result.stderr
    assert named in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not warehouse.exists()
