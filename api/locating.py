"""Locating points for the CLI and the HTTP API: convert CRS, locate, shape the answer.

One function per use, shared by ``weiwang locate`` and ``/api/v1/locate`` so both give the same
answer for the same point.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from geo.crs import parse_crs, to_wgs84, validate_lonlat
from geo.errors import InvalidCoordinates, WeiwangError
from geo.hierarchy import Hierarchy
from geo.locator import Locator

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
)


@lru_cache(maxsize=8)
def _file_locator(layer: str | None, snap_m: float) -> tuple[Locator, Hierarchy]:
    from api.sources import load_source

    h = load_source(layer).hierarchy
    return Locator.from_hierarchy(h, snap_tolerance_m=snap_m), h


def point_answer(locator: Locator, lon: float, lat: float, crs: str) -> dict[str, Any]:
    """Convert one point from ``crs`` to WGS84, check it, locate it: a JSON-ready dict."""
    spec = parse_crs(crs)
    validate_raw(lon, lat, spec)
    wlon, wlat = to_wgs84(lon, lat, spec)
    wlon, wlat = float(wlon), float(wlat)
    validate_lonlat(wlon, wlat)
    loc = locator.locate_one(wlon, wlat).to_dict()
    return {"input": {"lon": lon, "lat": lat, "crs": crs}, "wgs84": {"lon": wlon, "lat": wlat}, **loc}


def validate_raw(lon: float, lat: float, spec: Any) -> None:
    """Refuse non-finite input before any conversion; geographic input is range-checked too."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidCoordinates(
            "坐标必须是有限数值",
            "coordinates must be finite numbers",
            field="lon" if not np.isfinite(lon) else "lat",
        )
    if spec.is_geographic:
        validate_lonlat(lon, lat)


def locate_point(
    lon: float, lat: float, *, crs: str = "wgs84", layer: str | None = None, snap_m: float = 30.0
) -> dict[str, Any]:
    """Locate one point against a layer file (the sample data by default)."""
    locator, _ = _file_locator(layer, snap_m)
    return point_answer(locator, lon, lat, crs)


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


def locate_frame(locator: Locator, h: Hierarchy, lon: np.ndarray, lat: np.ndarray, crs: str) -> pd.DataFrame:
    """Locate arrays of raw coordinates; rows that cannot be located get an ``error`` text."""
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
    try:
        yield from pd.read_csv(
            path, chunksize=200_000, dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise WeiwangError(f"CSV 无法读取：{exc}", f"cannot read CSV: {exc}", field="in") from exc


def locate_csv(
    in_path: Path,
    out_path: Path,
    *,
    crs: str = "wgs84",
    layer: str | None = None,
    snap_m: float = 30.0,
    lon_col: str | None = None,
    lat_col: str | None = None,
    progress: bool = False,
) -> int:
    """Locate every row of a CSV and write it with the result columns added; returns rows written."""
    if not in_path.exists():
        raise WeiwangError(f"文件不存在：{in_path}", f"no such file: {in_path}", field="in")
    parse_crs(crs)
    locator, h = _file_locator(layer, snap_m)
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
                res = locate_frame(locator, h, lon, lat, crs)
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
