"""``chokepoint verify`` and ``chokepoint rollback``: the published warehouse's ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chokepoint.settings import warehouse_path
from chokepoint.warehouse.store import ledger_head, list_snapshots, rollback as rollback_to, verify_warehouse
from pipelines.commands import CommandError

__all__ = ["verify", "rollback"]


def _published(args) -> Path:
    if getattr(args, "warehouse", None):
        return Path(os.path.abspath(args.warehouse))  # not resolve(): the path is a link to a snapshot
    return warehouse_path()


def _describe(record: dict) -> str:
    scenario = (record.get("scenario") or {}).get("name", "?")
    extra = ""
    if record.get("kind") == "rollback":
        extra = f", restores #{record['restored']['seq']}"
    return (f"#{record['seq']} {record['hash'][:16]} {record['kind']}{extra}, scenario '{scenario}', "
            f"{record['published_at']}, run {str(record.get('run_id', ''))[:8]}")


def verify(args) -> int:
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


def rollback(args) -> int:
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
    record = rollback_to(published, to_seq=args.to, run_id=f"rollback-{os.getpid()}")
    print(f"rolled back: {published} now holds the tables of record #{record['restored']['seq']}")
    print(f"ledger: {_describe(record)}")
    return 0
