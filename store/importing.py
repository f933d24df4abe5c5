"""Importing a grid layer as a new draft version (dry-run unless ``commit``), MapIt style.

:func:`import_layer` reads a file (``store.files.layerfile.read_layer``), :func:`import_grids` does the
rest for grids already in memory (the seed and tests use it directly):

1. keep the grids of one community (``--community``) and the elements of that community;
2. validate them (``geo.validate``) and summarise the findings;
3. with ``commit``: in **one** write transaction create the draft version (its validation summary
   and findings stored with it) and insert every grid and element. Any error, at any row, rolls the
   whole transaction back: the database is exactly as before. The published version is never
   touched; publishing is a separate step (:func:`store.versions.publish`).

Without ``commit`` nothing is written; the result says what would be imported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from geo.elements import Element
from geo.errors import InvalidHierarchy
from geo.hierarchy import Grid, Hierarchy, Level
from geo.validate import summarize
from geo.validate import validate as run_validate
from store import db
from store.dberrors import Conflict
from store.grids import insert_elements, insert_grids
from store.models import communities
from store.versions import Version, create_draft, ensure_community, list_versions

if TYPE_CHECKING:
    from store.files.limits import Limits

#: Findings stored with a draft (the summary always counts them all).
MAX_STORED_FINDINGS = 2000


@dataclass
class ImportResult:
    """What an import did (``committed``) or would do (dry run)."""

    community_code: str
    community_name: str
    community_kind: str
    grids_by_level: dict[str, int]
    elements: int
    source: str
    source_crs: str
    summary: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    committed: bool = False
    version_number: int | None = None
    version_id: int | None = None
    grids: list[Grid] = field(default_factory=list, repr=False)
    element_list: list[Element] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "community_code": self.community_code,
            "community_name": self.community_name,
            "grids_by_level": self.grids_by_level,
            "elements": self.elements,
            "source": self.source,
            "source_crs": self.source_crs,
            "validation": self.summary,
            "warnings": self.warnings,
            "committed": self.committed,
            "version_number": self.version_number,
        }


def _community_grids(grids: Sequence[Grid], community_code: str) -> list[Grid]:
    """Grids of one community: the community itself, grids naming it, or under its code prefix."""
    keep = [
        g
        for g in grids
        if g.code == community_code
        or g.community_code == community_code
        or (g.community_code is None and g.code.startswith(community_code))
    ]
    if not keep:
        raise InvalidHierarchy(
            f"文件中没有社区 {community_code} 的网格",
            f"the layer holds no grids of community {community_code}",
            field="community",
        )
    return keep


def _check_unique_codes(grids: Sequence[Grid]) -> None:
    dup = sorted(c for c, n in Counter(g.code for g in grids).items() if n > 1)
    if dup:
        raise Conflict(
            f"网格编码重复，无法导入：{'、'.join(dup[:10])}",
            f"duplicate grid codes, cannot import: {', '.join(dup[:10])}",
            field="code",
            detail={"codes": dup[:100]},
        )


def _check_unique_elements(elements: Sequence[Element]) -> None:
    dup = sorted(i for i, n in Counter(e.id for e in elements).items() if n > 1)
    if dup:
        raise Conflict(
            f"要素编号重复，无法导入：{'、'.join(dup[:10])}",
            f"duplicate element ids, cannot import: {', '.join(dup[:10])}",
            field="element_id",
            detail={"ids": dup[:100]},
        )


def prepare(
    grids: Sequence[Grid],
    community_code: str,
    *,
    elements: Sequence[Element] = (),
    source: str = "",
    source_crs: str = "EPSG:4326",
    warnings: Sequence[str] = (),
) -> ImportResult:
    """Select one community's grids and elements and validate them (no database).

    Raises :class:`InvalidHierarchy` when no grid belongs to the community and :class:`Conflict`
    for duplicate grid codes or element ids.
    """
    mine = _community_grids(grids, community_code)
    _check_unique_codes(mine)
    my_elements = [
        e
        for e in elements
        if e.community_code == community_code
        or (e.community_code is None and (e.micro_code or "").startswith(community_code))
    ]
    _check_unique_elements(my_elements)
    h = Hierarchy(mine)
    findings = run_validate(h, elements=my_elements)
    top = next((g for g in mine if g.code == community_code), None)
    return ImportResult(
        community_code=community_code,
        community_name=top.name if top else community_code,
        community_kind=(top.kind if top and top.kind else None) or "社区",
        grids_by_level={lv.value: len(h.level(lv)) for lv in Level},
        elements=len(my_elements),
        source=source,
        source_crs=source_crs,
        summary=summarize(findings),
        findings=[f.to_dict() for f in findings],
        warnings=list(warnings),
        grids=mine,
        element_list=my_elements,
    )


def write_draft(
    conn: Connection,
    prepared: ImportResult,
    *,
    author: str = "",
    note: str = "",
    progress: Callable[[int], None] | None = None,
) -> Version:
    """Store a prepared import as a new draft in the caller's transaction (creating the community
    row if it is new) and records the draft's id and number in ``prepared``."""
    code = prepared.community_code
    ensure_community(conn, code, prepared.community_name, prepared.community_kind)
    validation = {
        "summary": prepared.summary,
        "findings": prepared.findings[:MAX_STORED_FINDINGS],
        "warnings": prepared.warnings,
    }
    version = create_draft(
        conn,
        code,
        author=author,
        note=note,
        source=prepared.source,
        source_crs=prepared.source_crs,
        validation=validation,
    )
    insert_grids(conn, version.id, prepared.grids, community_code=code, progress=progress)
    insert_elements(conn, version.id, prepared.element_list, community_code=code, progress=progress)
    prepared.version_id = version.id
    prepared.version_number = version.number
    return version


def import_grids(
    engine: Engine,
    grids: Sequence[Grid],
    community_code: str,
    *,
    elements: Sequence[Element] = (),
    commit: bool = False,
    source: str = "",
    source_crs: str = "EPSG:4326",
    warnings: Sequence[str] = (),
    author: str = "",
    note: str = "",
    progress: Callable[[int], None] | None = None,
    drop_elements: bool = False,
) -> ImportResult:
    """:func:`prepare`, then with ``commit`` :func:`write_draft` in one write transaction.

    ``progress(n)`` is called as rows are written (n rows each time). A dry run only reads (to
    tell the version number the draft would get).

    A layer without elements keeps the governance elements of the community's previous version
    (published, else the newest), re-assigned to the micro-grids they fall in now, and says so in
    ``warnings``; those that no longer fall in one micro-grid are validation findings. Losing them
    takes ``drop_elements``.
    """
    if not elements and not drop_elements:
        elements, carried = _carry_elements(engine, grids, community_code)
        warnings = [*warnings, *carried]
    result = prepare(
        grids, community_code, elements=elements, source=source, source_crs=source_crs, warnings=warnings
    )
    if not commit:
        with db.read(engine) as conn:
            versions = list_versions(conn, community_code) if _community_exists(conn, community_code) else []
        result.version_number = (max(v.number for v in versions) + 1) if versions else 1
        return result
    with db.write(engine) as conn:
        write_draft(conn, result, author=author, note=note, progress=progress)
    result.committed = True
    return result


def _carry_elements(
    engine: Engine, grids: Sequence[Grid], community_code: str
) -> tuple[list[Element], list[str]]:
    """The previous version's elements re-assigned to ``grids`` and the warning saying so."""
    from dataclasses import replace

    from geo.redraw import assign_elements
    from store.grids import load_elements

    with db.read(engine) as conn:
        if not _community_exists(conn, community_code):
            return [], []
        versions = list_versions(conn, community_code)
        prev = next((v for v in versions if v.state == "published"), versions[-1] if versions else None)
        old = load_elements(conn, prev.id) if prev is not None else []
    if prev is None or not old:
        return [], []
    where = assign_elements(_community_grids(grids, community_code), old)
    carried = [replace(e, micro_code=where.get(e.id)) for e in old]
    moved = sum(1 for e, c in zip(old, carried, strict=True) if e.micro_code != c.micro_code)
    outside = sum(1 for e in carried if _outside(e))
    return carried, [
        f"文件未含治理要素：沿用第 {prev.number} 版的 {len(carried)} 个要素，已按新网格重新分配"
        f"（{moved} 个改变微网格，{outside} 个不在任何微网格内）；如需清空要素请明确指定"
        f" (no elements in the file: the {len(carried)} elements of version {prev.number} are kept, "
        f"re-assigned to the new micro-grids: {moved} moved, {outside} in none; dropping them needs "
        f"drop_elements)"
    ]


def _outside(e: Element) -> bool:
    """A non-linear element that fell in no micro-grid when re-assigned."""
    return not e.linear and e.micro_code is None


def _community_exists(conn: Connection, code: str) -> bool:
    return conn.execute(select(communities.c.code).where(communities.c.code == code)).first() is not None


def import_layer(
    engine: Engine,
    path: str | Path,
    community_code: str,
    *,
    commit: bool = False,
    crs: str | None = None,
    mapping: Any = None,
    layer: str | None = None,
    elements_path: str | Path | None = None,
    author: str = "",
    note: str = "",
    read_progress: Callable[[int, int], None] | None = None,
    write_progress: Callable[[int], None] | None = None,
    drop_elements: bool = False,
    limits: Limits | None = None,
) -> ImportResult:
    """Read a layer file (and optionally an elements file) and :func:`import_grids` it.

    A GeoPackage as written by ``weiwang export`` (layers ``grids`` and ``elements``) is read
    whole when no ``layer`` is named: grids from ``grids``, elements from ``elements``.
    ``limits`` bound what is read (the caller's settings; :class:`store.files.limits.Limits`
    defaults when None).
    """
    (result,) = import_layer_many(
        engine,
        path,
        [community_code],
        commit=commit,
        crs=crs,
        mapping=mapping,
        layer=layer,
        elements_path=elements_path,
        author=author,
        note=note,
        read_progress=read_progress,
        write_progress=write_progress,
        drop_elements=drop_elements,
        limits=limits,
    )
    return result


def import_layer_many(
    engine: Engine,
    path: str | Path,
    community_codes: Sequence[str] | None,
    *,
    commit: bool = False,
    crs: str | None = None,
    mapping: Any = None,
    layer: str | None = None,
    elements_path: str | Path | None = None,
    author: str = "",
    note: str = "",
    read_progress: Callable[[int, int], None] | None = None,
    write_progress: Callable[[int], None] | None = None,
    drop_elements: bool = False,
    limits: Limits | None = None,
) -> list[ImportResult]:
    """:func:`import_layer` for several communities of one file (a city), read once: one draft
    per community, each in its own transaction, in the order given (``None``: every community
    level grid of the file, by code). A community that fails stops the import; the drafts
    written before it stay (each is a draft, never published here)."""
    from store.files.layerfile import list_layers, read_layer
    from store.files.limits import Limits

    lim = limits if limits is not None else Limits()
    p = Path(path)
    elements_layer: str | None = None
    if layer is None and p.suffix.lower() == ".gpkg" and p.is_file():
        names = set(list_layers(p, lim))  # checks the GeoPackage before GDAL lists it
        if "grids" in names:
            layer = "grids"
            if "elements" in names and elements_path is None:
                elements_layer = "elements"
    kwargs: dict[str, Any] = {"crs": crs, "progress": read_progress, "layer": layer, "limits": lim}
    if mapping is not None:
        kwargs["mapping"] = mapping
    data = read_layer(p, **kwargs)
    elements = list(data.elements)
    warnings = list(data.warnings)
    if elements_layer is not None:
        extra = read_layer(p, crs=crs, layer=elements_layer, limits=lim)
        elements += extra.elements
        warnings += extra.warnings
    if elements_path is not None:
        extra = read_layer(elements_path, crs=crs, limits=lim)
        elements += extra.elements
        warnings += extra.warnings
    if community_codes is None:
        community_codes = sorted(g.code for g in data.grids if g.level is Level.COMMUNITY)
        if not community_codes:
            raise InvalidHierarchy(
                "文件中没有社区层级的网格（层级 community）",
                "the layer holds no community-level grid",
                field="community",
            )
    by_community = _by_community(data.grids, community_codes)
    return [
        import_grids(
            engine,
            by_community[code],
            code,
            elements=elements,
            commit=commit,
            source=p.name,
            source_crs=data.source_crs,
            warnings=warnings,
            author=author,
            note=note,
            progress=write_progress,
            drop_elements=drop_elements,
        )
        for code in community_codes
    ]


def _by_community(grids: Sequence[Grid], codes: Sequence[str]) -> dict[str, list[Grid]]:
    """The grids of each community of ``codes`` (as :func:`_community_grids`; one pass when there
    are several, so a city of many communities is not scanned once per community)."""
    if len(codes) == 1:
        return {codes[0]: list(grids)}
    wanted = set(codes)
    out: dict[str, list[Grid]] = {c: [] for c in codes}
    for g in grids:
        key = g.community_code if g.community_code in wanted else (g.code if g.code in wanted else None)
        if key is None and g.community_code is None:
            key = next((c for c in codes if g.code.startswith(c)), None)
        if key is not None:
            out[key].append(g)
    return out
