"""Small CSV files written by the real-data reader tests."""

from __future__ import annotations

from chokepoint.inputs.real.rawcsv import read_raw_csv


def write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def read(path, **kwargs):
    return read_raw_csv(path, dataset="test", name=path.name, **kwargs)
