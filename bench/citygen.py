"""A SYNTHETIC city-scale micro-grid partition, for timing the locator only (not real boundaries).

``city_partition(n)`` returns ``n`` (approximately, exactly when ``n`` is a perfect square or the
lattice fits) irregular convex micro-grids tiling a square of ``side_km`` × ``side_km`` near Chengdu
(south-west corner 103.95 E, 30.40 N) in WGS84 lon/lat: the Voronoi diagram of a jittered lattice of
seeds, clipped to the square. Voronoi cells share their edges exactly (one diagram), so the layer is a
partition: no gap, no overlap (``shapely.coverage_is_valid`` holds). Codes are 18 digits, numbered
west → east, north → south by seed. Deterministic for a given ``(n, side_km, seed)``.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Polygon

SW_CORNER = (103.95, 30.40)
M_PER_DEG_LAT = 110_574.0


def m_per_deg_lon(lat: float) -> float:
    """Metres per degree of longitude at ``lat`` (spherical approximation, enough for a bench layer)."""
    return 111_320.0 * math.cos(math.radians(lat))


def city_partition(
    n: int = 50_000, *, side_km: float = 30.0, seed: int = 20240601
) -> tuple[list[str], list[Polygon]]:
    """``(codes, polygons)`` of a synthetic partition of about ``n`` micro-grids (see module doc)."""
    if n < 4:
        raise ValueError("n must be >= 4")
    rng = np.random.default_rng(seed)
    k = math.ceil(math.sqrt(n))
    rows = math.ceil(n / k)
    lon0, lat0 = SW_CORNER
    dlat = side_km * 1000.0 / M_PER_DEG_LAT
    dlon = side_km * 1000.0 / m_per_deg_lon(lat0 + dlat / 2)
    # Seeds on a jittered lattice (k columns × rows rows, the last row may be short) so sizes vary
    # but every cell keeps a plausible micro-grid size (30 km square / 50,000 ≈ 134 m cells).
    jj, ii = np.meshgrid(np.arange(k), np.arange(rows))
    jj = jj.ravel()[:n]
    ii = ii.ravel()[:n]
    fx = (jj + 0.5 + rng.uniform(-0.45, 0.45, n)) / k
    fy = (ii + 0.5 + rng.uniform(-0.45, 0.45, n)) / rows
    x = lon0 + fx * dlon
    y = lat0 + dlat - fy * dlat  # row 0 is the northernmost: codes run west → east, north → south
    box = shapely.box(lon0, lat0, lon0 + dlon, lat0 + dlat)
    seeds = shapely.multipoints(np.column_stack([x, y]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box))
    # Match cells to their seeds (voronoi_polygons does not keep the input order).
    tree = shapely.STRtree(cells)
    pt_idx, cell_idx = tree.query(shapely.points(x, y), predicate="within")
    order = np.empty(n, dtype=np.int64)
    order[pt_idx] = cell_idx
    clipped = shapely.intersection(cells[order], box)
    codes = [f"510116{900_000_000_000 + i:012d}" for i in range(n)]
    return codes, list(clipped)


def city_layer(
    n: int = 50_000, *, communities: int = 5, side_km: float = 30.0, seed: int = 20240601
) -> list[dict]:
    """A whole SYNTHETIC city as layer records (``code``, ``name``, ``level``, ``parent_code``,
    ``community_code``, ``households``, ``geometry``): the micro-grids of :func:`city_partition`
    grouped into ``communities`` vertical strips (社区), each cut into bands of general grids
    (一般网格) of at most 999 micro-grids; general and community outlines are the exact unions of
    their micro-grids, so the hierarchy nests and covers without gaps."""
    _codes, polys = city_partition(n, side_km=side_km, seed=seed)
    k = math.ceil(math.sqrt(n))
    i = np.arange(n)
    col, row = i % k, i // k
    com = col * communities // k
    rows_total = math.ceil(n / k)
    width = -(-k // communities)
    band = max(1, min(rows_total, 999 // width))  # rows per general grid
    gen = row // band
    rng = np.random.default_rng(seed + 1)
    households = rng.integers(30, 101, n)
    polys_arr = np.array(polys, dtype=object)
    out: list[dict] = []
    for c in range(communities):
        c_code = f"510116{901 + c:03d}001"
        mine = np.flatnonzero(com == c)
        gens = np.unique(gen[mine])
        c_geoms = []
        c_house = 0
        rows: list[dict] = []
        for gi, g in enumerate(gens):
            g_code = f"{c_code}{gi + 1:03d}"
            members = mine[gen[mine] == g]
            g_geom = shapely.coverage_union_all(polys_arr[members])
            c_geoms.append(g_geom)
            g_house = int(households[members].sum())
            c_house += g_house
            rows.append(
                {
                    "code": g_code,
                    "name": f"城{c + 1}社区第{gi + 1}网格",
                    "level": "general",
                    "parent_code": c_code,
                    "community_code": c_code,
                    "households": g_house,
                    "geometry": g_geom,
                }
            )
            for mi, m in enumerate(members):
                rows.append(
                    {
                        "code": f"{g_code}{mi + 1:03d}",
                        "name": f"城{c + 1}-{gi + 1}-{mi + 1}微网格",
                        "level": "micro",
                        "parent_code": g_code,
                        "community_code": c_code,
                        "households": int(households[m]),
                        "geometry": polys[m],
                    }
                )
        out.append(
            {
                "code": c_code,
                "name": f"城{c + 1}社区",
                "level": "community",
                "parent_code": None,
                "community_code": c_code,
                "households": c_house,
                "geometry": shapely.coverage_union_all(np.array(c_geoms, dtype=object)),
            }
        )
        out.extend(rows)
    return out


def write_city(path: str, n: int = 50_000, *, communities: int = 5) -> list[str]:
    """Write :func:`city_layer` to ``path`` (GeoJSON or GeoPackage by suffix); the community codes."""
    import geopandas as gpd

    recs = city_layer(n, communities=communities)
    gdf = gpd.GeoDataFrame(recs, geometry="geometry", crs="EPSG:4326")
    gdf.to_file(path, driver="GPKG" if str(path).endswith(".gpkg") else "GeoJSON", engine="pyogrio")
    return [r["code"] for r in recs if r["level"] == "community"]
