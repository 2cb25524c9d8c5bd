"""Jobs and schedules."""

import datetime

import dagster as dg

from chokepoint import settings
from chokepoint.errors import InputError
from chokepoint.inputs.source_check import check_inputs
from pipelines.partitions import ALL_SCENARIOS_TAGS

__all__ = ["main_job", "weekly_refresh", "check_sources_job", "daily_source_check", "with_freshness_policies",
           "FRESH_TABLES", "WEEKLY_FRESHNESS"]

#: Analyst-facing tables that must have been refreshed within 8 days (the weekly schedule
#: plus a day of slack; warn after 7). Dagster evaluates the policy between runs and shows
#: the state in the UI, without a sensor.
FRESH_TABLES = [("analytics", "chokepoints"), ("analytics", "capability"), ("analytics", "concentration"),
                ("analytics", "control_leverage")]
WEEKLY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=datetime.timedelta(days=8),
                                                  warn_window=datetime.timedelta(days=7))


def with_freshness_policies(assets: list) -> list:
    """Attach :data:`WEEKLY_FRESHNESS` to the specs of :data:`FRESH_TABLES` (other specs unchanged)."""
    keys = {dg.AssetKey(list(k)) for k in FRESH_TABLES}
    return list(dg.map_asset_specs(
        lambda spec: dg.apply_freshness_policy(spec, WEEKLY_FRESHNESS) if spec.key in keys else spec, assets))


main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all(),
    # Every scenario partition of the deterrence group in the same run, on the same staged data.
    tags=ALL_SCENARIOS_TAGS,
    description="Materialise every asset (sources → placements → publish) and run every asset check.",
)

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh",
    job=main_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    description="Refresh everything on Mondays 03:00 UTC.",
)


@dg.op(description="Read and validate the reference data, every scenario and (when present) the real data.",
       retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
       out=dg.Out(dg.Nothing))
def check_inputs_op(context: dg.OpExecutionContext) -> None:
    # Output is Nothing: the summary is metadata, so no I/O manager (the warehouse) is touched.
    try:
        summary = check_inputs(settings.data_dir(), data_mode=settings.data_mode(), mirror=settings.shared_data_dir(),
                               cache=settings.cache_dir())
    except InputError as error:
        # A bad file stays bad: the retries are for transient trouble (a disk, a mount), not for it.
        raise dg.Failure(description=str(error), allow_retries=False) from error
    context.log.info("inputs valid: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


@dg.job(description="Re-check every input file (validation and checksums) without running the analysis or "
                    "touching the warehouse; fails with the first problem, named by file, line and field.")
def check_sources_job():
    check_inputs_op()


daily_source_check = dg.ScheduleDefinition(
    name="daily_source_check",
    job=check_sources_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Re-check every input daily at 02:00 UTC.",
)
