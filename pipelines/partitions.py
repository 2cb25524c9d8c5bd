"""Scenario partitions: every shipped scenario file is one partition of the deterrence group.

Partition keys are the scenario files' stems in ``<data dir>/scenarios`` at load time;
the ``scenario`` column of partitioned tables holds the key, so the DuckDB I/O manager
replaces exactly one scenario's rows per partition. The main job runs every partition in
one run (a single-run backfill of the whole key range), so a refresh keeps all scenarios
consistent with the same staged data.
"""

from __future__ import annotations

import dagster as dg

from chokepoint.settings import scenario_dir

__all__ = ["scenario_keys", "SCENARIO_PARTITIONS", "PARTITIONED_ASSET", "ALL_SCENARIOS_TAGS", "PARTITION_EXPR"]

#: Column of partitioned tables holding the partition key.
PARTITION_EXPR = {"partition_expr": "scenario"}


def scenario_keys() -> list[str]:
    """Stems of the scenario files, sorted (``default`` is always among them when shipped)."""
    return sorted(path.stem for path in scenario_dir().glob("*.toml"))


SCENARIO_PARTITIONS = dg.StaticPartitionsDefinition(scenario_keys() or ["default"])
#: Keyword arguments shared by the partitioned assets: all requested scenarios in one run.
PARTITIONED_ASSET = {"partitions_def": SCENARIO_PARTITIONS, "backfill_policy": dg.BackfillPolicy.single_run()}
#: Run tags selecting every scenario partition (first to last key) for one run.
ALL_SCENARIOS_TAGS = {"dagster/asset_partition_range_start": SCENARIO_PARTITIONS.get_partition_keys()[0],
                      "dagster/asset_partition_range_end": SCENARIO_PARTITIONS.get_partition_keys()[-1]}
