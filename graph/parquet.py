"""A supply network as Parquet node, edge and requirement tables, and back.

Three files in one folder:

``nodes.parquet``         node_id, name, kind, iso3, input_id, actor, capacity
``edges.parquet``         edge_id, src, dst, kind, input_id, capacity
``requirements.parquet``  node_id, input_id, coefficient

``capacity`` null means unbounded. Text columns are dictionary-encoded. The
vocabularies (countries, inputs, actors and each actor's member countries) travel in
the schema metadata of ``nodes.parquet`` under the key ``chokepoint``, so index order
survives a round trip; files written by other tools may omit it, and then the
vocabularies are the sorted distinct values found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.network import EDGE_KINDS, NODE_KINDS, SupplyNetwork

__all__ = ["network_to_arrow", "network_from_arrow", "write_network_parquet", "read_network_parquet", "FILES"]

FILES = {"nodes": "nodes.parquet", "edges": "edges.parquet", "requirements": "requirements.parquet"}
_META_KEY = b"chokepoint"


def _coded(codes: np.ndarray, vocabulary) -> pa.DictionaryArray:
    """Dictionary array with nulls where ``codes`` is negative."""
    codes = np.asarray(codes, dtype=np.int32)
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(vocabulary), type=pa.string()))


def _nullable_capacity(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=~np.isfinite(values), type=pa.float64())


def network_to_arrow(network: SupplyNetwork) -> dict[str, pa.Table]:
    """The network as three Arrow tables (see module docstring). O(N + E + R)."""
    meta = {"countries": list(network.countries), "inputs": list(network.inputs), "actors": list(network.actors),
            "actor_members": [[network.countries[m] for m in members] for members in network.actor_members]}
    names = network.node_names or tuple(str(i) for i in range(network.num_nodes))
    nodes = pa.table({
        "node_id": pa.array(np.arange(network.num_nodes, dtype=np.int64)),
        "name": pa.array(names, type=pa.string()),
        "kind": _coded(network.node_kind, NODE_KINDS),
        "iso3": _coded(network.node_country, network.countries),
        "input_id": _coded(network.node_input, network.inputs),
        "actor": _coded(network.node_actor, network.actors),
        "capacity": _nullable_capacity(network.node_capacity),
    }).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    edges = pa.table({
        "edge_id": pa.array(np.arange(network.num_edges, dtype=np.int64)),
        "src": pa.array(network.edge_src.astype(np.int64)),
        "dst": pa.array(network.edge_dst.astype(np.int64)),
        "kind": _coded(network.edge_kind, EDGE_KINDS),
        "input_id": _coded(network.edge_input, network.inputs),
        "capacity": _nullable_capacity(network.edge_capacity),
    })
    requirements = pa.table({
        "node_id": pa.array(network.req_node.astype(np.int64)),
        "input_id": _coded(network.req_input, network.inputs),
        "coefficient": pa.array(network.req_coefficient.astype(np.float64)),
    })
    return {"nodes": nodes, "edges": edges, "requirements": requirements}


def write_network_parquet(network: SupplyNetwork, folder) -> dict[str, Path]:
    """Write the three tables into ``folder`` (created if missing); return their paths.

    Each file is written to a temporary name and renamed, so a reader never sees a
    half-written table.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in network_to_arrow(network).items():
        path = folder / FILES[name]
        partial = path.with_name(f".{path.name}.partial")
        pq.write_table(table, partial, compression="zstd")
        partial.replace(path)
        paths[name] = path
    return paths


class _Where:
    """Names a table (file) in error messages."""

    def __init__(self, name: str, table: pa.Table):
        self.name, self.table = name, table

    def fail(self, message: str, row: int | None = None, column: str | None = None):
        where = self.name + (f", row {row + 1}" if row is not None else "") + (f", column '{column}'" if column else "")
        raise ValueError(f"{where}: {message}")

    def column(self, column: str) -> pa.ChunkedArray:
        if column not in self.table.column_names:
            self.fail(f"missing column (has: {', '.join(self.table.column_names)})", column=column)
        return self.table.column(column)

    def integers(self, column: str, *, nullable: bool = False) -> np.ndarray:
        values = self.column(column)
        if not (pa.types.is_integer(values.type)):
            self.fail(f"expected integers, found {values.type}", column=column)
        if not nullable and values.null_count:
            self.fail("missing value", row=int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0]),
                      column=column)
        return values.to_numpy().astype(np.int64)

    def numbers(self, column: str, *, nullable: bool, positive: bool = False) -> np.ndarray:
        values = self.column(column)
        if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
            self.fail(f"expected numbers, found {values.type}", column=column)
        if not nullable and values.null_count:
            self.fail("missing value", row=int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0]),
                      column=column)
        array = pc.fill_null(values.cast(pa.float64()), np.inf).to_numpy()
        bad = np.isnan(array) | (array <= 0 if positive else array < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            self.fail(f"must be a {'positive' if positive else 'non-negative'} number, found {array[row]}",
                      row=row, column=column)
        return array

    def codes(self, column: str, vocabulary, *, nullable: bool) -> np.ndarray:
        """Indices of a text column's values in ``vocabulary`` (-1 for null)."""
        values = self.column(column)
        if pa.types.is_dictionary(values.type):
            values = values.cast(pa.string())
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            self.fail(f"expected text, found {values.type}", column=column)
        index = pc.index_in(values, value_set=pa.array(list(vocabulary), type=pa.string()))
        codes = pc.fill_null(index, -1).to_numpy().astype(np.int64)
        unknown = (codes < 0) & ~values.is_null().to_numpy(zero_copy_only=False)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            self.fail(f"unknown value '{values[row].as_py()}'", row=row, column=column)
        if not nullable and values.null_count:
            self.fail("missing value", row=int(np.flatnonzero(codes < 0)[0]), column=column)
        return codes


def _vocabulary(meta: dict, key: str, *columns: pa.ChunkedArray) -> tuple[str, ...]:
    if key in meta:
        return tuple(meta[key])
    found = set()
    for column in columns:
        found.update(v for v in pc.unique(column.cast(pa.string())).to_pylist() if v is not None)
    return tuple(sorted(found))


def network_from_arrow(nodes: pa.Table, edges: pa.Table, requirements: pa.Table, *,
                       names: tuple[str, str, str] = ("nodes", "edges", "requirements")) -> SupplyNetwork:
    """Rebuild a network from its three tables, validating every column.

    Raises
    ------
    ValueError
        Naming the table, the (1-based) row and the column of the first bad value:
        missing column, wrong type, missing value, unknown code, negative capacity,
        node ids not ``0 … N-1`` in order, edge endpoints out of range.
    """
    wn, we, wr = _Where(names[0], nodes), _Where(names[1], edges), _Where(names[2], requirements)
    raw_meta = (nodes.schema.metadata or {}).get(_META_KEY)
    meta = json.loads(raw_meta) if raw_meta else {}
    countries = _vocabulary(meta, "countries", wn.column("iso3"))
    inputs = _vocabulary(meta, "inputs", wn.column("input_id"), we.column("input_id"), wr.column("input_id"))
    actors = _vocabulary(meta, "actors", wn.column("actor"))
    node_id = wn.integers("node_id")
    if not np.array_equal(node_id, np.arange(node_id.size)):
        wn.fail("node ids must be 0, 1, …, N-1 in row order",
                row=int(np.flatnonzero(node_id != np.arange(node_id.size))[0]), column="node_id")
    n = node_id.size
    src, dst = we.integers("src"), we.integers("dst")
    for column, values in (("src", src), ("dst", dst)):
        bad = (values < 0) | (values >= n)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            we.fail(f"node {values[row]} not in {names[0]} (0 … {n - 1})", row=row, column=column)
    req_node = wr.integers("node_id")
    bad = (req_node < 0) | (req_node >= n)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        wr.fail(f"node {req_node[row]} not in {names[0]} (0 … {n - 1})", row=row, column="node_id")
    members = tuple(tuple(countries.index(c) for c in group) for group in meta.get("actor_members", [[] for _ in actors]))
    network = SupplyNetwork(
        node_kind=wn.codes("kind", NODE_KINDS, nullable=False).astype(np.int8),
        node_country=wn.codes("iso3", countries, nullable=True).astype(np.int32),
        node_input=wn.codes("input_id", inputs, nullable=True).astype(np.int32),
        node_actor=wn.codes("actor", actors, nullable=True).astype(np.int32),
        node_capacity=wn.numbers("capacity", nullable=True),
        edge_src=src, edge_dst=dst,
        edge_input=we.codes("input_id", inputs, nullable=False).astype(np.int32),
        edge_capacity=we.numbers("capacity", nullable=True),
        edge_kind=we.codes("kind", EDGE_KINDS, nullable=False).astype(np.int8),
        req_node=req_node,
        req_input=wr.codes("input_id", inputs, nullable=False).astype(np.int32),
        req_coefficient=wr.numbers("coefficient", nullable=False, positive=True),
        countries=countries, inputs=inputs, actors=actors, actor_members=members,
        node_names=tuple(wn.column("name").cast(pa.string()).to_pylist()),
    )
    try:
        network.validate()
    except ValueError as error:
        raise ValueError(f"{names[1]}: {error}") from None
    return network


def read_network_parquet(folder) -> SupplyNetwork:
    """Read a network written by :func:`write_network_parquet` (or by another tool in
    the same layout); errors name the file, row and column."""
    folder = Path(folder)
    tables = {}
    for name, file in FILES.items():
        path = folder / file
        if not path.is_file():
            raise ValueError(f"{path}: missing (a network folder holds {', '.join(FILES.values())})")
        try:
            tables[name] = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise ValueError(f"{path}: not a readable Parquet file ({error})") from None
    return network_from_arrow(tables["nodes"], tables["edges"], tables["requirements"],
                              names=tuple(str(folder / FILES[k]) for k in ("nodes", "edges", "requirements")))
