"""Group ``publish``: link the run's build in as the published warehouse, with a ledger record.

The asset depends on every other asset, so it runs last, and blocking asset checks
stop it: a refresh whose checks fail leaves the published warehouse as it was. The
same asset publishes runs launched by ``chokepoint run``, Dagit or the schedule.
"""

import dagster as dg

from chokepoint.settings import keep_snapshots
from chokepoint.warehouse.store import discard_build, list_snapshots, publish_build

GROUP = "publish"
OWNERS = ["team:chokepoint"]
KEY = dg.AssetKey(["warehouse", "published"])


def _warehouse_tables(upstream) -> list[str]:
    """``schema.table`` of every upstream asset stored by the DuckDB IO manager."""
    tables = set()
    for assets_def in upstream:
        for key in assets_def.keys:
            output = assets_def.node_def.output_def_named(assets_def.get_output_name_for_asset_key(key))
            # Assets that return a MaterializeResult (views, reports) have a Nothing output: no table.
            if output.io_manager_key == "io_manager" and not output.dagster_type.is_nothing:
                tables.add(".".join(key.path))
    return sorted(tables)


def published_warehouse(upstream: list[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    """The publishing asset, downstream of every asset in ``upstream``."""
    tables = _warehouse_tables(upstream)

    @dg.asset(
        key=KEY,
        group_name=GROUP,
        deps=[key for assets_def in upstream for key in assets_def.keys],
        kinds={"duckdb"},
        owners=OWNERS,
        required_resource_keys={"io_manager", "settings"},
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
