"""The map pages' figures from the operations layer (both databases): the 交办态势 panel's total and
its workload table come from one set of open incidents, so they add up — also with an incident
waiting in the 研判 queue, one reported 40 days ago, and a closed one."""

from __future__ import annotations

from api.ops.maps import QUEUE_LABEL, assignment_data
from tests.api.test_routes_incidents import MICRO, inside_point, report
from tests.api_fixtures import Api, Clock

SGS = "510116004001"


def test_assignment_total_equals_the_workload_table(api: Api, clock: Clock) -> None:
    service = api.client.app.state.service
    lon, lat = inside_point(api, MICRO)
    old = report(api, lon, lat).json()  # still open 40 days later: outside the 30-day indicators
    clock.advance(days=40)
    for _ in range(2):
        assert report(api, lon, lat).status_code == 201
    community = service.layers.current().hierarchy.get(SGS)
    minx, miny, _, _ = community.geometry.bounds
    queued = report(api, minx - 0.003, miny + 0.004).json()  # outside every grid: 研判 queue
    assert queued["assignee"] is None
    closed = report(api, lon, lat).json()
    r = api.post(f"/api/v1/incidents/{closed['id']}/actions", json={"action": "void", "reason": "重复"})
    assert r.status_code == 200 and r.json()["state"] == "无效", r.text

    data = assignment_data(service, SGS)
    assert data["total_open"] == 4  # old + 2 new + queued; the voided one is not open
    assert sum(w["open"] for w in data["workload"]) == data["total_open"]
    assert sum(data["open_by_micro"].values()) == 3  # the queued one has no micro-grid
    queue_rows = [w for w in data["workload"] if w["person_id"] is None]
    assert [(w["name"], w["open"]) for w in queue_rows] == [(QUEUE_LABEL, 1)]
    handler = next(w for w in data["workload"] if w["person_id"] == old["assignee"]["person_id"])
    assert handler["open"] == 3 and handler["overdue"] == 1  # the 40-day-old one is overdue


def test_grid_workers_open_only_their_own_communitys_maps(api: Api) -> None:
    from tests.api.test_routes_incidents import micro_worker

    worker = micro_worker(api, MICRO)  # a 微网格员 of 三根松
    for page in ("dispatch", "coverage", "assignment"):
        assert api.get(f"/maps/{page}/{SGS}", worker).status_code == 200, page
        assert api.get(f"/maps/{page}/510116004002", worker).status_code == 403, page
        assert api.get(f"/maps/{page}/510116004002", "dispatcher").status_code == 200, page


def test_only_reporting_roles_get_the_report_form(api: Api) -> None:
    hint = "点击地图任意位置上报事件"
    assert hint in api.get(f"/maps/dispatch/{SGS}", "dispatcher").text
    for user in ("viewer", "planner"):
        page = api.get(f"/maps/dispatch/{SGS}", user).text
        assert hint not in page and '"canReport":false' in page, user


def test_stats_refuses_dates_out_of_range_naming_the_field(api: Api) -> None:
    for query, field in (
        ("to=0001-01-01", "to"),
        ("from=9999-12-31", "from"),
        ("from=2026-11-02&to=2026-11-01", "from"),
    ):
        r = api.get(f"/api/v1/stats?{query}")
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (query, r.text)


def test_assignment_figures_follow_reports_actions_and_the_clock(api: Api, clock: Clock) -> None:
    # the figures are remembered between page loads: a report, an action or a deadline passing
    # must each show on the next load
    service = api.client.app.state.service
    lon, lat = inside_point(api, MICRO)
    first = report(api, lon, lat).json()
    data = assignment_data(service, SGS)
    assert data["total_open"] == 1 and sum(w["overdue"] for w in data["workload"]) == 0
    assert assignment_data(service, SGS) == data  # nothing moved: the same figures
    second = report(api, lon, lat).json()
    assert assignment_data(service, SGS)["total_open"] == 2
    r = api.post(f"/api/v1/incidents/{second['id']}/actions", json={"action": "void", "reason": "重复"})
    assert r.status_code == 200, r.text
    assert assignment_data(service, SGS)["total_open"] == 1
    clock.advance(days=40)  # past the first one's deadline, no event in between
    handler = next(
        w
        for w in assignment_data(service, SGS)["workload"]
        if w["person_id"] == first["assignee"]["person_id"]
    )
    assert handler["open"] == 1 and handler["overdue"] == 1
