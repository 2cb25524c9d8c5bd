"""Jobs and schedules."""

from __future__ import annotations

import dagster as dg

__all__ = ["main_job", "weekly_refresh"]

main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all(),
    description="Materialise every asset (sources → placements) and run every asset check.",
)

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh",
    job=main_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    description="Refresh everything on Mondays 03:00 UTC.",
)
