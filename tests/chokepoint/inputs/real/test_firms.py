"""Firm names of the real data joined to one id by role."""

from __future__ import annotations

import polars as pl

from chokepoint.inputs.real.firms import FirmResolver, firm_key, load_firm_aliases
from tests.conftest import REFERENCE


def test_firm_spellings_join_one_id_by_role():
    firms = FirmResolver(load_firm_aliases(REFERENCE / "firm_aliases.csv"))
    firms.register("samsung-foundry", "Samsung Foundry", dataset="supply_map", file="n", iso3="KOR")
    firms.register("hoya", "Hoya", dataset="supply_map", file="n")
    firms.register("ase", "ASE Group", dataset="supply_map", file="n")
    assert firms.resolve("Samsung", dataset="epoch_hardware", file="h", role="foundry") == "samsung-foundry"
    assert firms.resolve("Samsung", dataset="eto", file="p", role="provider") == "samsung"
    assert firms.resolve("Hoya Corporation", dataset="eto", file="p") == "hoya"
    assert firms.resolve("ASE", dataset="eto", file="p") == "ase"
    first = firms.resolve("Canon", dataset="eto", file="p")
    assert firms.resolve("CANON", dataset="eto", file="p") == first == "canon"
    assert firms.resolve("Hysol Huawei", dataset="eto", file="p") != firms.resolve("Huawei", dataset="e", file="x")
    assert firms.resolve("Various companies", dataset="eto", file="p") is None
    table = firms.firms()
    assert table.filter(pl.col("firm_id") == "hoya")["cross_source"][0]
    assert firm_key("Kulicke & Soffa Industries, Inc.") == "kulicke and soffa industries"
