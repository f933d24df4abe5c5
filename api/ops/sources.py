"""Where the CLI's grids come from: a layer file or folder (the sample data by default).

A folder is read as the sample layout of ``data/boundaries/`` (``grids.geojson``, and when present
``elements.geojson``, ``people.csv``) by :func:`store.seed.read_sample`; a single file by
:func:`store.files.layerfile.read_layer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from geo.elements import Element
from geo.errors import WeiwangError
from geo.hierarchy import Hierarchy
from geo.roles import Post

if TYPE_CHECKING:
    from store.files.limits import Limits

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "data" / "boundaries"


@dataclass
class Source:
    """A hierarchy with the elements and posts that came with it."""

    hierarchy: Hierarchy
    elements: list[Element] = field(default_factory=list)
    posts: list[Post] | None = None
    label: str = ""
    #: True when the layer says it is synthetic (the sample data's ``"synthetic": true``).
    synthetic: bool = False


def load_source(
    path: str | Path | None = None, *, crs: str | None = None, limits: Limits | None = None
) -> Source:
    """Load grids (and elements, roster) from a layer file or a sample-layout folder; ``limits``
    bound a file's reading (defaults of :class:`store.files.limits.Limits` when None)."""
    from store.files.layerfile import read_layer
    from store.seed import post_from_row, read_sample

    p = Path(path) if path is not None else SAMPLE_DIR
    if p.is_dir():
        if not (p / "grids.geojson").is_file():
            raise WeiwangError(
                f"目录中没有 grids.geojson：{p}", f"no grids.geojson in folder {p}", field="path"
            )
        sample = read_sample(p)
        posts = [post_from_row(r) for r in sample["people"]] if (p / "people.csv").exists() else None
        return Source(Hierarchy(sample["grids"]), list(sample["elements"]), posts, str(p), _synthetic(p))
    layer = read_layer(p, crs=crs) if limits is None else read_layer(p, crs=crs, limits=limits)
    return Source(Hierarchy(layer.grids), list(layer.elements), None, label=str(p))


def _synthetic(folder: Path) -> bool:
    import json

    try:
        fc = json.loads((folder / "grids.geojson").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(fc.get("synthetic"))
