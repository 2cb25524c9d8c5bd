"""Assets by group, upstream to downstream: sources → staging → supply_graph →
chokepoints → placements."""
