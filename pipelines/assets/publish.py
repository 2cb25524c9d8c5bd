"""Group ``publish``: link the run's build in as the published warehouse, with a ledger record.

The asset depends on every other asset, so it runs last, and blocking asset checks
stop it: a refresh whose checks fail leaves the published warehouse as it was. The
same asset publishes runs launched by ``chokepoint run``, Dagit or the schedule.
"""

import dagster as dg

from chokepoint.settings import keep_snapshots
from chokepoint.warehouse.store import discard_build, list_snapshots, publish_build
from pipelines.metadata import warehouse_tables

GROUP = "publish"
OWNERS = ["team:chokepoint"]
KEY = dg.AssetKey(["warehouse", "published"])


def published_warehouse(upstream: list[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    """The publishing asset, downstream of every asset in ``upstream``."""
    tables = warehouse_tables(upstream)

    @dg.asset(
        key=KEY,
        group_name=GROUP,
        deps=[key for assets_def in upstream for key in assets_def.keys],
        kinds={"duckdb"},
        owners=OWNERS,
        required_resource_keys={"io_manager", "settings"},
        dagster_type=dg.Nothing,  # a MaterializeResult: no table of its own
        description=(
            "The published DuckDB warehouse (`CHOKEPOINT_WAREHOUSE`). Runs after every asset and blocking check: "
            "checks the run's build holds every warehouse table, appends a hash-chained ledger record (sha256 of "
            "each input file, code version, scenario parameters, canonical sha256 of each table, previous record) "
            "and renames the build into `chokepoint.snapshots/` and switches the published link to it atomically; "
            "clients holding the previous snapshot keep it until they reconnect, and earlier snapshots are kept "
            "(`CHOKEPOINT_KEEP_SNAPSHOTS`, default 3; held ones longer). `chokepoint verify` recomputes the ledger, "
            "`chokepoint rollback` restores a snapshot. Materialise it with its upstream assets to publish."),
    )
    def published(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        io_manager = context.resources.io_manager
        build = getattr(io_manager, "build_path", None)
        if build is None:
            raise dg.Failure("the io_manager is not a pipelines.io.WarehouseIOManager, so there is no "
                             "build to publish")
        # The run's open connection to the build is closed (and checkpointed) first: the
        # publish reads the build afresh and renames it over the published file.
        io_manager.close_connection()
        settings = context.resources.settings
        overrides = {k: v for k, v in {"solver": settings.solver, "time_limit_s": settings.time_limit_s}.items() if v}
        record = publish_build(build, io_manager.published_path, run_id=context.run_id, overrides=overrides,
                               expected_tables=tables, keep=keep_snapshots())
        discard_build(build)  # the build file is now the published snapshot; drop its lock file
        carried = sorted(set(record["tables"]) - io_manager.written)
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(io_manager.published_path)),
            "ledger_seq": record["seq"],
            "ledger_hash": record["hash"],
            "tables": len(record["tables"]),
            "rows": sum(t["rows"] for t in record["tables"].values()),
            "tables_carried_forward": dg.MetadataValue.json(carried),
            "inputs": dg.MetadataValue.json(record["inputs"]),
            "snapshots_kept": len(list_snapshots(io_manager.published_path)),
        })

    return published
