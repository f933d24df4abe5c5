"""Exporting a stored layer version to a file (GeoJSON, GeoPackage, zipped Shapefile, KML, CSV).

Reads one version (the published one unless a number is given) in one read transaction and hands
its grids and elements to :func:`store.files.layerfile.write_layer`. Codes, parents, names, levels,
kinds, households and geometry (exact WKB doubles) are exported; import → export → import keeps them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from store import db
from store.grids import load_elements, load_grids
from store.versions import Version, get_version


def export_version(
    engine: Engine,
    community_code: str,
    path: str | Path,
    fmt: str,
    *,
    number: int | None = None,
    with_elements: bool = True,
) -> tuple[Version, int]:
    """Write version ``number`` (None → published) of a community to ``path``; returns the version
    and the number of grids written. Raises ``geo.errors.NotFound`` for a missing version."""
    from store.files.layerfile import write_layer

    with db.read(engine) as conn:
        version = get_version(conn, community_code, number)
        grids = load_grids(conn, version.id)
        elements = load_elements(conn, version.id) if with_elements else []
    write_layer(grids, path, fmt, elements=elements)
    return version, len(grids)
