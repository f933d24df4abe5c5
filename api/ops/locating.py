"""Locating points: convert the CRS (checked once, :func:`checked_wgs84`), locate in a
:class:`~store.inforce.LayerView`, shape the answer with the version that answered.

Shared by ``weiwang locate`` and ``/api/v1/locate`` (and intake), so every face gives the same
answer for the same point on the same version.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from api.ops.service import Service
from geo.crs import parse_crs, to_wgs84, validate_lonlat
from geo.errors import InvalidCoordinates, WeiwangError
from geo.hierarchy import Hierarchy
from store.inforce import LayerView, file_view

if TYPE_CHECKING:
    import pandas as pd

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
    loc = view.locator.locate_one(wlon, wlat).to_dict()
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


def locate_frame(view: LayerView, lon: np.ndarray, lat: np.ndarray, crs: str) -> pd.DataFrame:
    """Locate arrays of raw coordinates in ``view``; rows that cannot be located get an ``error``
    text, located rows the number of the layer version that answered (``layer_version``)."""
    import pandas as pd

    locator, h = view.locator, view.hierarchy
    spec = parse_crs(crs)
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    out = pd.DataFrame(index=range(len(lon)), columns=list(RESULT_COLUMNS), dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    ok = finite.copy()
    if spec.is_geographic:
        ok &= (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    wlon = np.full(len(lon), np.nan)
    wlat = np.full(len(lon), np.nan)
    if ok.any():
        wlon[ok], wlat[ok] = to_wgs84(lon[ok], lat[ok], spec)
    ok &= np.isfinite(wlon) & (np.abs(wlon) <= 180) & (np.abs(wlat) <= 90)
    out.loc[~finite, "error"] = "坐标不是有限数值 non-finite coordinate"
    out.loc[finite & ~ok, "error"] = "坐标超出范围 coordinate out of range"
    idx = np.flatnonzero(ok)
    if len(idx):
        res = locator.locate(wlon[idx], wlat[idx])
        micro = res.code
        names = {g.code: g.name for g in h}
        general = np.array([_parent(h, c) for c in micro], dtype=object)
        community = np.array(
            [_community(h, m, c) for m, c in zip(micro, res.community_code, strict=True)], dtype=object
        )
        out.loc[idx, "micro_code"] = micro
        out.loc[idx, "micro_name"] = [names.get(c) if c else None for c in micro]
        out.loc[idx, "general_code"] = general
        out.loc[idx, "general_name"] = [names.get(c) if c else None for c in general]
        out.loc[idx, "community_code"] = community
        out.loc[idx, "community_name"] = [names.get(c) if c else None for c in community]
        out.loc[idx, "on_boundary"] = res.on_boundary
        out.loc[idx, "snapped"] = res.snapped
        out.loc[idx, "distance_m"] = np.round(res.distance_m, 2)
        out.loc[idx, "wgs84_lon"] = np.round(wlon[idx], 8)
        out.loc[idx, "wgs84_lat"] = np.round(wlat[idx], 8)
        numbers = {c: v.number for c, v in view.versions.items()}
        out.loc[idx, "layer_version"] = [numbers.get(c) if c else None for c in community]
    return out


def _parent(h: Hierarchy, code: str | None) -> str | None:
    if not code or code not in h:
        return None
    return h.get(code).parent_code


def _community(h: Hierarchy, micro: str | None, fallback: str | None) -> str | None:
    if micro and micro in h:
        top = h.chain(micro)[-1]
        return top.code
    return fallback


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    import pandas as pd

    try:
        yield from pd.read_csv(
            path, chunksize=200_000, dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise WeiwangError(f"CSV 无法读取：{exc}", f"cannot read CSV: {exc}", field="in") from exc


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
    """Locate every row of a CSV in ``view`` and write it with the result columns added; returns
    rows written. The output appears whole or not at all (written to ``.part``, then renamed)."""
    import pandas as pd
    from tqdm import tqdm

    if not in_path.exists():
        raise WeiwangError(f"文件不存在：{in_path}", f"no such file: {in_path}", field="in")
    parse_crs(crs)
    with in_path.open("rb") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    bar = tqdm(total=total, unit="点", disable=not progress or total < 50_000, desc="定位 locating")
    written = 0
    tmp = out_path.with_suffix(out_path.suffix + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for chunk in _chunks(in_path):
                lc = _pick(list(chunk.columns), lon_col, LON_NAMES, "经度 longitude")
                la = _pick(list(chunk.columns), lat_col, LAT_NAMES, "纬度 latitude")
                lon = pd.to_numeric(chunk[lc], errors="coerce").to_numpy(dtype="float64")
                lat = pd.to_numeric(chunk[la], errors="coerce").to_numpy(dtype="float64")
                res = locate_frame(view, lon, lat, crs)
                res.index = chunk.index
                both = pd.concat([chunk, res], axis=1)
                both.to_csv(fh, index=False, header=written == 0, quoting=csv.QUOTE_MINIMAL)
                written += len(chunk)
                bar.update(len(chunk))
        tmp.replace(out_path)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return written


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
