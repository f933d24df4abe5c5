"""Grid layers: import (upload) a draft, publish it, list versions, grids as GeoJSON, summaries.

Imports are dry runs unless ``commit`` (MapIt's ``--commit``); a refused or failing file leaves
every stored version untouched (:func:`store.importing.import_layer` is one transaction).
Publishing is one transaction too (:func:`store.versions.publish`); afterwards this process
reads the new version at once and other workers within ``version_poll_s``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.ops import jobs
from api.ops.service import Service
from api.ops.summary import summarize_grids
from geo.errors import NotFound
from store import db
from store.versions import Version

if TYPE_CHECKING:
    from store.importing import ImportResult

GRID_LEVELS = ("community", "general", "micro")


def import_file(
    service: Service, path: str | Path, community: str, *, commit: bool = False, **options: Any
) -> ImportResult:
    """Read a layer file and, with ``commit``, store it as a new draft (``options`` as
    :func:`store.importing.import_layer`: crs, mapping, layer, elements_path, author, note,
    progress callbacks; ``limits`` defaults to the settings' :meth:`~api.settings.Settings.layer_limits`)."""
    from store.importing import import_layer

    options.setdefault("limits", service.settings.layer_limits())
    result = import_layer(service.engine, path, community, commit=commit, **options)
    if commit:
        service.layers.refresh()
    return result


def import_many(
    service: Service, path: str | Path, communities: list[str] | None, *, commit: bool = False, **options: Any
) -> list[ImportResult]:
    """:func:`import_file` for several communities of one file (``None``: every community in it),
    read once, one draft each (:func:`store.importing.import_layer_many`)."""
    from store.importing import import_layer_many

    options.setdefault("limits", service.settings.layer_limits())
    results = import_layer_many(service.engine, path, communities, commit=commit, **options)
    if commit:
        service.layers.refresh()
    return results


def _import_in_child(
    url: str, path: str, community: str, commit: bool, options: dict[str, Any]
) -> ImportResult:
    """The job of :func:`import_file_job`, in a fresh process: its own engine (GDAL first)."""
    from store.importing import import_layer

    engine = db.make_engine(url)
    try:
        result = import_layer(engine, path, community, commit=commit, **options)
    finally:
        engine.dispose()
    result.grids, result.element_list = [], []  # the caller answers the summary; no need to ship them
    return result


async def import_file_job(
    service: Service, path: str | Path, community: str, *, commit: bool = False, **options: Any
) -> ImportResult:
    """:func:`import_file` in its own process under the job budget (``job_timeout_s``,
    ``job_memory_mb``; :mod:`api.ops.jobs`), without blocking the event loop. Over a limit the
    child is killed and :class:`~api.ops.jobs.JobLimitExceeded` names the limit; a killed import
    leaves the database as it was (one transaction). ``options`` must be picklable (no callbacks)."""
    url = service.engine.url.render_as_string(hide_password=False)
    options.setdefault("limits", service.settings.layer_limits())
    result = await jobs.run_async(
        _import_in_child,
        url,
        str(path),
        community,
        commit,
        options,
        budget=jobs.Budget.of(service.settings),
        field="file",
    )
    if commit:
        service.layers.refresh()
    return result


def upload_summary(result: ImportResult, max_findings: int = 200) -> dict[str, Any]:
    """What an upload answers: the import's summary with at most ``max_findings`` findings."""
    body = result.to_dict()
    body["findings"] = result.findings[:max_findings]
    return body


def publish(
    service: Service,
    community: str,
    number: int,
    *,
    force: bool = False,
    at: datetime | date | None = None,
    override_reason: str | None = None,
    by: str | None = None,
) -> Version:
    """Publish draft ``number``; the previous version retires at the same instant. Blocking
    findings refuse it unless ``override_reason`` is given (recorded with ``by``); open incidents
    not yet 处置中 are re-routed under the new map in the same transaction
    (:func:`api.ops.publishing.publish`, which also answers the incidents re-routed)."""
    from api.ops.publishing import publish as publish_draft

    return publish_draft(
        service, community, number, force=force, at=at, override_reason=override_reason, by=by
    ).version


def versions(service: Service, community: str) -> list[Version]:
    """Every version of the community, oldest first; NotFound for an unknown community."""
    from store.versions import list_versions

    with db.read(service.engine) as conn:
        found = list_versions(conn, community)
    if not found:
        raise NotFound(f"社区不存在：{community}", f"no community {community}", field="code")
    return found


def grids_geojson(
    service: Service, community: str, version: int | None = None, level: str | None = None
) -> dict[str, Any]:
    """The grids of a version (published by default) as a GeoJSON FeatureCollection in WGS84,
    with the version it came from."""
    from shapely.geometry import mapping

    view = service.layers.version(community, version)
    feats = [
        {
            "type": "Feature",
            "geometry": mapping(g.geometry),
            "properties": g.properties(),
        }
        for g in view.hierarchy
        if level is None or g.level.value == level
    ]
    return {"type": "FeatureCollection", "version": view.version.to_dict(), "features": feats}


def communities(service: Service) -> list[dict[str, Any]]:
    """Every community with a published version: counts per level, area, households, version."""
    try:
        view = service.layers.current()
    except NotFound:
        return []
    rows = summarize_grids(view.hierarchy)
    for r in rows:
        v = view.versions.get(r["community_code"])
        r["version"] = {"id": v.id, "number": v.number} if v else None
    return rows
