"""Reading grid and element layer files safely (GeoJSON, GeoPackage, Shapefile/zip, KML/KMZ, CSV).

One entry point, :func:`read_layer`, for the CLI, the HTTP upload and notebooks; :func:`write_layer`
(from :mod:`store.files.layerwrite`) exports. Untrusted input is assumed: the size is checked before
anything is parsed; archives are unpacked by :mod:`store.files.archive` into a private temporary
directory; KML is pre-scanned by :mod:`store.files.kml` and GeoJSON by :mod:`store.files.geojson` (no DTDs, no
network; both also check coordinates, rings, strings and sizes feature by feature before GDAL
parses them); a GeoPackage's SQLite header and schema are checked (no views) and a shapefile's
shape and record counts must agree before GDAL opens them; the bytes must match the format the name
claims (so GDAL never opens a disguised VRT or other driver); features, vertices, attributes and
strings are bounded by :class:`Limits`. What GDAL returns is checked again before GEOS builds it
(rings closed with ≥ 4 positions, coordinates finite, no control characters). Every refusal is a
:mod:`store.files.errors` error naming the feature, field or limit, never a library's message
(those can hold SQL or server paths; they are logged). Geometries are kept as read (2D; invalid
ones are left for validation to report), reprojected to EPSG:4326 lon/lat.
"""

from __future__ import annotations

from store.db import load_gdal

load_gdal()  # isort: split  (refuses if SpatiaLite was loaded first; see store.db.load_gdal)

import logging
import re
import sqlite3
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
from shapely.errors import GEOSException

from geo.elements import ELEMENT_TYPES, Element
from geo.hierarchy import Grid
from store.files import filecrs
from store.files.archive import safe_extract
from store.files.checks import CONTROL, MAX_ABS_COORD, bad_feature, control_char
from store.files.columns import (
    GRID_COLUMNS,
    ColumnMapping,
    count,
    level_of,
    looks_like_elements,
    resolve_element_columns,
    resolve_grid_columns,
    text,
    texts,
)
from store.files.dbf import check_shapefile, shapefile_encoding, sidecar
from store.files.errors import AmbiguousLayer, BadValue, UnreadableFile, UnsupportedFormat
from store.files.geojson import check_geojson
from store.files.gpkg import check_geopackage
from store.files.kml import as_utf8, check_kml
from store.files.layerwrite import FORMATS, write_layer
from store.files.limits import Limits

__all__ = ["FORMATS", "ColumnMapping", "LayerData", "Limits", "list_layers", "read_layer", "write_layer"]

log = logging.getLogger("weiwang.files")
#: What GDAL, GEOS, SQLite or the OS may raise on a hostile file that slipped past the checks.
LIBRARY_ERRORS = (
    DataSourceError,
    DataLayerError,
    FieldError,
    GeometryError,
    GEOSException,
    sqlite3.Error,
    OSError,
    ValueError,
    RecursionError,
)

#: File suffix → the GDAL drivers allowed to open it.
DRIVERS: dict[str, tuple[str, ...]] = {
    ".geojson": ("GeoJSON",),
    ".json": ("GeoJSON",),
    ".gpkg": ("GPKG",),
    ".shp": ("ESRI Shapefile",),
    ".kml": ("LIBKML", "KML"),
    ".csv": ("CSV",),
}
ARCHIVES = (".zip", ".kmz")
#: Open options for CSV: geometry as WKT in a ``wkt`` column (as :func:`write_layer` writes it).
CSV_OPTIONS = {"GEOM_POSSIBLE_NAMES": "wkt,WKT,geometry", "KEEP_GEOM_COLUMNS": "NO"}
#: Fields every KML feature has from GDAL; not kept in ``Grid.extra``.
KML_BOILERPLATE = frozenset(
    (
        "id",
        "name",
        "description",
        "timestamp",
        "begin",
        "end",
        "altitudemode",
        "tessellate",
        "extrude",
        "visibility",
        "draworder",
        "icon",
        "snippet",
    )
)
PROGRESS_EVERY = 1000


@dataclass
class LayerData:
    """What a layer file held: grids or elements (one of the two is empty), in EPSG:4326."""

    grids: list[Grid]
    elements: list[Element]
    source_crs: str
    warnings: list[str]
    layer_name: str


def read_layer(
    path: str | Path,
    *,
    crs: str | None = None,
    mapping: ColumnMapping | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    layer: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LayerData:
    """Read grids (or elements) from a layer file.

    ``crs`` overrides the file's CRS (needed when it has none). ``layer`` names the layer of a
    multi-layer file, or the member of a zip holding several datasets (path or file name).
    ``progress(done, total)`` is called every ~1000 features and once at the end.
    A file whose ``type`` column holds element types (小区, 企业 …) and that has no level column is
    an elements layer. Raises the errors of :mod:`store.files.errors` (and ``geo.errors.UnknownCRS``).
    """
    p = Path(path)
    _check_local_file(p, limits)
    try:
        return _read_path(p, crs, mapping, limits, layer, progress)
    except LIBRARY_ERRORS as exc:
        raise _unreadable(p.name, exc) from exc


def list_layers(path: str | Path, limits: Limits = Limits()) -> list[str]:  # noqa: B008 - frozen
    """The layer names of a file, after the same format checks :func:`read_layer` makes first."""
    p = Path(path)
    _check_local_file(p, limits)
    try:
        if p.suffix.lower() == ".gpkg":
            return check_geopackage(p)
        return [str(row[0]) for row in pyogrio.list_layers(p)]
    except LIBRARY_ERRORS as exc:
        raise _unreadable(p.name, exc) from exc


def _unreadable(display: str, exc: BaseException) -> UnreadableFile:
    """An :class:`UnreadableFile` for a library failure: the library's words go to the log only."""
    log.info("cannot read %s: %s: %s", display, type(exc).__name__, str(exc)[:500])
    return UnreadableFile(
        f"无法读取文件：{display}（文件损坏或格式不符）",
        f"cannot read {display} (corrupt or not the format its name says)",
    )


def _read_path(
    p: Path,
    crs: str | None,
    mapping: ColumnMapping | None,
    limits: Limits,
    layer: str | None,
    progress: Callable[[int, int], None] | None,
) -> LayerData:
    suffix = p.suffix.lower()
    if suffix in ARCHIVES:
        with tempfile.TemporaryDirectory(prefix="weiwang-upload-") as tmp:
            members = safe_extract(p, Path(tmp), limits)
            inner, inner_layer = _pick_member(members, Path(tmp), layer, kmz=suffix == ".kmz")
            return _read_dataset(inner, crs, mapping, limits, inner_layer, progress, p.name)
    if suffix not in DRIVERS:
        raise _unsupported(p.name)
    return _read_dataset(p, crs, mapping, limits, layer, progress, p.name)


def _unsupported(name: str) -> UnsupportedFormat:
    return UnsupportedFormat(
        f"不支持的文件格式：{name}（支持 GeoJSON、GeoPackage、Shapefile 压缩包 .zip、KML/KMZ、CSV）",
        f"unsupported file format: {name} (GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV)",
    )


def _check_local_file(p: Path, limits: Limits) -> None:
    if str(p).startswith("/vsi") or "://" in str(p) or not p.is_file():
        raise UnreadableFile(f"文件不存在或不是普通文件：{p.name}", f"not a regular local file: {p}")
    size = p.stat().st_size
    if p.suffix.lower() == ".shp":  # a bare shapefile is the sum of its parts
        size += sum(s.stat().st_size for x in (".dbf", ".shx") if (s := sidecar(p, x)) is not None)
    limits.check("max_bytes", size, where=p.name)


def _pick_member(
    members: Sequence[Path], root: Path, layer: str | None, *, kmz: bool
) -> tuple[Path, str | None]:
    """The dataset inside an archive, and the layer name left to pass on (None if ``layer`` chose it)."""
    wanted = (".kml",) if kmz else tuple(DRIVERS)
    found = [
        m
        for m in members
        if m.suffix.lower() in wanted
        and not any(part.startswith(("__MACOSX", "._")) for part in m.relative_to(root).parts)
    ]
    if layer is not None:
        chosen = [m for m in found if layer in (m.relative_to(root).as_posix(), m.name, m.stem)]
        if len(chosen) == 1:
            return chosen[0], None
    if kmz and len(found) > 1:
        doc = [m for m in found if m.relative_to(root).as_posix().lower() == "doc.kml"]
        found = doc or found
    if len(found) == 1:
        return found[0], layer
    names = [m.relative_to(root).as_posix() for m in found]
    if not names:
        raise UnsupportedFormat(
            "压缩包中没有可读取的图层文件（.shp/.gpkg/.geojson/.kml/.csv）",
            "no layer file (.shp/.gpkg/.geojson/.kml/.csv) in the archive",
        )
    raise AmbiguousLayer(
        f"压缩包中有多个图层文件：{'、'.join(names)}；请用 layer 指定其一",
        f"several layer files in the archive: {', '.join(names)}; choose one with layer=",
        field="layer",
        detail={"choices": names},
    )


def _sniff(p: Path, limits: Limits, scratch: Path) -> Path:
    """Check the first bytes match the format the suffix claims (GDAL would trust the content), run
    the format's own pre-checks, and return the file GDAL is to read (a UTF-8 copy for a GBK KML)."""
    with open(p, "rb") as fh:
        head = fh.read(1024)
    suffix = p.suffix.lower()
    lead = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    ok = {
        ".geojson": lead.startswith(b"{"),
        ".json": lead.startswith(b"{"),
        ".gpkg": head.startswith(b"SQLite format 3\x00"),
        ".shp": head[:4] == b"\x00\x00\x27\x0a",
        ".csv": b"\x00" not in head and not lead.startswith((b"<", b"{")),
        ".kml": True,  # check_kml parses it fully
    }[suffix]
    if not ok:
        raise UnsupportedFormat(
            f"文件内容与扩展名不符：{p.name}", f"file content does not match its extension: {p.name}"
        )
    if suffix == ".kml":
        p = as_utf8(p, scratch)
        check_kml(p, limits)
    elif suffix in (".geojson", ".json"):
        check_geojson(p, limits)
    elif suffix == ".gpkg":
        check_geopackage(p)
    elif suffix == ".shp":
        check_shapefile(p)
    return p


def _csv_encoding(p: Path) -> str:
    """UTF-8 if the whole file decodes strictly (spreadsheets on Chinese Windows save GBK), else GB18030."""
    try:
        p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def _choose_layer(p: Path, layer: str | None, display: str) -> str:
    try:
        listed = pyogrio.list_layers(p)
    except (DataSourceError, DataLayerError) as exc:
        raise _unreadable(display, exc) from exc
    names = [str(row[0]) for row in listed]
    if layer is not None:
        if layer not in names:
            raise AmbiguousLayer(
                f"文件中没有图层 {layer}；可选：{'、'.join(names)}",
                f"no layer {layer!r}; layers: {', '.join(names)}",
                field="layer",
                detail={"choices": names},
            )
        return layer
    if len(names) == 1:
        return names[0]
    if not names:
        raise UnreadableFile(f"文件中没有图层：{p.name}", f"no layer in {p.name}")
    raise AmbiguousLayer(
        f"文件中有多个图层：{'、'.join(names)}；请用 layer 指定其一",
        f"several layers: {', '.join(names)}; choose one with layer=",
        field="layer",
        detail={"choices": names},
    )


def _read_dataset(
    p: Path,
    crs: str | None,
    mapping: ColumnMapping | None,
    limits: Limits,
    layer: str | None,
    progress: Callable[[int, int], None] | None,
    display: str,
) -> LayerData:
    with tempfile.TemporaryDirectory(prefix="weiwang-read-") as scratch:
        checked = _sniff(p, limits, Path(scratch))
        return _read_checked(checked, crs, mapping, limits, layer, progress, display)


def _read_checked(
    p: Path,
    crs: str | None,
    mapping: ColumnMapping | None,
    limits: Limits,
    layer: str | None,
    progress: Callable[[int, int], None] | None,
    display: str,
) -> LayerData:
    suffix = p.suffix.lower()
    notes: list[str] = []
    opts: dict[str, str] = dict(CSV_OPTIONS) if suffix == ".csv" else {}
    encoding: str | None = None
    if suffix == ".shp":
        encoding, how = shapefile_encoding(p)
        if how != "cpg":
            notes.append(f"属性表编码按内容判断为 {encoding} / attribute encoding {how}: {encoding}")
    elif suffix == ".csv":
        encoding = _csv_encoding(p)
        if encoding != "UTF-8":
            notes.append(f"CSV 不是 UTF-8，按 {encoding} 读取 / CSV is not UTF-8: read as {encoding}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name = _choose_layer(p, layer, display)
        try:
            info = pyogrio.read_info(p, layer=name, encoding=encoding, **opts)
            if info["driver"] not in DRIVERS[suffix]:
                raise UnsupportedFormat(
                    f"文件内容与扩展名不符：{display}（{info['driver']}）",
                    f"{display} was opened by GDAL driver {info['driver']}, not {DRIVERS[suffix][0]}",
                )
            if info["features"] >= 0:
                limits.check("max_features", int(info["features"]), where=display)
            meta, _, wkb, columns = pyogrio.raw.read(
                p,
                layer=name,
                encoding=encoding,
                max_features=limits.max_features + 1,
                force_2d=True,
                datetime_as_string=True,
                **opts,
            )
        except (DataSourceError, DataLayerError, FieldError, GeometryError, UnicodeDecodeError) as exc:
            raise _unreadable(display, exc) from exc
    notes.extend(f"GDAL: {_clean(str(w.message))}" for w in caught)
    field_names = [str(f) for f in meta["fields"]]
    n_rows = len(wkb) if wkb is not None else (len(columns[0]) if columns else 0)
    limits.check("max_features", n_rows, where=display)
    codes = _codes(field_names, columns, mapping)
    _check_attributes(field_names, columns, limits, codes)
    geoms = _geometries(wkb, n_rows, codes) if wkb is not None else np.full(n_rows, None)
    _check_sizes(geoms, meta["fields"], columns, limits)
    _check_coords(geoms, codes)

    src, crs_notes = filecrs.choose(filecrs.from_file(meta["crs"]), crs, display)
    notes.extend(crs_notes)
    notes.extend(filecrs.check_degrees(geoms, src))
    geoms = filecrs.to_wgs84(geoms, src)
    _check_result_coords(geoms, notes)

    table = dict(zip(field_names, columns, strict=True))
    if looks_like_elements(field_names, table, mapping):
        elements = _elements(geoms, field_names, table, notes, progress)
        return LayerData([], elements, src.label, notes, name)
    skip = KML_BOILERPLATE if suffix == ".kml" else frozenset()
    grids = _grids(geoms, field_names, table, mapping, skip, progress)
    return LayerData(grids, [], src.label, notes, name)


_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s:'\"(),]+")


def _clean(message: str) -> str:
    """A library's message for a person: server paths removed, bounded."""
    return _PATH.sub("…", message)[:300]


def _codes(
    fields: Sequence[str], columns: Sequence[np.ndarray], mapping: ColumnMapping | None
) -> Callable[[int], str | None]:
    """The grid code of row ``i`` (for naming a feature in messages), or None."""
    wanted = [mapping.code] if mapping is not None and mapping.code else list(GRID_COLUMNS["code"])
    by_key = {f.strip().lower(): i for i, f in reversed(list(enumerate(fields)))}
    col = next((columns[by_key[w.lower()]] for w in wanted if w.lower() in by_key), None)

    def code(i: int) -> str | None:
        if col is None or i >= len(col):
            return None
        value = col[i]
        if isinstance(value, bytes | bool | np.bool_):
            return None
        shown = text(value)
        return shown[:50] if shown is not None and not control_char(shown) else None

    return code


def _check_attributes(
    fields: Sequence[str], columns: Sequence[np.ndarray], limits: Limits, code: Callable[[int], str | None]
) -> None:
    """Attribute columns bounded in number; strings free of control characters; bytes per feature bounded."""
    limits.check("max_properties", len(fields), where="图层属性列数 / attribute columns")
    for name in fields:
        if (bad := control_char(name)) is not None:
            raise BadValue(
                f"属性列名含控制字符 {bad}",
                f"an attribute column name holds the control character {bad}",
                field="fields",
            )
    sizes: np.ndarray | None = None
    for name, col in zip(fields, columns, strict=True):
        if col.dtype != object:
            continue
        lengths = np.zeros(len(col), dtype=np.int64)
        for i, value in enumerate(col):
            if isinstance(value, str):
                if CONTROL.search(value):
                    raise bad_feature(
                        i + 1,
                        code(i),
                        f"“{name[:50]}”含控制字符 {control_char(value)}",
                        f"{name[:50]!r} holds the control character {control_char(value)}",
                        field=name[:50],
                    )
                lengths[i] = len(value.encode("utf-8", "surrogatepass"))
            elif isinstance(value, bytes):
                lengths[i] = len(value)
        sizes = lengths if sizes is None else sizes + lengths
    if sizes is not None and sizes.size:
        worst = int(np.argmax(sizes))
        where = "第 {0} 个要素 / feature {0}".format(worst + 1)
        limits.check("max_property_bytes", int(sizes[worst]), where=where)


def _geometries(wkb: np.ndarray, n: int, code: Callable[[int], str | None]) -> np.ndarray:
    """WKB → 2D geometries; refuses (naming the feature) what GEOS cannot build and rings of < 4 positions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN coordinates: refused by _check_coords
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    failed = [i for i in range(n) if wkb[i] is not None and geoms[i] is None]
    if failed:
        i = failed[0]
        try:
            shapely.from_wkb(wkb[i])
            reason = ""
        except (GEOSException, ValueError) as exc:
            reason = str(exc)
        if "closed" in reason:
            zh, en = (
                "面的环未闭合（首尾坐标不同）",
                "a polygon ring is not closed (first and last positions differ)",
            )
        elif "0 or >1" in reason:
            zh, en = "线或环只有 1 个点", "a line or ring has a single position"
        else:
            zh, en = "几何数据损坏，无法读取", "the geometry is corrupt and cannot be read"
        raise bad_feature(i + 1, code(i), zh, en)
    geoms = shapely.force_2d(geoms)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    polygons = shapely.get_type_id(parts) == 3
    rings, ring_of = shapely.get_rings(parts[polygons], return_index=True)
    sizes = shapely.get_num_coordinates(rings)
    short = np.flatnonzero(sizes < 4)
    if short.size:
        i = int(part_of[polygons][ring_of[short[0]]])
        n_pos = int(sizes[short[0]])
        raise bad_feature(
            i + 1,
            code(i),
            f"面的环只有 {n_pos} 个点（至少 4 个，首尾相同）",
            f"a polygon ring has {n_pos} positions (at least 4, first equal to last)",
        )
    return geoms


def _check_coords(geoms: np.ndarray, code: Callable[[int], str | None]) -> None:
    """Every coordinate finite and within ±:data:`MAX_ABS_COORD`, before any reprojection."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    if not coords.size:
        return
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(coords).all(axis=1) | (np.abs(coords) > MAX_ABS_COORD).any(axis=1)
    hits = np.flatnonzero(bad)
    if hits.size:
        i = int(index[hits[0]])
        raise bad_feature(
            i + 1,
            code(i),
            "坐标非有限数或超出范围（绝对值应不超过 1e8）",
            "a coordinate is not a finite number within ±1e8",
        )


def _check_sizes(
    geoms: np.ndarray, fields: Sequence[str], columns: Sequence[np.ndarray], limits: Limits
) -> None:
    n_coords = shapely.get_num_coordinates(geoms)
    if n_coords.size:
        worst = int(np.argmax(n_coords))
        limits.check(
            "max_vertices_per_feature",
            int(n_coords[worst]),
            where=f"第 {worst + 1} 个要素 / feature {worst + 1}",
        )
        limits.check("max_vertices", int(n_coords.sum()))
    for field, col in zip(fields, columns, strict=True):
        if col.dtype != object:
            continue
        lengths = [len(v) for v in col if isinstance(v, str)]
        if lengths:
            limits.check("max_string_chars", max(lengths), where=f"字段 {field} / field {field}")


def _check_result_coords(geoms: np.ndarray, notes: list[str]) -> None:
    present = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if present.size == 0:
        return
    coords = shapely.get_coordinates(present)
    if not np.isfinite(coords).all():
        raise BadValue(
            "坐标无法转换为经纬度（结果非有限数）", "coordinates could not be reprojected (non-finite)"
        )
    x, y = coords[:, 0], coords[:, 1]
    if x.min() < 73 or x.max() > 136 or y.min() < 3 or y.max() > 54:
        notes.append(
            "部分坐标不在中国范围内，请核对坐标系 / some coordinates are outside China: check the CRS"
        )


def _tick(progress: Callable[[int, int], None] | None, i: int, total: int) -> None:
    if progress is not None and (i % PROGRESS_EVERY == 0 or i == total):
        progress(i, total)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return text(value) if isinstance(value, str | float) else value


def _grids(
    geoms: np.ndarray,
    fields: Sequence[str],
    table: Mapping[str, np.ndarray],
    mapping: ColumnMapping | None,
    skip: frozenset[str],
    progress: Callable[[int, int], None] | None,
) -> list[Grid]:
    cols = resolve_grid_columns(fields, mapping)
    used = {c for c in cols.values() if c is not None}
    extra_cols = [f for f in fields if f not in used and f.lower() not in skip]
    total = len(geoms)
    # Text columns converted once per column (:func:`texts`), not value by value.
    none: list[str | None] = [None] * total
    as_text = {
        key: texts(table[col]) if (col := cols[key]) is not None else none
        for key in ("code", "name", "parent", "community", "kind")
    }

    def get(key: str, i: int) -> Any:
        col = cols[key]
        return table[col][i] if col is not None else None

    out: list[Grid] = []
    for i, geom in enumerate(geoms):
        row = i + 1
        code = as_text["code"][i]
        if code is None:
            raise BadValue(
                f"第 {row} 行缺少网格编码",
                f"row {row}: empty grid code",
                field=cols["code"],
                detail={"row": row},
            )
        if geom is None or shapely.get_type_id(geom) not in (3, 6) or geom.is_empty:
            kind_found = "空" if geom is None or geom.is_empty else geom.geom_type
            raise BadValue(
                f"第 {row} 行（{code}）的几何不是面：{kind_found}",
                f"row {row} ({code}): geometry is not a (multi)polygon: {kind_found if geom else 'null'}",
                field="geometry",
                detail={"row": row, "code": code},
            )
        level, implied_kind = level_of(get("level", i), row=row, column=str(cols["level"]))
        hh_col = cols["households"]
        out.append(
            Grid(
                code=code,
                name=as_text["name"][i] or "",
                level=level,
                geometry=geom,
                parent_code=as_text["parent"][i],
                community_code=as_text["community"][i],
                kind=as_text["kind"][i] or implied_kind,
                households=count(get("households", i), row=row, column=hh_col) if hh_col else None,
                extra={f: v for f in extra_cols if (v := _plain(table[f][i])) is not None},
            )
        )
        _tick(progress, row, total)
    if total == 0:
        _tick(progress, 0, 0)
    return out


def _elements(
    geoms: np.ndarray,
    fields: Sequence[str],
    table: Mapping[str, np.ndarray],
    notes: list[str],
    progress: Callable[[int, int], None] | None,
) -> list[Element]:
    cols = resolve_element_columns(fields)
    total = len(geoms)

    def get(key: str, i: int) -> Any:
        col = cols[key]
        return table[col][i] if col is not None else None

    unknown: set[str] = set()
    out: list[Element] = []
    for i, geom in enumerate(geoms):
        row = i + 1
        if geom is None:
            raise BadValue(
                f"第 {row} 行要素没有几何",
                f"row {row}: element without geometry",
                field="geometry",
                detail={"row": row},
            )
        etype = text(get("type", i)) or ""
        if etype not in ELEMENT_TYPES:
            unknown.add(etype)
        hh_col = cols["households"]
        out.append(
            Element(
                id=text(get("id", i)) or str(row),
                type=etype,
                name=text(get("name", i)) or "",
                geometry=geom,
                households=(count(get("households", i), row=row, column=hh_col) or 0) if hh_col else 0,
                community_code=text(get("community_code", i)),
                micro_code=text(get("micro_code", i)),
            )
        )
        _tick(progress, row, total)
    if unknown:
        notes.append(f"未知的要素类型：{'、'.join(sorted(unknown))} / unknown element types")
    if cols["id"] is None:
        notes.append("没有 id 列，要素编号取行号 / no id column: ids are row numbers")
    return out
