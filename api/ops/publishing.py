"""Publishing a draft: the guard on blocking findings (or an override with a recorded reason), the
switch of the map in force, and the re-routing of open incidents under the new map — one transaction.

* **Guard.** A draft whose stored validation has blocking findings (errors) is refused (409) with
  the findings named, unless an ``override_reason`` is given; the reason, who published and when,
  and the findings overridden are stored with the version (:func:`store.versions.publish`) and
  shown wherever versions are listed.
* **Switch.** ``valid_from`` is read from the service clock inside the transaction, after the
  switch lock (:func:`store.versions.hold_switch`): reports arriving meanwhile are stored either
  wholly with the old version (received before) or wholly with the new (received after) —
  the rule is in :mod:`store.inforce`.
* **Re-routing.** In the same transaction every incident of the community that
  :func:`dispatch.rerouting.plan_reroutes` moves (已上报/已受理/已交办 whose grids change under the
  new map) gets its 重新路由 event with the old and new grid and handler; 处置中 and later keep
  their handler. :func:`reroute_preview` is the same plan before publishing (the impact preview).
  ``layer_version_id`` of a re-routed incident stays the version it was located on at receipt.
"""

from __future__ import annotations

import getpass
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from api.ops.service import Service
from dispatch.errors import InvalidInput
from dispatch.rerouting import REROUTED_STATES, Reroute, plan_reroutes, reroute
from geo.hierarchy import Hierarchy
from store import db
from store.models import DRAFT
from store.versions import Version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from geo.elements import Element
    from geo.hierarchy import Grid
    from geo.locator import Locator
    from store.inforce import LayerView

#: Longest override reason kept.
MAX_REASON = 500


@dataclass(frozen=True)
class Published:
    """What a publish did: the version now in force and the incidents re-routed."""

    version: Version
    previous: int | None = None
    rerouted: list[Reroute] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.version.to_dict() | {
            "previous_number": self.previous,
            "rerouted": [r.to_dict() for r in self.rerouted],
        }


def check_reason(reason: str | None) -> str | None:
    """An override reason: None when not given; refused when blank, too long or with control
    characters (it is shown in lists and on paper)."""
    if reason is None:
        return None
    text = reason.strip()
    if not text:
        raise InvalidInput("越过原因不能为空", "override_reason must not be blank", field="override_reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(
            f"越过原因超过 {MAX_REASON} 个字符",
            f"override_reason exceeds {MAX_REASON} characters",
            field="override_reason",
        )
    if not text.replace("\n", " ").isprintable():
        raise InvalidInput(
            "越过原因不能含控制字符",
            "override_reason must not contain control characters",
            field="override_reason",
        )
    return text


def default_publisher() -> str:
    """Who publishes from the command line: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _locate(locator: Any) -> Any:
    def where(lon: float, lat: float) -> tuple[str | None, str | None]:
        hit = locator.locate_one(float(lon), float(lat))
        return hit.micro_code, hit.general_code

    return where


def _plan(
    service: Service, conn: Any, community: str, locator: Any, *, lock: bool
) -> tuple[list[Reroute], list[Any]]:
    from api.ops.incidents import to_incident
    from store.incidents import list_incidents, lock_in_states

    states = [s.value for s in REROUTED_STATES]
    if lock:
        rows = lock_in_states(conn, community, states)
    else:
        rows = list_incidents(conn, community_code=community, states=states, limit=1_000_000)
    incs = [to_incident(r) for r in rows]
    plan = plan_reroutes(incs, _locate(locator), service.posts(), service.today())
    return plan, incs


def reroute_preview(
    service: Service, community: str, number: int, *, view: Any = None, locator: Any = None
) -> list[Reroute]:
    """The incidents publishing version ``number`` now would re-route (exactly those :func:`publish`
    re-routes if nothing changes in between); ``view``/``locator``: from :func:`preview_view`, when
    the caller has them already."""
    if view is None or locator is None:
        view, locator = preview_view(service, community, number)
    with db.read(service.engine) as conn:
        plan, _ = _plan(service, conn, community, locator, lock=False)
    return plan


_preview_lock = threading.Lock()


def _slot(service: Service, version_id: int) -> dict[str, Any]:
    """What this process keeps of draft ``version_id`` for previews: the revision (``stamp``,
    :func:`store.drafts.draft_stamp`) and the ``view`` of it (its locator built on first use)."""
    return service.cached(("draft-preview", version_id), dict, float("inf"))  # type: ignore[no-any-return]


def note_draft_stamp(
    service: Service,
    version_id: int,
    stamp: tuple[int, int],
    *,
    version: Version,
    draft: tuple[Sequence[Grid], Sequence[Element]],
) -> None:
    """Keep draft ``version_id`` as an operation of this process just wrote it (its revision
    ``stamp``, the ``version`` row and the ``draft``'s grids ordered by code and elements by id, as
    they read back), so the next preview neither reads it again nor builds its view twice."""
    from store.inforce import LayerView

    grids, elements = list(draft[0]), list(draft[1])
    view = LayerView(
        version.community_code,
        {version.community_code: version},
        Hierarchy(grids),
        service.layers.snap_m,
        lambda _ids: elements,
    )
    slot = _slot(service, version_id)
    with _preview_lock:
        slot.clear()
        slot.update(stamp=stamp, view=view)


def preview_view(service: Service, community: str, number: int) -> tuple[LayerView, Locator]:
    """Version ``number`` as stored now and the locator a preview locates with.

    A published or retired version answers with its own view and locator (shared machine-wide). A
    draft changes with every operation: what this process keeps of it is checked against the
    stored revision (:func:`store.drafts.draft_stamp`, one small query; another ``weiwang serve``
    worker may have redrawn it) and read again when it changed. Its locator is built in this
    process's memory and kept per (draft, revision) — never written to the shared per-machine
    store (each revision's folder would be written once and never read again) and not prepared
    for points outside every grid (:meth:`geo.locator.Locator.prepare` runs only if such a point
    comes)."""
    from store.drafts import draft_stamp

    version = next((v for v in service.layers.versions(community) if v.number == number), None)
    if version is None or version.state != DRAFT:
        view = service.layers.version(community, number)  # NotFound, or a table read again
        if view.state != DRAFT:
            return view, view.locator
        version = view.version
    vid = version.id
    with db.read(service.engine) as conn:
        stamp = draft_stamp(conn, vid)
    slot = _slot(service, vid)
    with _preview_lock:
        kept = dict(slot) if slot.get("stamp") == stamp else None
    if kept is None:
        # LayersInForce reads the draft's revision itself and builds its view again when it changed
        kept = {"stamp": stamp, "view": service.layers.version(community, number)}
        with _preview_lock:
            slot.clear()
            slot.update(kept)  # one revision per draft kept: the one asked last
    view = kept["view"]
    return view, view.locator  # a draft's view builds its own (store.inforce), kept with the view


def publish(
    service: Service,
    community: str,
    number: int,
    *,
    force: bool = False,
    at: datetime | date | None = None,
    override_reason: str | None = None,
    by: str | None = None,
) -> Published:
    """Publish draft ``number`` (see the module docstring); ``by``: who publishes. ``force`` is
    kept for old callers but no longer overrides blocking findings by itself: an override needs
    its reason, and the refusal (409) says so."""
    from api.ops.intake import SYSTEM
    from store.incidents import append_event
    from store.versions import publish as publish_version

    reason = check_reason(override_reason)
    view = service.layers.version(community, number)
    locator = view.locator  # built before the write transaction, not while holding the writer lock
    with db.write(service.engine) as conn:
        v = publish_version(
            conn, community, number, at=at, override_reason=reason, by=by, clock=service.clock
        )
        previous = _previous(conn, v)
        plan, incs = _plan(service, conn, community, locator, lock=True)
        by_id = {i.id: i for i in incs}
        for move in plan:
            inc = by_id[move.incident_id]
            _new, ev = reroute(
                inc,
                move,
                SYSTEM,
                v.published_at or service.clock(),
                from_version=previous or 0,
                to_version=v.number,
            )
            append_event(conn, inc.id, ev.to_dict(), expected_seq=inc.seq)
    service.invalidate()
    return Published(v, previous, plan)


def _previous(conn: Any, v: Version) -> int | None:
    from store.versions import list_versions

    return next(
        (
            o.number
            for o in list_versions(conn, v.community_code)
            if o.valid_to is not None and o.valid_to == v.valid_from
        ),
        None,
    )
