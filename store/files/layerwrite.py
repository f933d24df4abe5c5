"""Writing grids (and elements) to layer files through GDAL (pyogrio), in EPSG:4326 lon/lat.

Formats (``fmt``): ``geojson``, ``gpkg``, ``shp`` (a .zip of .shp/.shx/.dbf/.prj/.cpg, UTF-8),
``kml`` (placemark name = grid name, other fields in ExtendedData), ``csv`` (attributes plus a
``wkt`` column, UTF-8 with BOM so spreadsheets show Chinese). Grid columns are
:data:`GRID_FIELDS`; shapefile names are at most 10 characters, so there ``parent_code`` is written
as ``parent`` and ``community_code`` as ``comm_code`` (:mod:`store.files.columns` maps them back on read).

Elements go into an ``elements`` layer of the same GeoPackage; for the single-layer formats they go
to a sibling file ``<stem>_elements<suffix>`` (a shapefile zip holds one shapefile per geometry
family, ``<stem>_elements_polygon``/``_line``/``_point``). In KML an element's ``id`` is written as
``element_id`` (placemarks have an ``id`` of their own). With no grids, elements go to ``path``.
The file appears at ``path`` only once complete (written beside it, then renamed).
"""

from __future__ import annotations

from store.db import load_gdal

load_gdal()  # isort: split  (refuses if SpatiaLite was loaded first; see store.db.load_gdal)

import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely

from geo.elements import Element
from geo.hierarchy import Grid
from store.files.errors import BadValue, UnsupportedFormat

FORMATS = ("geojson", "gpkg", "shp", "kml", "csv")
GRID_FIELDS = ("code", "name", "level", "kind", "parent_code", "community_code", "households")
ELEMENT_FIELDS = ("id", "type", "name", "households", "community_code", "micro_code")
#: Shapefile field names (≤ 10 characters) for the longer column names.
SHP_NAMES = {"parent_code": "parent", "community_code": "comm_code"}
#: KML placemarks have their own ``id``: an element's id is written as ``element_id``.
KML_NAMES = {"id": "element_id"}
_SUFFIX = {"geojson": ".geojson", "gpkg": ".gpkg", "shp": ".zip", "kml": ".kml", "csv": ".csv"}
_DRIVER = {"geojson": "GeoJSON", "gpkg": "GPKG", "shp": "ESRI Shapefile", "kml": "KML", "csv": "CSV"}
_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
}
_FAMILY = {0: "point", 4: "point", 1: "line", 2: "line", 5: "line", 3: "polygon", 6: "polygon"}
_SHP_TYPE = {"point": "Point", "line": "LineString", "polygon": "Polygon"}
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")

Table = dict[str, list[Any]]


def _grid_table(grids: Sequence[Grid]) -> Table:
    return {
        "code": [g.code for g in grids],
        "name": [g.name for g in grids],
        "level": [g.level.value for g in grids],
        "kind": [g.kind for g in grids],
        "parent_code": [g.parent_code for g in grids],
        "community_code": [g.community_code for g in grids],
        "households": [g.households for g in grids],
    }


def _element_table(elements: Sequence[Element]) -> Table:
    return {
        "id": [e.id for e in elements],
        "type": [e.type for e in elements],
        "name": [e.name for e in elements],
        "households": [e.households for e in elements],
        "community_code": [e.community_code for e in elements],
        "micro_code": [e.micro_code for e in elements],
    }


def _arrays(table: Table, rename: dict[str, str]) -> tuple[list[np.ndarray], list[str], list[Any]]:
    data: list[np.ndarray] = []
    masks: list[Any] = []
    for key, values in table.items():
        if key == "households":
            mask = np.array([v is None for v in values], dtype=bool)
            data.append(np.array([0 if v is None else int(v) for v in values], dtype=np.int64))
            masks.append(mask if mask.any() else None)
        else:
            data.append(np.array(values, dtype=object))
            masks.append(None)
    return data, [rename.get(k, k) for k in table], masks


def _geometry_type(geoms: np.ndarray) -> str:
    ids = set(shapely.get_type_id(geoms).tolist()) - {-1}
    return _TYPE_NAMES.get(ids.pop(), "Unknown") if len(ids) == 1 else "Unknown"


def _write(
    path: Path, fmt: str, layer: str, geoms: np.ndarray, table: Table, *, geometry_type: str | None = None
) -> None:
    """One layer with GDAL; CSV carries geometry as a ``wkt`` text column."""
    geoms = shapely.force_2d(geoms)
    rename = SHP_NAMES if fmt == "shp" else KML_NAMES if fmt == "kml" else {}
    dataset_options: dict[str, str] = {}
    layer_options: dict[str, str] = {}
    if fmt == "csv":
        table = {
            **table,
            "wkt": [shapely.to_wkt(g, rounding_precision=-1) if g is not None else None for g in geoms],
        }
        layer_options["WRITE_BOM"] = "YES"
    elif fmt == "kml":
        dataset_options["NameField"] = "name"
    data, names, masks = _arrays(table, rename)
    pyogrio.raw.write(
        path,
        None if fmt == "csv" else shapely.to_wkb(geoms),
        data,
        names,
        field_mask=masks,
        layer=layer,
        driver=_DRIVER[fmt],
        geometry_type=None if fmt == "csv" else (geometry_type or _geometry_type(geoms)),
        crs=None if fmt == "csv" else "EPSG:4326",
        encoding="UTF-8",
        dataset_options=dataset_options or None,
        layer_options=layer_options or None,
    )


def _write_shp_zip(zip_path: Path, work: Path, parts: Sequence[tuple[str, np.ndarray, Table, str]]) -> None:
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, geoms, table, gtype in parts:
            _write(work / f"{name}.shp", "shp", name, geoms, table, geometry_type=gtype)
            for suffix in _SHP_PARTS:
                part = work / f"{name}{suffix}"
                if part.exists():
                    zf.write(part, arcname=part.name)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".shp.zip", *_SUFFIX.values()):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "layer"
    return path.stem or "layer"


def _element_parts(stem: str, elements: Sequence[Element]) -> list[tuple[str, np.ndarray, Table, str]]:
    geoms = np.array([e.geometry for e in elements], dtype=object)
    ids = shapely.get_type_id(geoms)
    bad = [e.id for e, t in zip(elements, ids, strict=True) if int(t) not in _FAMILY]
    if bad:
        raise BadValue(
            f"Shapefile 不能保存这些要素的几何类型：{'、'.join(bad[:10])}",
            f"shapefile cannot hold the geometry of elements {', '.join(bad[:10])}",
            field="geometry",
        )
    parts = []
    for family in ("polygon", "line", "point"):
        idx = [i for i, t in enumerate(ids) if _FAMILY[int(t)] == family]
        if idx:
            chosen = [elements[i] for i in idx]
            part_geoms, gtype = geoms[idx], _SHP_TYPE[family]
            if family == "point" and (ids[idx] == 4).any():  # one shapefile type: all multipoints
                part_geoms = np.array(
                    [shapely.MultiPoint([g]) if g.geom_type == "Point" else g for g in part_geoms]
                )
                gtype = "MultiPoint"
            parts.append((f"{stem}_elements_{family}", part_geoms, _element_table(chosen), gtype))
    return parts


def write_layer(
    grids: Sequence[Grid], path: str | Path, fmt: str, *, elements: Sequence[Element] = ()
) -> None:
    """Write ``grids`` (and ``elements``) to ``path`` in format ``fmt`` (see the module docstring).

    An existing file at ``path`` is replaced. Raises :class:`UnsupportedFormat` for an unknown
    ``fmt`` and :class:`BadValue` for elements a shapefile cannot hold (geometry collections).
    """
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UnsupportedFormat(
            f"不支持的导出格式：{fmt}（可选 {'、'.join(FORMATS)}）",
            f"unsupported export format {fmt!r} (one of {', '.join(FORMATS)})",
            field="fmt",
        )
    target = Path(path)
    stem = _stem(target)
    grid_geoms = np.array([g.geometry for g in grids], dtype=object)
    elements_here = not grids and bool(elements)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".weiwang-export-") as tmp:
        work = Path(tmp)
        out = work / f"out{_SUFFIX[fmt]}"
        side = work / f"side{_SUFFIX[fmt]}"
        if fmt == "shp":
            if not elements_here:
                _write_shp_zip(out, work, [(stem, grid_geoms, _grid_table(grids), "Polygon")])
            if elements:
                _write_shp_zip(out if elements_here else side, work, _element_parts(stem, elements))
        elif fmt == "gpkg":
            if not elements_here:
                _write(out, fmt, "grids", grid_geoms, _grid_table(grids))
            if elements:
                e_geoms = np.array([e.geometry for e in elements], dtype=object)
                _write(out, fmt, "elements", e_geoms, _element_table(elements))
        else:
            if not elements_here:
                _write(out, fmt, "grids", grid_geoms, _grid_table(grids))
            if elements:
                e_geoms = np.array([e.geometry for e in elements], dtype=object)
                _write(out if elements_here else side, fmt, "elements", e_geoms, _element_table(elements))
        os.replace(out, target)
        if side.exists():
            os.replace(side, target.with_name(f"{stem}_elements{target.suffix or _SUFFIX[fmt]}"))
