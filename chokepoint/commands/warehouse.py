"""``chokepoint verify`` and ``chokepoint rollback``: the published warehouse's ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chokepoint.commands import CommandError

__all__ = ["register"]


def _published(args) -> Path:
    if getattr(args, "warehouse", None):
        return Path(args.warehouse).resolve()
    from chokepoint.paths import warehouse_path

    return warehouse_path()


def _describe(record: dict) -> str:
    scenario = (record.get("scenario") or {}).get("name", "?")
    extra = ""
    if record.get("kind") == "rollback":
        extra = f", restores #{record['restored']['seq']}"
    return (f"#{record['seq']} {record['hash'][:16]} {record['kind']}{extra}, scenario '{scenario}', "
            f"{record['published_at']}, run {str(record.get('run_id', ''))[:8]}")


def _verify(args) -> int:
    from chokepoint.warehouse import verify_warehouse

    published = _published(args)
    report = verify_warehouse(published, expect_head=args.expect_head, check_snapshots=not args.no_snapshots)
    if args.json:
        print(json.dumps({"warehouse": str(published), "ok": report.ok, "problems": report.problems,
                          "notes": report.notes, "records": report.records, "tables": report.tables,
                          "snapshots": report.snapshots,
                          "head": {k: report.head[k] for k in ("seq", "hash", "kind", "published_at")}
                          if report.head else None}, indent=2))
    else:
        print(f"warehouse: {published}")
        if report.head:
            print(f"ledger: {report.records} record(s); last {_describe(report.head)}")
            print(f"checked: {report.tables} tables against record #{report.head['seq']}, the scenario parameters, "
                  f"the hash chain, the ledger file, {report.snapshots} snapshot(s)")
        for problem in report.problems:
            print(f"MISMATCH: {problem}")
        for note in report.notes:
            print(f"note: {note}")
        if report.ok:
            print("OK: the published warehouse matches its ledger")
    if not report.ok:
        raise CommandError(f"{len(report.problems)} mismatch(es) between {published.name} and its ledger "
                           f"(first: {report.problems[0]})")
    return 0


def _rollback(args) -> int:
    from chokepoint.warehouse import ledger_head, list_snapshots, rollback

    published = _published(args)
    if args.list:
        head = ledger_head(published) if published.exists() else None
        print(f"published: {_describe(head) if head else '(no ledger)'}")
        snapshots = list_snapshots(published)
        if not snapshots:
            print("snapshots: none kept")
        for snapshot in reversed(snapshots):
            print(f"snapshot #{snapshot.seq} {snapshot.hash_prefix}  {snapshot.path}")
        return 0
    if not published.exists():
        raise CommandError(f"{published}: no published warehouse")
    record = rollback(published, to_seq=args.to, run_id=f"rollback-{os.getpid()}")
    print(f"rolled back: {published} now holds the tables of record #{record['restored']['seq']}")
    print(f"ledger: {_describe(record)}")
    return 0


def register(commands) -> None:
    verify = commands.add_parser(
        "verify", help="recompute the published warehouse's ledger and name any mismatch",
        description=("Recompute the canonical sha256 of every table, the hash chain, the scenario parameters and "
                     "the ledger file beside the warehouse, check each kept snapshot, and name every mismatch. "
                     "Exit status 1 if anything was altered."))
    verify.add_argument("--warehouse", help="DuckDB file (default: CHOKEPOINT_WAREHOUSE or data/warehouse/chokepoint.duckdb)")
    verify.add_argument("--expect-head", metavar="HASH",
                        help="the last record's hash (or a prefix) as kept elsewhere, e.g. quoted in a report")
    verify.add_argument("--no-snapshots", action="store_true", help="skip checking the kept snapshots")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)

    back = commands.add_parser(
        "rollback", help="publish the previous warehouse snapshot again (atomically, with a ledger record)",
        description=("Restore a kept snapshot of an earlier publish (default: the one before the current file) "
                     "after verifying it against the ledger. The current file becomes a snapshot too, so a "
                     "rollback can be undone by another rollback."))
    back.add_argument("--warehouse", help="DuckDB file (default: CHOKEPOINT_WAREHOUSE or data/warehouse/chokepoint.duckdb)")
    back.add_argument("--to", type=int, metavar="SEQ", help="ledger record number of the snapshot to restore")
    back.add_argument("--list", action="store_true", help="list the kept snapshots and exit")
    back.set_defaults(handler=_rollback)
