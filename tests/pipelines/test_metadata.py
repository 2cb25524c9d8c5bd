"""Materialisation metadata an analyst reads in Dagit: plots inline, tables previewed."""

from __future__ import annotations

import base64
import io
import re
import struct

import dagster as dg
import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG format requires to come first."""
    assert png[:8] == PNG_SIGNATURE, "not a PNG"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", png[16:24])


def materialization_metadata(result, key: list[str]) -> dict:
    events = [e for e in result.get_asset_materialization_events()
              if e.asset_key == dg.AssetKey(key)]
    assert len(events) == 1, f"{key}: {len(events)} materialisations"
    return events[0].materialization.metadata


def test_png_size_reads_the_header_and_rejects_other_bytes():
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(3, 2))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    plt.close(figure)
    assert png_size(buffer.getvalue()) == (150, 100)
    with pytest.raises(AssertionError):
        png_size(b"GIF89a" + bytes(30))


@pytest.mark.parametrize("key", [["analytics", "chokepoints"], ["analytics", "leverage_curve"]])
def test_materialisation_shows_a_plot_and_keeps_its_tables(materialized, key):
    metadata = materialization_metadata(materialized.result, key)
    plot = metadata["plot"]
    assert isinstance(plot, dg.MarkdownMetadataValue)
    found = DATA_URI.findall(plot.value)
    assert len(found) == 1, plot.value[:200]
    width, height = png_size(base64.b64decode(found[0], validate=True))
    assert width > 100 and height > 100
    # The plot comes on top of the row count and the Markdown preview, not instead of them.
    assert metadata["rows"].value > 0
    assert isinstance(metadata["preview"], dg.MarkdownMetadataValue) and metadata["preview"].value.startswith("| ")
