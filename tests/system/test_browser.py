"""Dagit as a user starts it, in a real browser: headless Debian Chromium driven by Playwright.

``chokepoint ui --port P`` (the product command, which supervises ``dagster dev``:
webserver, daemon, code servers) is started with the environment a user has; the
tests check what actually listens (``/proc/net/tcp*``: the port on 127.0.0.1 only,
nothing of the tree on all interfaces), open the asset graph, launch a
materialisation from the UI and wait for the run to succeed (screenshots under
``tests/artifacts/``), and finally stop ``chokepoint ui`` with SIGTERM sent to it
alone: it must exit, leave no process it started alive, and free the port.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from chokepoint.settings import PROJECT_ROOT
from pipelines.process_tree import descendants
from tests.conftest import ARTIFACTS, CLI, DATA, clean_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
LISTEN = "0A"

#: Seconds for chokepoint ui to answer: it, the webserver, the daemon and a code server each load the
#: definitions, which takes minutes on a loaded 2-core machine.
STARTUP_S = 600

pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make test installs it)"),
              pytest.mark.timeout(STARTUP_S + 600)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp (one little-endian 32-bit word) or tcp6 (four of them)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_sockets() -> list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int, int]]:
    """(local address, port, socket inode) of every TCP socket in state LISTEN on this machine."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            address, port = fields[1].split(":")
            found.append((_address(address), int(port, 16), int(fields[9])))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` has open."""
    inodes = set()
    try:
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Dagit:
    process: subprocess.Popen
    port: int
    home: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)]


@pytest.fixture(scope="module")
def dagit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagit")
    home = tmp / "dagster_home"
    env = clean_env(DAGSTER_HOME=home, CHOKEPOINT_DATA_DIR=DATA, CHOKEPOINT_SCENARIO="default",
                    CHOKEPOINT_WAREHOUSE=tmp / "warehouse" / "chokepoint.duckdb", CHOKEPOINT_REPORTS=tmp / "reports",
                    CHOKEPOINT_DATA_MODE="reference")
    port = _free_port()
    log = tmp / "chokepoint-ui.log"
    with open(log, "w") as out:
        process = subprocess.Popen([*CLI, "ui", "--port", str(port)], cwd=PROJECT_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    started = Dagit(process, port, home, log)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            seen.update(started.tree())
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"chokepoint ui did not answer within {STARTUP_S} s "
                                         f"(exit status {process.poll()}): {log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield started
    finally:
        # Only if a test failed before stopping it: kill what this fixture started, by pid.
        for pid in [process.pid, *descendants(process.pid), *seen]:
            if _alive(pid) and pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_address_parsing_of_proc_net_tcp():
    assert _address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _address("00000000") == ipaddress.ip_address("0.0.0.0")
    assert _address("00000000000000000000000001000000") == ipaddress.ip_address("::1")
    assert _address("0000000000000000FFFF00000100007F") == ipaddress.ip_address("::ffff:127.0.0.1")


def test_dagit_listens_on_loopback_only(dagit):
    sockets = listening_sockets()
    on_port = [(address, inode) for address, port, inode in sockets if port == dagit.port]
    assert on_port, f"nothing listens on port {dagit.port}"
    assert {str(address) for address, _ in on_port} == {"127.0.0.1"}, on_port
    # The listener is the webserver that chokepoint ui started, not some other process.
    owned = set().union(*(socket_inodes(pid) for pid in dagit.tree()))
    assert {inode for _, inode in on_port} <= owned
    # No server of the tree (webserver, daemon, code servers) listens on every interface.
    wide = [(str(address), port) for address, port, inode in sockets
            if inode in owned and not address.is_loopback
            and not (address.version == 6 and address.ipv4_mapped and address.ipv4_mapped.is_loopback)]
    assert wide == [], f"listening beyond loopback: {wide}"


def test_asset_graph_shows_every_group(dagit, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{dagit.url}/asset-groups", wait_until="networkidle")
    page.goto(f"{dagit.url}/assets", wait_until="networkidle")
    page.goto(f"{dagit.url}/asset-groups/sources", wait_until="networkidle")
    for group in ("sources", "staging", "supply_graph", "chokepoints", "placements"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dagit_asset_graph.png"))
    page.close()


def test_materialise_from_the_ui_and_wait_for_success(dagit, browser, monkeypatch):
    import dagster as dg

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{dagit.url}/assets/staging/src_reference_countries", wait_until="networkidle")
    page.get_by_text("as read", exact=False).first.wait_for(timeout=60_000)  # the asset's description
    page.locator("button").filter(has_text="Materialize").first.click()

    monkeypatch.setenv("DAGSTER_HOME", str(dagit.home))
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
    page.goto(f"{dagit.url}/runs/{run_id}", wait_until="networkidle")
    page.get_by_text("Success", exact=False).first.wait_for(timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dagit_run_success.png"))
    page.close()


def test_sigterm_to_chokepoint_ui_stops_everything_it_started(dagit):
    """Last in this module: ``chokepoint ui`` gets SIGTERM (it alone, as from a process
    manager); it exits, no process it started is left, and the port refuses connections."""
    started = descendants(dagit.process.pid)
    assert started, "chokepoint ui started no processes"
    dagit.process.send_signal(signal.SIGTERM)
    try:
        status = dagit.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        raise AssertionError("chokepoint ui did not exit within 90 s of SIGTERM") from None
    assert status == 128 + signal.SIGTERM, f"exit status {status}"
    deadline = time.monotonic() + 30
    while [p for p in started if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [(p, (Path("/proc") / str(p) / "cmdline").read_bytes().replace(b"\0", b" ")[:120])
            for p in started if _alive(p)]
    assert left == [], f"left running after chokepoint ui exited: {left}"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", dagit.port), timeout=5).close()
