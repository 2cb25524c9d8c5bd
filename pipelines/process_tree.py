"""Child processes that stop as a whole: ``chokepoint ui`` runs ``dagster dev``, which
starts a webserver, a daemon and code servers; stopping ``chokepoint ui`` must stop all
of them, whoever sends the signal (a terminal, a process manager, a test).

``dagster dev`` ignores SIGTERM and SIGINT when started from a non-interactive parent, so
signals are not forwarded and hoped for: the tree is started in a session of its own,
its members are found through ``/proc`` (descendants that start sessions of their own
included), asked to stop with SIGTERM, and killed after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["descendants", "stop_tree", "run_supervised"]


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, …), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, stack = [], list(children.get(pid, ()))
    while stack:
        p = stack.pop()
        found.append(p)
        stack.extend(children.get(p, ()))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; it only waits to be reaped
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_all(pids, sig) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def stop_tree(process: subprocess.Popen, *, grace: float = 10.0) -> list[int]:
    """Stop ``process`` and every descendant: SIGTERM, then SIGKILL after ``grace`` seconds.

    Returns the pids that were still alive when the call started (for logs and tests).
    """
    members = [process.pid, *descendants(process.pid)]
    _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()
        # New descendants may appear while the old ones shut down (a code server restarting).
        members = list(dict.fromkeys(members + descendants(process.pid)))
        if not any(_alive(p) for p in members):
            break
        time.sleep(0.2)
    members = list(dict.fromkeys(members + descendants(process.pid)))
    _signal_all([p for p in members if _alive(p)], signal.SIGKILL)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    return members


class _Stop(Exception):
    pass


def run_supervised(command: list[str], *, cwd: Path, env: dict[str, str], grace: float = 10.0) -> int:
    """Run ``command`` until it exits or this process gets SIGTERM, SIGINT or SIGHUP; in
    either case nothing it started is left running. Returns its exit status (or 128 + the
    signal number that stopped us)."""
    received: list[int] = []

    def on_signal(signum, _frame):
        received.append(signum)
        raise _Stop

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    try:
        return process.wait()
    except _Stop:
        return 128 + received[0]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_tree(process, grace=grace)
