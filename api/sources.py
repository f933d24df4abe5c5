"""Where the CLI's grids come from: a layer file or folder (the sample data by default).

A folder is read as the sample layout of ``data/boundaries/`` (``grids.geojson``, and when present
``elements.geojson``, ``people.csv``) by :func:`store.seed.read_sample`; a single file by
:func:`store.layerfile.read_layer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from geo.elements import Element
from geo.errors import WeiwangError
from geo.hierarchy import Hierarchy
from geo.roles import Post

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "boundaries"


@dataclass
class Source:
    """A hierarchy with the elements and posts that came with it."""

    hierarchy: Hierarchy
    elements: list[Element] = field(default_factory=list)
    posts: list[Post] | None = None
    label: str = ""


def load_source(path: str | Path | None = None, *, crs: str | None = None) -> Source:
    """Load grids (and elements, roster) from a layer file or a sample-layout folder."""
    from store.layerfile import read_layer
    from store.seed import post_from_row, read_sample

    p = Path(path) if path is not None else SAMPLE_DIR
    if p.is_dir():
        if not (p / "grids.geojson").is_file():
            raise WeiwangError(
                f"目录中没有 grids.geojson：{p}", f"no grids.geojson in folder {p}", field="path"
            )
        sample = read_sample(p)
        posts = [post_from_row(r) for r in sample["people"]] if (p / "people.csv").exists() else None
        return Source(Hierarchy(sample["grids"]), list(sample["elements"]), posts, label=str(p))
    layer = read_layer(p, crs=crs)
    return Source(Hierarchy(layer.grids), list(layer.elements), None, label=str(p))
