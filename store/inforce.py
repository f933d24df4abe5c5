"""The grid layers in force: the one home of the rule "which version answers".

Like MapIt's current generation, one object, :class:`LayersInForce`, answers

* ``current(community)`` — the published version (all communities together when ``None``);
* ``at(community, when)`` — the version in force at an instant;
* ``version(community, n)`` — version ``n`` whatever its state (drafts too);

each as one :class:`LayerView`: hierarchy, locator, version number, state and its label,
``valid_from``/``valid_to``. Every face — the CLI, the HTTP API, the web maps and the printed
sheet — asks it, and every answer carries :meth:`LayerView.source` saying which version answered.

**The in-force rule** (written here only, in Python as :func:`in_force` and in SQL as
:func:`in_force_clause`): a version is in force at ``t`` when it has been published (state
``published`` or ``retired``) and ``valid_from <= t < valid_to`` (``valid_to`` open while
published). Validity is half-open, so at the instant of a publish the new version answers.
Times follow :mod:`geo.times` (a naive time is Beijing time).

**Reports during a publish** (enforced by :func:`check_located` with
:func:`store.versions.publish`): a report is located against the versions in force at its
instant — the moment the server received it (read once from the service clock at intake), or the
earlier ``reported_at`` a late report names — and is stored with exactly those versions, never a
mix. The in-memory table may lag a publish (other workers poll), so the check is made again in the
report's own write transaction against the committed table, under the shared switch lock
(:func:`store.versions.hold_switch`); a publish takes that lock exclusively and reads its
``valid_from`` from the clock only then. So a report written before the publish was received
before ``valid_from`` (its old version stays in force at its instant), and a report written after
sees the committed switch: located on a version not in force at its instant, it raises
:class:`LayersChanged` and intake locates it again (same instant, same id space) — none is lost.

Per process the object keeps the version table and the layers it built; it re-reads the table
when the cheap :func:`~store.versions.fingerprint` (ids of the published versions) changes,
checked at most every ``poll_s`` seconds, so a publish reaches every worker within about that.
Versions in force never change their grids, so built layers are kept (LRU) by version ids. A
draft's grids change with every operation and undo, in any process: :meth:`LayersInForce.version`
reads a draft's revision (:func:`store.drafts.draft_stamp`, one indexed query) on every call and
builds it again when it changed, so every face (maps, the planner, the HTTP API, OGC) shows the
draft as stored now, whichever worker changed it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, or_, select

from geo.elements import Element
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Hierarchy
from geo.times import as_instant
from store import db
from store.models import DRAFT, PUBLISHED, RETIRED, layer_versions
from store.versions import STATE_LABELS, Version, fingerprint, hold_switch, list_all_versions

if TYPE_CHECKING:
    from geo.locator import Locator

#: Built layers kept per process besides the current one (old versions for late reports, drafts).
KEEP_BUILT = 8


def in_force(v: Version, at: datetime | date | None) -> bool:
    """True when version ``v`` was in force at ``at`` (see the module docstring)."""
    t = as_instant(at)
    return (
        v.state in (PUBLISHED, RETIRED)
        and v.valid_from is not None
        and v.valid_from <= t
        and (v.valid_to is None or t < v.valid_to)
    )


def in_force_clause(at: datetime | date | None) -> Any:
    """:func:`in_force` as a SQL condition on ``layer_versions`` (for queries that join grids)."""
    t = as_instant(at)
    return and_(
        layer_versions.c.state.in_((PUBLISHED, RETIRED)),
        layer_versions.c.valid_from <= t,
        or_(layer_versions.c.valid_to.is_(None), layer_versions.c.valid_to > t),
    )


class LayersChanged(WeiwangError):
    """The versions a report was located against are not the ones in force at its instant in the
    committed version table (a publish committed meanwhile): locate it again (intake does)."""

    code = "conflict"


def in_force_ids(conn: Connection, at: datetime | date | None) -> frozenset[int]:
    """Ids of every version in force at ``at`` in the committed table (one per community)."""
    return frozenset(r[0] for r in conn.execute(select(layer_versions.c.id).where(in_force_clause(at))))


def check_located(
    conn: Connection, at: datetime | date | None, version_ids: Iterable[int], *, wait: bool = True
) -> None:
    """In a report's write transaction: hold the shared switch lock, then raise
    :class:`LayersChanged` unless ``version_ids`` (the versions of the view the report was located
    on) are exactly those in force at ``at`` (its instant). See the module docstring.

    ``wait=False`` (a caller on an event loop): :class:`store.db.WriterBusy` at once while a
    publish holds the switch lock on PostgreSQL, instead of blocking the loop until it commits."""
    if not hold_switch(conn, exclusive=False, wait=wait):
        raise db.WriterBusy("a publish holds the layer switch")
    _check_same(version_ids, in_force_ids(conn, at))


_lv = layer_versions.c
#: Built once (no parameters): the group commit's version read compiles nothing per batch.
PUBLISHED_VERSIONS = select(_lv.id, _lv.state, _lv.valid_from, _lv.valid_to).where(
    _lv.state.in_((PUBLISHED, RETIRED)), _lv.valid_from.is_not(None)
)


def check_located_many(
    conn: Connection, located: Sequence[tuple[datetime | date | None, Iterable[int]]]
) -> None:
    """:func:`check_located` for several reports written in one transaction (intake's group
    commit): the shared switch lock once (waiting: the caller is a writer thread, not an event
    loop), the committed table read once, and :func:`in_force` applied to it for each report's
    instant — the same rule as :func:`in_force_clause`. :class:`LayersChanged` for the first
    report located on other versions than those in force at its instant."""
    hold_switch(conn, exclusive=False, wait=True)
    check_versions(conn.execute(PUBLISHED_VERSIONS).all(), located)


def check_versions(
    rows: Sequence[Any], located: Sequence[tuple[datetime | date | None, Iterable[int]]]
) -> None:
    """The check of :func:`check_located_many` on ``rows`` already read (the published and retired
    versions, each with ``id``, ``state``, ``valid_from``, ``valid_to``): :class:`LayersChanged`
    for the first report located on other versions than those in force at its instant."""
    for at, version_ids in located:
        _check_same(version_ids, frozenset(r.id for r in rows if in_force(r, at)))


def _check_same(located_on: Iterable[int], found: frozenset[int]) -> None:
    """:class:`LayersChanged` unless a report located on ``located_on`` finds those versions in force."""
    want = frozenset(located_on)
    if found != want:
        raise LayersChanged(
            "网格版本刚刚切换，正在按上报时生效的版本重新定位",
            "the grid version switched meanwhile; locating again against the version in force at receipt",
            field="reported_at",
            detail={"located_on": sorted(want), "in_force": sorted(found)},
        )


@dataclass
class LayerView:
    """One answer of :class:`LayersInForce`: the grids of one version of one community, or of one
    version per community when ``community_code`` is None (for locating a point of unknown
    community). The locator and the elements are built on first use."""

    community_code: str | None
    versions: dict[str, Version]
    hierarchy: Hierarchy
    snap_m: float
    _load_elements: Callable[[tuple[int, ...]], list[Element]] | None = field(default=None, repr=False)
    #: Set when the grids came from a layer file instead of the store (``weiwang locate --layer``).
    file: str | None = None
    #: Where locators come from when not built here: ``(hierarchy, snap_m) → Locator``, e.g. the
    #: machine-wide memory-mapped ones of :class:`store.files.locatorfile.SharedLocators`.
    locators: Callable[[Hierarchy, float], Locator] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def locator(self) -> Locator:
        """The point locator over the view's micro-grids (built on first use, or shared)."""
        from geo.locator import Locator

        if self.locators is not None:
            return self.locators(self.hierarchy, self.snap_m)
        return Locator.from_hierarchy(self.hierarchy, snap_tolerance_m=self.snap_m)

    @cached_property
    def version_ids(self) -> tuple[int, ...]:
        """The ids of the view's versions, sorted: a key for what is derived from this view."""
        return tuple(sorted(v.id for v in self.versions.values()))

    @cached_property
    def elements(self) -> list[Element]:
        """The governance elements of the view's versions."""
        if self._load_elements is None:
            return []
        return self._load_elements(tuple(v.id for v in self.versions.values()))

    @property
    def version(self) -> Version:
        """The version of a one-community view (NotFound for a combined view)."""
        if self.community_code is None or self.community_code not in self.versions:
            raise NotFound("未指定社区", "a combined view has no single version", field="community")
        return self.versions[self.community_code]

    @property
    def number(self) -> int:
        return self.version.number

    @property
    def state(self) -> str:
        return self.version.state

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def valid_from(self) -> datetime | None:
        return self.version.valid_from

    @property
    def valid_to(self) -> datetime | None:
        return self.version.valid_to

    @property
    def label(self) -> str:
        """How a person reads the version: ``第2版（现行）``."""
        return f"第{self.number}版（{self.state_label}）"

    def source(self, community_code: str | None = None) -> dict[str, Any] | None:
        """Which version answered for ``community_code`` (default the view's own): JSON-ready,
        or None when the view holds no version of that community. A view read from a file
        names the file instead."""
        if self.file is not None:
            return {"file": self.file, "community_code": community_code}
        v = self.versions.get(community_code or self.community_code or "")
        return version_source(v) if v is not None else None

    def subset(self, community_code: str) -> LayerView:
        """The one-community view of a combined view (shares the built grids)."""
        known = community_code in self.versions or (
            self.file is not None and community_code in self.hierarchy
        )
        if not known:
            raise NotFound(
                f"社区 {community_code} 没有可用的网格版本",
                f"community {community_code} has no grid version here",
                field="community",
            )
        if self.community_code == community_code:
            return self
        # A view's versions and grids never change, so neither do its subsets: kept with the view
        # (building one took ~15–35 ms of CPU at 12,500 micro-grids, and every tile of a community
        # page, cached or not, asked for one).
        held: dict[str, LayerView] = self.__dict__.setdefault("_subsets", {})
        view = held.get(community_code)
        if view is None:
            view = held[community_code] = LayerView(
                community_code,
                {k: v for k, v in self.versions.items() if k == community_code},
                self.hierarchy.subset(community_code),
                self.snap_m,
                self._load_elements,
                self.file,
                locators=self.locators,
            )
        return view


def _prepared(view: LayerView | None) -> bool:
    """Whether ``view``'s locator (a cached property, built on first use) is built and prepared."""
    locator = view.__dict__.get("locator") if view is not None else None
    return locator is not None and locator.prepared


def version_source(v: Version) -> dict[str, Any]:
    """The ``version`` block every located answer carries."""
    return {
        "community_code": v.community_code,
        "number": v.number,
        "id": v.id,
        "state": v.state,
        "state_label": STATE_LABELS.get(v.state, v.state),
        "valid_from": v.valid_from.isoformat() if v.valid_from else None,
        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
    }


def version_at(conn: Any, community_code: str, at: datetime | date | None = None) -> Version | None:
    """The version of a community in force at ``at`` read in an open transaction; None before the
    first publish."""
    from store.versions import list_versions

    return next((v for v in list_versions(conn, community_code) if in_force(v, at)), None)


def file_view(
    hierarchy: Hierarchy, path: str, *, snap_m: float, elements: list[Element] | None = None
) -> LayerView:
    """A view of grids read from a layer file (not stored, so no version): answers name the file."""
    found = list(elements or [])
    return LayerView(None, {}, hierarchy, snap_m, (lambda _ids: found), file=path)


class LayersInForce:
    """The stored layers by the in-force rule, cached per process (thread-safe)."""

    def __init__(
        self,
        engine: Engine,
        *,
        snap_m: float,
        poll_s: float = 0.5,
        locators: Callable[[Hierarchy, float], Locator] | None = None,
    ) -> None:
        self.engine = engine
        self.locators = locators
        self.snap_m = snap_m
        self.poll_s = poll_s
        self._lock = threading.RLock()
        self._checked = float("-inf")
        self._fp: tuple[int, ...] | None = None
        self._versions: list[Version] = []
        self._built: OrderedDict[tuple[int, ...], LayerView] = OrderedDict()
        self._current: LayerView | None = None
        #: Drafts' views by version id, each with the revision (:func:`store.drafts.draft_stamp`) it
        #: was built at: a draft's grids change, so it is not kept with the versions in ``_built``.
        self._drafts: OrderedDict[int, tuple[tuple[int, int], LayerView]] = OrderedDict()

    # -- the version table -------------------------------------------------------------------

    def _table(self) -> list[Version]:
        """Every version, re-read when the published set changed (checked every ``poll_s``)."""
        if time.monotonic() - self._checked < self.poll_s and self._fp is not None:
            return self._versions
        with self._lock:
            if time.monotonic() - self._checked >= self.poll_s or self._fp is None:
                with db.read(self.engine) as conn:
                    fp = fingerprint(conn)
                    if fp != self._fp:
                        self._versions = list_all_versions(conn)
                        self._fp = fp
                        self._current = None
                self._checked = time.monotonic()
        return self._versions

    def committed(self) -> list[Version]:
        """The published and retired versions with their validity (the rows :func:`check_versions`
        takes) as this process last read them, polled as the locator's view is: what a report
        located here was located against. A write may check its reports on them only if it then
        confirms, under the switch lock, that the committed table still holds exactly these rows
        (:mod:`store.groupwrite` does)."""
        return [v for v in self._table() if v.state in (PUBLISHED, RETIRED) and v.valid_from is not None]

    def refresh(self) -> None:
        """Re-read at the next question (after a publish or a new draft in this process)."""
        with self._lock:
            self._checked = float("-inf")
            self._fp = None

    def forget(self, version_id: int) -> None:
        """Drop every view built from ``version_id`` and re-read the table: for a draft being
        redrawn, the one kind of version whose grids change after they were stored."""
        with self._lock:
            for key in [k for k in self._built if version_id in k]:
                self._built.pop(key, None)
            self._drafts.pop(version_id, None)
        self.refresh()

    def versions(self, community: str | None = None) -> list[Version]:
        """The version table (one community's, or all), ordered by community and number."""
        return [v for v in self._table() if community is None or v.community_code == community]

    # -- the three questions -----------------------------------------------------------------

    def current(self, community: str | None = None) -> LayerView:
        """The published version of ``community`` (of every community when None)."""
        table = self._table()
        view = self._current
        if view is None:
            published = [v for v in table if v.state == PUBLISHED]
            if not published:
                raise NotFound(
                    "尚无已发布的网格版本：请先上传并发布图层",
                    "no grid version is published yet: upload and publish a layer first",
                    field="version",
                )
            view = self._view(None, published)
            self._current = view
        if community is None:
            return view
        if community not in view.versions:
            self._known(community)
            raise NotFound(
                f"社区 {community} 没有已发布的版本",
                f"community {community} has no published version",
                field="version",
            )
        return view.subset(community)

    def at(self, community: str | None, when: datetime | date | None) -> LayerView:
        """The version of ``community`` (every community when None) in force at ``when``."""
        chosen = [
            v
            for v in self._table()
            if (community is None or v.community_code == community) and in_force(v, when)
        ]
        if community is not None and not chosen:
            self._known(community)
            raise NotFound(
                f"社区 {community} 在 {as_instant(when).isoformat()} 没有生效的网格版本",
                f"community {community} had no grid version in force at {as_instant(when).isoformat()}",
                field="at",
            )
        current = self._current
        if current is not None and {v.id for v in chosen} == {v.id for v in current.versions.values()}:
            return current if community is None else current.subset(community)
        return self._view(community, chosen)

    def is_built_for(self, community: str | None, when: datetime | date | None) -> bool:
        """True when :meth:`at` would answer from a view whose locator is built and prepared, so no
        geometry work that grows with the grids is left (the event loop may ask; else use a thread)."""
        chosen = [
            v
            for v in self._table()
            if (community is None or v.community_code == community) and in_force(v, when)
        ]
        key = tuple(v.id for v in sorted(chosen, key=lambda v: v.community_code))
        current = self._current
        if current is not None and {v.id for v in current.versions.values()} == set(key):
            view: LayerView | None = current
        else:
            view = self._built.get(key)
        return _prepared(view)

    def ready(self) -> LayerView | None:
        """The published view of every community when its locator is built and prepared (an answer
        costs microseconds then, and may be given on the event loop); None when a build is due (just
        published, first use). :meth:`is_built_for` ``(None, None)`` asks about the same view, but
        sorts and compares the version table on every call (~6 µs, a sixth of the lean GET)."""
        self._table()  # polled as current() polls it: a publish seen there drops the view
        view = self._current
        return view if _prepared(view) else None

    def version(self, community: str, number: int | None = None) -> LayerView:
        """Version ``number`` of ``community`` in any state; the published one when None.

        A draft is answered as stored now: another process (another ``weiwang serve`` worker) may
        have redrawn it since this one built its view, so its revision is read on every call (one
        indexed query, :func:`store.drafts.draft_stamp`) and a view built from another revision is
        dropped and built again. Published and retired versions never change: kept as built."""
        if number is None:
            return self.current(community)
        v = self.find(community, number)
        return self._draft(community, number, v) if v.state == DRAFT else self._view(community, [v])

    def find(self, community: str, number: int) -> Version:
        """The row of version ``number`` of ``community`` from the version table (no grids read):
        NotFound when there is none, after reading the table again once."""
        for attempt in range(2):
            for v in self.versions(community):
                if v.number == number:
                    return v
            if attempt == 0:
                # a draft made by another process since the table was read (only publishes change
                # the fingerprint it polls): read the table again once before saying there is none
                self.refresh()
        self._known(community)
        raise NotFound(
            f"社区 {community} 没有第 {number} 版",
            f"community {community} has no version {number}",
            field="version",
        )

    def _draft(self, community: str, number: int, v: Version) -> LayerView:
        """Draft ``v`` as stored now (see :meth:`version`). Each view is kept with the revision read
        before its grids were, so a view is never older than its revision says; of two views built
        concurrently the one of the later revision is kept (both counts only grow)."""
        from store.drafts import draft_stamp

        with db.read(self.engine) as conn:
            stamp = draft_stamp(conn, v.id)
        with self._lock:
            kept = self._drafts.get(v.id)
            if kept is not None and kept[0] == stamp:
                self._drafts.move_to_end(v.id)
                return kept[1]
        # changed since this process built it (or never built here): its row (findings) too
        self.refresh()
        row = self.find(community, number)
        if row.id != v.id or row.state != DRAFT:  # published or replaced meanwhile
            return self.version(community, number)
        view = self._build([row])
        with self._lock:
            kept = self._drafts.get(row.id)
            if kept is None or kept[0] <= stamp:
                self._drafts[row.id] = (stamp, view)
                self._drafts.move_to_end(row.id)
                while len(self._drafts) > KEEP_BUILT:
                    self._drafts.popitem(last=False)
        return view

    # -- building ----------------------------------------------------------------------------

    def _known(self, community: str) -> None:
        if not any(v.community_code == community for v in self._table()):
            raise NotFound(f"社区不存在：{community}", f"no community {community}", field="community")

    def _view(self, community: str | None, chosen: Iterable[Version]) -> LayerView:
        chosen = sorted(chosen, key=lambda v: v.community_code)
        key = tuple(v.id for v in chosen)
        with self._lock:
            hit = self._built.get(key)
            if hit is not None:
                self._built.move_to_end(key)
        if hit is None:
            hit = self._build(chosen)
            with self._lock:
                self._built[key] = hit
                while len(self._built) > KEEP_BUILT:
                    self._built.popitem(last=False)
        if community is None:
            return hit
        return hit.subset(community) if hit.community_code != community else hit

    def _build(self, chosen: list[Version]) -> LayerView:
        from store.grids import load_elements, load_grids

        with db.read(self.engine) as conn:
            grids = [g for v in chosen for g in load_grids(conn, v.id)]
        versions = {v.community_code: v for v in chosen}
        community = chosen[0].community_code if len(chosen) == 1 else None

        def elements(ids: tuple[int, ...]) -> list[Element]:
            with db.read(self.engine) as conn:
                return [e for vid in ids for e in load_elements(conn, vid)]

        # Only published grids (which never change) get the machine-wide locator; a draft being
        # redrawn would leave a stored locator behind at every change.
        shared = self.locators if all(v.state in (PUBLISHED, RETIRED) for v in chosen) else None
        return LayerView(community, versions, Hierarchy(grids), self.snap_m, elements, locators=shared)
