"""Dagit in a real browser: headless Debian Chromium driven by Playwright.

Starts ``dagster dev`` (webserver + daemon) on 127.0.0.1, opens the asset graph,
launches a materialisation from the UI, waits for the run to succeed and saves
screenshots under ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chokepoint.settings import PROJECT_ROOT
from tests.conftest import ARTIFACTS, DATA

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make test installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dagit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagit")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    env.update({"DAGSTER_HOME": str(home), "CHOKEPOINT_DATA_DIR": str(DATA), "CHOKEPOINT_SCENARIO": "default",
                "CHOKEPOINT_WAREHOUSE": str(tmp / "warehouse" / "chokepoint.duckdb")})
    port = _free_port()
    log = open(tmp / "dagster-dev.log", "w")
    dagster = Path(sys.executable).with_name("dagster")
    # A session of its own: dagster dev spawns a webserver, a daemon and code servers,
    # and the whole group is stopped by PID at the end.
    process = subprocess.Popen([str(dagster), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"dagster dev did not come up: {(tmp / 'dagster-dev.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, home, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_dagit_binds_to_loopback_only(dagit):
    url, _, _ = dagit
    assert url.startswith("http://127.0.0.1:")


def test_asset_graph_shows_every_group(dagit, browser):
    url, _, _ = dagit
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/asset-groups", wait_until="networkidle")
    page.goto(f"{url}/assets", wait_until="networkidle")
    page.goto(f"{url}/asset-groups/sources", wait_until="networkidle")
    for group in ("sources", "staging", "supply_graph", "chokepoints", "placements"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dagit_asset_graph.png"))
    page.close()


def test_materialise_from_the_ui_and_wait_for_success(dagit, browser, monkeypatch):
    import dagster as dg

    url, home, _ = dagit
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/assets/staging/src_reference_countries", wait_until="networkidle")
    page.get_by_text("as read", exact=False).first.wait_for(timeout=60_000)  # the asset's description
    page.locator("button").filter(has_text="Materialize").first.click()

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
        if runs and runs[0].status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                                       dg.DagsterRunStatus.CANCELED):
            status, run_id = runs[0].status, runs[0].run_id
            break
        time.sleep(1)
    assert status == dg.DagsterRunStatus.SUCCESS, f"run ended {status}"
    page.goto(f"{url}/runs/{run_id}", wait_until="networkidle")
    page.get_by_text("Success", exact=False).first.wait_for(timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dagit_run_success.png"))
    page.close()
