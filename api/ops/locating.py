"""Locating points: convert the CRS (checked once, :func:`checked_wgs84`), locate in a
:class:`~store.inforce.LayerView`, shape the answer with the version that answered.

Shared by ``weiwang locate`` and ``/api/v1/locate`` (and intake), so every face gives the same
answer for the same point on the same version.
"""

from __future__ import annotations

import contextlib
import csv
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import shapely
from numpy.typing import ArrayLike, NDArray

from api.ops.service import Service
from geo.crs import CHINA_BBOX, parse_crs, to_wgs84, validate_lonlat
from geo.errors import InvalidCoordinates, WeiwangError
from geo.locator import Locator, PointLocation
from geo.onepoint import locate_one
from store.inforce import LayerView, file_view

if TYPE_CHECKING:  # pyarrow and pandas load in the bulk functions only: a one-point command starts fast
    import pandas as pd
    import pyarrow as pa

    from api.ops.access import User
    from store.files.errors import UnreadableFile

LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
RESULT_COLUMNS = (
    "micro_code",
    "micro_name",
    "general_code",
    "general_name",
    "community_code",
    "community_name",
    "on_boundary",
    "snapped",
    "distance_m",
    "wgs84_lon",
    "wgs84_lat",
    "error",
    "layer_version",
)


def checked_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """The one check of a raw point: finite, in range when geographic, converted from ``crs`` to
    WGS84 and in range there. Raises :class:`InvalidCoordinates` / ``UnknownCRS`` naming the field."""
    spec = parse_crs(crs)
    if spec.kind in ("wgs84", "cgcs2000") and type(lon) is float and type(lat) is float:
        b = CHINA_BBOX  # the common case, decided without arrays: what the checks below would pass
        if b[0] <= lon <= b[2] and b[1] <= lat <= b[3]:
            return lon, lat
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidCoordinates(
            "坐标必须是有限数值",
            "coordinates must be finite numbers",
            field="lon" if not np.isfinite(lon) else "lat",
        )
    if spec.is_geographic:
        validate_lonlat(lon, lat)
    wlon, wlat = to_wgs84(lon, lat, spec)
    wlon, wlat = float(wlon), float(wlat)
    validate_lonlat(wlon, wlat)
    return wlon, wlat


def point_answer(view: LayerView, lon: float, lat: float, crs: str) -> dict[str, Any]:
    """Convert one point from ``crs`` to WGS84, check it, locate it in ``view``: a JSON-ready dict
    ending with ``version``, the layer version (or file) that answered."""
    wlon, wlat = checked_wgs84(lon, lat, crs)
    loc = locate_one(view.locator, wlon, wlat).to_dict()
    ans = {"input": {"lon": lon, "lat": lat, "crs": crs}, "wgs84": {"lon": wlon, "lat": wlat}, **loc}
    ans["version"] = view.source(loc.get("community_code"))
    return ans


def file_layer(path: str | Path | None, snap_m: float) -> LayerView:
    """A layer file or sample-layout folder as a view (``weiwang locate --layer``)."""
    from api.ops.sources import load_source

    src = load_source(path)
    return file_view(src.hierarchy, src.label, snap_m=snap_m, elements=src.elements)


def locate_point(service: Service, lon: float, lat: float, crs: str = "wgs84") -> dict[str, Any]:
    """Locate one point on the published versions (what ``GET /api/v1/locate`` answers)."""
    return point_answer(service.layers.current(), lon, lat, crs)


#: JSON of the answer after ``wgs84`` (the location and ``version``) for points inside a grid, by
#: location, for the view last asked (:func:`point_json`): at most two per grid (on a boundary or
#: not), the same bytes for every point of the grid.
_TAILS: tuple[LayerView | None, dict[PointLocation, bytes]] = (None, {})
_TAILS_MAX = 200_000


def point_json(view: LayerView, lon: float, lat: float, crs: str) -> bytes:
    """:func:`point_answer` as JSON bytes (what ``GET /api/v1/locate`` sends), the same bytes as
    ``orjson.dumps(point_answer(...))``: the input and WGS84 point serialised per call, the rest of
    the answer of a point inside a grid reused from :data:`_TAILS`."""
    global _TAILS
    wlon, wlat = checked_wgs84(lon, lat, crs)
    loc = locate_one(view.locator, wlon, wlat)
    head = orjson.dumps({"input": {"lon": lon, "lat": lat, "crs": crs}, "wgs84": {"lon": wlon, "lat": wlat}})
    seen, tails = _TAILS
    if seen is not view:
        tails = {}
        _TAILS = (view, tails)
    tail = tails.get(loc)
    if tail is None:
        answer = {**loc.to_dict(), "version": view.source(loc.community_code)}
        tail = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
        if loc.distance_m == 0.0 and len(tails) < _TAILS_MAX:
            tails[loc] = tail
    return head[:-1] + b"," + tail[1:]


#: Tokens already verified for the hot GET: (secret, token) → (expiry, account row, the caller),
#: least recently used first. Bounded, so a stream of distinct tokens costs no more memory than this.
_VERIFIED: OrderedDict[tuple[str, str], tuple[float, Any, User]] = OrderedDict()
_VERIFIED_MAX = 1024
_VERIFIED_LOCK = threading.Lock()


@cache
def _access() -> Any:
    """``api.ops.access`` (imported on first use: it loads the incident store)."""
    from api.ops import access

    return access


def locate_caller(service: Service, token: str | None) -> User:
    """:func:`api.ops.access.authenticate` for ``GET /api/v1/locate``, without its HMAC on every
    request: a token verified once is remembered until it expires (at most :data:`_VERIFIED_MAX`
    tokens). The account is still checked on every call, as ``authenticate`` checks it (its row is
    cached for ``ACCOUNT_TTL_S``), so a disabled account is refused as soon as it is anywhere else."""
    access = _access()
    key = (service.settings.secret_key, token or "")
    hit = _VERIFIED.get(key)
    if hit is None or hit[0] <= time.time():
        user = access.authenticate(service, token)  # raises Unauthorized naming what is wrong
        assert token is not None
        expires = access.read_token(key[0], token).expires
        with _VERIFIED_LOCK:
            _VERIFIED[key] = (expires, access.account(service, user.id), user)
            while len(_VERIFIED) > _VERIFIED_MAX:
                _VERIFIED.popitem(last=False)
        return user
    with contextlib.suppress(KeyError):  # evicted meanwhile by another thread: still verified
        _VERIFIED.move_to_end(key)  # least recently used goes first
    row = access.account(service, hit[2].id)
    if row is hit[1]:  # the same cached row: the caller as built then
        return hit[2]
    if row is None or not row.active:
        raise access.Unauthorized("账号不存在或已停用", "account unknown or disabled")
    user = access.User(row.id, row.username, access.AppRole(row.app_role), row.person_id)
    with _VERIFIED_LOCK:
        _VERIFIED[key] = (hit[0], row, user)
    return user


def _pick(columns: list[str], wanted: str | None, names: tuple[str, ...], what: str) -> str:
    if wanted:
        if wanted not in columns:
            raise WeiwangError(f"CSV 中没有列 {wanted}", f"CSV has no column {wanted}", field=what)
        return wanted
    lower = {c.lower().strip(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    raise WeiwangError(
        f"CSV 中找不到{what}列（已有列：{', '.join(columns)}）",
        f"no {what} column in CSV (columns: {', '.join(columns)}); use --lon-col/--lat-col",
        field=what,
    )


def _in_china(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    b = CHINA_BBOX
    return (x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3])


@dataclass(frozen=True)
class _Labels:
    """What bulk answers gather by integer index, built once per locator: for each locator index
    (``Locator.codes`` order) the micro, parent and community labels, and the community tables."""

    micro_code: pa.Array
    micro_name: pa.Array
    general_code: pa.Array
    general_name: pa.Array
    community_of: NDArray[np.int32]  # locator index → community row (-1: none)
    community_code: pa.Array
    community_name: pa.Array
    community_version: pa.Array
    community_row: pd.Index  # community code → row


_LABELS: weakref.WeakKeyDictionary[Locator, _Labels] = weakref.WeakKeyDictionary()
_LABELS_LOCK = threading.Lock()


def _labels(view: LayerView) -> _Labels:
    """The gather tables of ``view`` (cached with its locator; a few µs per grid, once)."""
    import pandas as pd
    import pyarrow as pa

    loc = view.locator
    found = _LABELS.get(loc)
    if found is not None:
        return found
    h = view.hierarchy
    codes = list(loc.codes)
    known = [h.get(c) if c in h else None for c in codes]
    general = [g.parent_code if g is not None else None for g in known]
    top = [h.chain(c)[-1].code if g is not None else None for c, g in zip(codes, known, strict=True)]
    communities = sorted({c for c in top if c} | {c.code for c in h.communities})
    row = {c: i for i, c in enumerate(communities)}
    numbers = {c: v.number for c, v in view.versions.items()}

    def name(code: str | None) -> str | None:
        return h.get(code).name if code and code in h else None

    labels = _Labels(
        micro_code=pa.array(codes, pa.string()),
        micro_name=pa.array([g.name if g is not None else None for g in known], pa.string()),
        general_code=pa.array(general, pa.string()),
        general_name=pa.array([name(c) for c in general], pa.string()),
        community_of=np.array([row[c] if c else -1 for c in top], dtype=np.int32),
        community_code=pa.array(communities, pa.string()),
        community_name=pa.array([name(c) for c in communities], pa.string()),
        community_version=pa.array([numbers.get(c) for c in communities], pa.int64()),
        community_row=pd.Index(communities, dtype=object),
    )
    with _LABELS_LOCK:
        _LABELS[loc] = labels
    return labels


def _take(values: pa.Array, index: NDArray[np.integer]) -> pa.Array:
    """``values[index]``, null where ``index`` < 0 (one vectorised gather)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.take(values, pa.array(index, mask=index < 0))


#: Why a row was not located, by code (the ``error`` column).
ROW_ERRORS = (
    "坐标不是有限数值 non-finite coordinate",
    "坐标超出范围 coordinate out of range",
    "经纬度顺序似乎颠倒 lon/lat look swapped",
)
_NON_FINITE, _OUT_OF_RANGE, _SWAPPED = 0, 1, 2


def locate_table(view: LayerView, lon: ArrayLike, lat: ArrayLike, crs: str) -> pa.Table:
    """Locate arrays of raw coordinates in ``view``: one row per point with :data:`RESULT_COLUMNS`.

    Vectorised end to end: the locator answers indices into its grids, and every label (codes,
    names, parents, communities, ``layer_version``) is gathered by those indices. Rows that cannot
    be located (non-finite, out of range, swapped) carry an ``error`` text and nulls elsewhere.
    """
    import pyarrow as pa

    spec = parse_crs(crs)
    lon = np.asarray(lon, dtype="float64").reshape(-1)
    lat = np.asarray(lat, dtype="float64").reshape(-1)
    n = len(lon)
    err = np.full(n, -1, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(lon) & np.isfinite(lat)
        err[~finite] = _NON_FINITE
        ok = finite.copy()
        if spec.is_geographic:
            ok &= (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        wlon = np.full(n, np.nan)
        wlat = np.full(n, np.nan)
        if ok.any():
            wlon[ok], wlat[ok] = to_wgs84(lon[ok], lat[ok], spec)
        ok &= np.isfinite(wlon) & np.isfinite(wlat) & (np.abs(wlon) <= 180) & (np.abs(wlat) <= 90)
        err[finite & ~ok] = _OUT_OF_RANGE
        swapped = ok & ~_in_china(wlon, wlat) & _in_china(wlat, wlon)
    err[swapped] = _SWAPPED
    ok &= ~swapped
    labels = _labels(view)
    grid = np.full(n, -1, dtype=np.int32)
    community = np.full(n, -1, dtype=np.int32)
    on_boundary = np.zeros(n, dtype=bool)
    snapped = np.zeros(n, dtype=bool)
    distance = np.zeros(n, dtype=np.float64)
    rows = np.flatnonzero(ok)
    if len(rows):
        res = view.locator.locate(wlon[rows], wlat[rows])
        grid[rows] = res.index
        on_boundary[rows] = res.on_boundary
        snapped[rows] = res.snapped
        distance[rows] = np.round(res.distance_m, 2)
        com = np.where(res.index >= 0, labels.community_of[np.maximum(res.index, 0)], -1)
        miss = np.flatnonzero(com < 0)
        if len(miss):  # outside every grid: the community polygon covering the point, if any
            codes = res.community_code[miss]
            com[miss] = labels.community_row.get_indexer(codes)
        community[rows] = com
    bad = ~ok
    return pa.table(
        {
            "micro_code": _take(labels.micro_code, grid),
            "micro_name": _take(labels.micro_name, grid),
            "general_code": _take(labels.general_code, grid),
            "general_name": _take(labels.general_name, grid),
            "community_code": _take(labels.community_code, community),
            "community_name": _take(labels.community_name, community),
            "on_boundary": pa.array(on_boundary, mask=bad),
            "snapped": pa.array(snapped, mask=bad),
            "distance_m": pa.array(distance, mask=bad),
            "wgs84_lon": pa.array(np.round(wlon, 8), mask=bad),
            "wgs84_lat": pa.array(np.round(wlat, 8), mask=bad),
            "error": _take(pa.array(ROW_ERRORS, pa.string()), err),
            "layer_version": _take(labels.community_version, community),
        }
    )


def locate_frame(view: LayerView, lon: ArrayLike, lat: ArrayLike, crs: str) -> pd.DataFrame:
    """:func:`locate_table` as a pandas frame (None for missing labels, NaN for missing numbers)."""
    return locate_table(view, lon, lat, crs).to_pandas()


# -- files: CSV, Parquet, GeoPackage ----------------------------------------------------------------

#: File suffixes ``locate_file`` reads and writes.
FORMATS = (".csv", ".parquet", ".gpkg")
_BATCH_ROWS = 200_000
_GPKG_LAYER = "located"


def _format(path: Path, what: str) -> str:
    from store.files.errors import UnsupportedFormat  # loads pyogrio: only for files

    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UnsupportedFormat(
            f"不支持的文件类型：{path.name}（支持 {' / '.join(FORMATS)}）",
            f"unsupported file type: {path.name} (use {' / '.join(FORMATS)})",
            field=what,
        )
    return suffix


def _unreadable(path: Path, exc: Exception) -> UnreadableFile:
    from store.files.errors import UnreadableFile

    return UnreadableFile(
        f"文件无法读取：{path.name}：{str(exc)[:200]}",
        f"cannot read {path.name}: {str(exc)[:200]}",
        field="in",
    )


def _as_float(col: pa.ChunkedArray | pa.Array) -> NDArray[np.float64]:
    """A coordinate column as float64: numbers as they are, text parsed, anything else NaN."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    try:
        out = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
        return np.asarray(out.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some rows are not numbers: they get NaN
        text = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class _Source:
    """Batches of an input file, its point columns (or geometry), its CRS and a row estimate."""

    batches: Iterator[pa.RecordBatch]
    schema: pa.Schema
    rows: int
    geometry: str | None = None
    crs: str | None = None
    close: Callable[[], None] = lambda: None


def _open_csv(path: Path) -> _Source:
    """CSV: every column read as text (so ids keep their leading zeros), in blocks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise ValueError("empty file")
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=16 << 20),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
        )
    except (UnicodeDecodeError, ValueError, pa.ArrowInvalid, csv.Error) as exc:
        raise _unreadable(path, exc) from exc
    with path.open("rb") as fh:  # a row estimate for the progress bar: newlines, counted in C
        rows = max(sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b"")) - 1, 0)
    return _Source(iter(reader), reader.schema, rows, close=reader.close)


def _open_parquet(path: Path) -> _Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _unreadable(path, exc) from exc
    return _Source(
        pf.iter_batches(batch_size=_BATCH_ROWS), pf.schema_arrow, pf.metadata.num_rows, close=pf.close
    )


def _open_gpkg(path: Path) -> _Source:
    """GeoPackage: its first layer; the points are the geometry, in the layer's CRS."""
    from pyogrio import read_info
    from pyogrio.errors import DataSourceError
    from pyogrio.raw import open_arrow

    try:
        info = read_info(path)
        ctx = open_arrow(path, batch_size=_BATCH_ROWS, use_pyarrow=True)
        meta, reader = ctx.__enter__()
    except (DataSourceError, OSError) as exc:
        raise _unreadable(path, exc) from exc
    geom = meta.get("geometry_name") or None
    if geom and geom not in reader.schema.names:
        geom = "wkb_geometry" if "wkb_geometry" in reader.schema.names else None
    return _Source(
        iter(reader),
        reader.schema,
        int(info.get("features") or 0),
        geometry=geom,
        crs=meta.get("crs"),
        close=lambda: ctx.__exit__(None, None, None),
    )


def _points(src: _Source, batch: pa.RecordBatch, lon_col: str | None, lat_col: str | None) -> tuple:
    """Raw x, y of a batch: the geometry's, else the longitude and latitude columns."""
    if src.geometry is not None:
        geoms = shapely.from_wkb(
            batch.column(src.geometry).to_numpy(zero_copy_only=False), on_invalid="ignore"
        )
        point = shapely.get_type_id(geoms) == 0
        x = np.where(point, shapely.get_x(geoms), np.nan)
        y = np.where(point, shapely.get_y(geoms), np.nan)
        return x, y
    names = batch.schema.names
    lc = _pick(names, lon_col, LON_NAMES, "经度 longitude")
    la = _pick(names, lat_col, LAT_NAMES, "纬度 latitude")
    return _as_float(batch.column(lc)), _as_float(batch.column(la))


class _Sink:
    """Writes tables to a ``.part`` file in one format; :meth:`commit` renames it into place."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.path = path
        self.fmt = fmt
        self.tmp = path.with_name(f"{path.stem}.part{path.suffix}")  # GDAL picks drivers by suffix
        self.schema = schema
        self.discard()

    def write_all(self, tables: Iterator[pa.Table]) -> None:
        """Write every table; a GeoPackage in one stream (one transaction, its spatial index built
        once at the end: appending batch by batch updated the index row by row, ten times slower)."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if self.fmt == ".gpkg":
            self._write_gpkg(tables)
            return
        opened = pacsv.CSVWriter if self.fmt == ".csv" else pq.ParquetWriter
        with opened(str(self.tmp), self.schema) as writer:
            for table in tables:
                writer.write_table(table)

    def _write_gpkg(self, tables: Iterator[pa.Table]) -> None:
        import pyarrow as pa
        from pyogrio.raw import write_arrow

        failed: list[BaseException] = []
        schema = self.schema.append(pa.field("geometry", pa.binary()))

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for table in tables:
                    lon = np.asarray(table.column("wgs84_lon").to_numpy(zero_copy_only=False), dtype=float)
                    lat = np.asarray(table.column("wgs84_lat").to_numpy(zero_copy_only=False), dtype=float)
                    located = ~np.isnan(lon)
                    wkb = np.full(len(table), None, dtype=object)
                    wkb[located] = shapely.to_wkb(shapely.points(lon[located], lat[located]))
                    yield from table.append_column("geometry", pa.array(wkb, pa.binary())).to_batches()
            except BaseException as exc:  # re-raised below as itself, not as GDAL's report of it
                failed.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(schema, batches())
        try:
            write_arrow(
                reader,
                str(self.tmp),
                layer=_GPKG_LAYER,
                driver="GPKG",
                geometry_name="geometry",
                geometry_type="Point",
                crs="EPSG:4326",
            )
        except Exception:
            if failed:
                raise failed[0] from None
            raise

    def commit(self) -> None:
        self.tmp.replace(self.path)

    def discard(self) -> None:
        for p in (self.tmp, Path(f"{self.tmp}-wal"), Path(f"{self.tmp}-shm"), Path(f"{self.tmp}-journal")):
            p.unlink(missing_ok=True)


def locate_file(
    view: LayerView,
    in_path: Path,
    out_path: Path,
    *,
    crs: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    progress: bool = False,
) -> int:
    """Locate every row of a CSV, Parquet or GeoPackage file in ``view`` and write it, with
    :data:`RESULT_COLUMNS` added, as CSV, Parquet or GeoPackage (each chosen by the file suffix);
    returns the rows written.

    Streams in blocks of ~200,000 rows, each located and labelled by numpy/Arrow gathers (no
    per-row Python). CSV columns are read and written as text, unchanged. A GeoPackage's points are
    its geometry, in the layer's CRS unless ``crs`` names another one (GCJ-02 data is often labelled
    EPSG:4326); a GeoPackage written has the WGS84 point as geometry (none where not located). The
    output appears whole or not at all (written to ``<name>.part<suffix>``, then renamed)."""
    import pyarrow as pa
    from tqdm import tqdm

    in_fmt = _format(in_path, "in")
    out_fmt = _format(out_path, "out")
    if not in_path.is_file():
        raise WeiwangError(f"文件不存在：{in_path}", f"no such file: {in_path}", field="in")
    parse_crs(crs)
    src = {".csv": _open_csv, ".parquet": _open_parquet, ".gpkg": _open_gpkg}[in_fmt](in_path)
    point_crs = crs
    if src.geometry is not None and crs.strip().lower() in ("wgs84", "epsg:4326") and src.crs:
        point_crs = src.crs
    keep = [f for f in src.schema if f.name != src.geometry and f.name not in RESULT_COLUMNS]
    schema = pa.schema(keep + list(_result_schema()))
    bar = tqdm(total=src.rows, unit="点", disable=not progress or src.rows < 50_000, desc="定位 locating")
    written = 0

    def located() -> Iterator[pa.Table]:
        nonlocal written
        for batch in _batches(src, in_path):
            x, y = _points(src, batch, lon_col, lat_col)
            res = locate_table(view, x, y, point_crs)
            cols = [batch.column(f.name) for f in keep] + list(res.columns)
            yield pa.Table.from_arrays(cols, schema=schema)
            written += len(batch)
            bar.update(len(batch))

    sink = _Sink(out_path, out_fmt, schema)
    try:
        sink.write_all(located())
        sink.commit()
    finally:
        bar.close()
        src.close()
        sink.discard()
    return written


def _batches(src: _Source, path: Path) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    try:
        yield from src.batches
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        raise _unreadable(path, exc) from exc


@cache
def _result_schema() -> pa.Schema:
    """The Arrow types of :data:`RESULT_COLUMNS`."""
    import pyarrow as pa

    return pa.schema(
        [
            *[(c, pa.string()) for c in RESULT_COLUMNS[:6]],
            ("on_boundary", pa.bool_()),
            ("snapped", pa.bool_()),
            ("distance_m", pa.float64()),
            ("wgs84_lon", pa.float64()),
            ("wgs84_lat", pa.float64()),
            ("error", pa.string()),
            ("layer_version", pa.int64()),
        ]
    )


def locate_csv(
    view: LayerView,
    in_path: Path,
    out_path: Path,
    *,
    crs: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    progress: bool = False,
) -> int:
    """``weiwang locate --in/--out``: :func:`locate_file` (CSV, Parquet or GeoPackage by suffix)."""
    return locate_file(view, in_path, out_path, crs=crs, lon_col=lon_col, lat_col=lat_col, progress=progress)


def locate_batch(
    service: Service, lon: np.ndarray, lat: np.ndarray, crs: str, *, ids: list[str | None] | None = None
) -> list[dict[str, Any]]:
    """Locate many points on the published versions: one dict per point (``id`` echoed), with the
    ``version`` that answered; points that cannot be located carry an ``error`` text."""
    view = service.layers.current()
    frame = locate_frame(view, lon, lat, crs)
    items = []
    for i, rec in enumerate(frame.to_dict("records")):
        rec = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
        rec.pop("layer_version", None)
        rec["id"] = ids[i] if ids is not None else None
        rec["version"] = view.source(rec.get("community_code")) if rec.get("community_code") else None
        items.append(rec)
    return items
