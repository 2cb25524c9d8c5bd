"""The HTML report: self-contained, escaped, and not blank when rendered in Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from chokepoint.report.html import ReportInput, render_report
from tests.conftest import ARTIFACTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_report_escapes_hostile_names():
    hostile = "x'); DROP TABLE t; --<script>alert(1)</script>"
    page = render_report(ReportInput(scenario=hostile, description=hostile, tables={
        "capability": pl.DataFrame({"actor": [hostile], "candidate_defector": [True], "capability_before": [2.0],
                                    "capability_after": [1.0]})}))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_file_is_self_contained(materialized):
    report = materialized.reports / "default.html"
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) >= 3
    # Nothing to fetch: no external scripts, styles, images or fonts.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for title in ("Top chokepoints", "Attainable AI compute per actor", "Supplier concentration"):
        assert title in page


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make test installs it)")
def test_report_renders_in_headless_chromium(materialized):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    report = materialized.reports / "default.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "report_default.png"
    requested = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                             "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        images_loaded = page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert images_loaded
    assert all(url.startswith(("file:", "data:")) for url in requested), requested
    image = Image.open(screenshot).convert("L")
    histogram = image.histogram()
    pixels = sum(histogram)
    white = histogram[255] / pixels
    assert image.height > 1600 and white < 0.9, f"page looks blank ({white:.0%} white)"
    assert sum(1 for count in histogram if count) > 50  # more than a handful of grey levels: plots, text
