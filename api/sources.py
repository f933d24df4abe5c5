"""Where the CLI's grids come from: a layer file or folder (the sample data by default).

A folder is read as the sample layout of ``data/boundaries/``: ``grids.geojson``, and when present
``elements.geojson`` and ``people.csv``. A single file is read by :func:`store.layerfile.read_layer`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from geo.elements import Element
from geo.hierarchy import Hierarchy
from geo.roles import Post, Role

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "boundaries"


@dataclass
class Source:
    """A hierarchy with the elements and posts that came with it."""

    hierarchy: Hierarchy
    elements: list[Element] = field(default_factory=list)
    posts: list[Post] | None = None
    label: str = ""


def read_posts(path: Path) -> list[Post]:
    """Read a roster CSV (``person_id,name,phone,role,grid_code,...``; optional valid_from/valid_to)."""
    posts: list[Post] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            posts.append(
                Post(
                    person_id=row["person_id"],
                    name=row.get("name") or "",
                    role=Role(row["role"]),
                    grid_code=row["grid_code"],
                    phone=row.get("phone") or None,
                    valid_from=date.fromisoformat(row["valid_from"]) if row.get("valid_from") else None,
                    valid_to=date.fromisoformat(row["valid_to"]) if row.get("valid_to") else None,
                    note=row.get("note") or "",
                )
            )
    return posts


def load_source(path: str | Path | None = None, *, crs: str | None = None) -> Source:
    """Load grids (and elements, roster) from a layer file or a sample-layout folder."""
    from store.layerfile import read_layer

    p = Path(path) if path is not None else SAMPLE_DIR
    if p.is_dir():
        layer = read_layer(p / "grids.geojson", crs=crs)
        elements: list[Element] = list(layer.elements)
        if (p / "elements.geojson").exists():
            elements += read_layer(p / "elements.geojson", crs=crs).elements
        posts = read_posts(p / "people.csv") if (p / "people.csv").exists() else None
        return Source(Hierarchy(layer.grids), elements, posts, label=str(p))
    layer = read_layer(p, crs=crs)
    return Source(Hierarchy(layer.grids), list(layer.elements), None, label=str(p))
