"""Sensors: refresh when the inbox changes; record failed runs in the warehouse."""

import json
import os
import time

import dagster as dg

from chokepoint import settings
from chokepoint.inputs.inbox import changed_files, scan_inbox
from chokepoint.warehouse.store import record_run_failure
from pipelines.jobs import main_job

__all__ = ["inbox_sensor", "record_failed_runs"]


@dg.sensor(
    job=main_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=("Watches the inbox (`CHOKEPOINT_INBOX`, default: the data folder) for new or changed input "
                 "files (.csv, .toml, .json) and refreshes everything. The first evaluation only records what is "
                 "there. Run key = sha256 of the inbox state, so one state triggers one run; the cursor keeps the "
                 "last state. Symbolic links and paths that leave the inbox are refused and reported, never read."),
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    root = settings.inbox_dir()
    if not root.is_dir():
        return dg.SkipReason(f"inbox {root} does not exist")
    state = scan_inbox(root)
    for relative, reason in state.rejected:
        context.log.warning(f"inbox: refused {relative}: {reason}")
    previous = json.loads(context.cursor) if context.cursor else None
    context.update_cursor(json.dumps(state.files, sort_keys=True))
    if previous is None:
        return dg.SkipReason(f"first look at {root}: {len(state.files)} input files recorded")
    changes = changed_files(previous, state.files)
    if not changes:
        return dg.SkipReason("no new or changed input files" +
                             (f"; {len(state.rejected)} refused" if state.rejected else ""))
    summary = ", ".join(f"{p} ({kind})" for p, kind in list(changes.items())[:10])
    return dg.RunRequest(run_key=state.fingerprint, tags={
        "chokepoint/trigger": "inbox", "chokepoint/changed_files": summary[:1000],
        "chokepoint/inbox_state": state.fingerprint})


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=("Records every failed run (run id, job, time, failed steps and the first error line) in "
                 "`ops.run_failures` of the published warehouse, by a copy-on-write publish with its own ledger "
                 "record, so readers never see a half-written file."),
)
def record_failed_runs(context: dg.RunFailureSensorContext):
    event = context.failure_event
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    message = (event.message or "").strip().splitlines()[0] if event.message else ""
    for step_event in context.get_step_failure_events():
        error = step_event.step_failure_data.error if step_event.step_failure_data else None
        while error is not None and getattr(error, "cause", None) is not None:
            error = error.cause
        if error is not None and error.message:
            message = error.message.strip().splitlines()[0]
            break
    record_run_failure(settings.warehouse_path(), {
        "run_id": context.dagster_run.run_id,
        "job": context.dagster_run.job_name,
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "failed_steps": ", ".join(steps),
        "message": message[:2000],
        "tags": json.dumps(dict(context.dagster_run.tags), sort_keys=True)[:2000],
        "recorded_by": f"pid {os.getpid()}",
    })


sensors = [inbox_sensor, record_failed_runs]
