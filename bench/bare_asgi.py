"""The floor for ``bench/bench_api.py``: a trivial ASGI app that answers every request with a fixed
JSON body the size of a ``GET /api/v1/locate`` answer, and does nothing else. Served by uvicorn
with the same workers, HTTP parser and event loop as ``weiwang serve``, it measures what the server
stack and the load generator cost on this machine, so the locate API can be quoted as a share of it.

Run: ``python -m uvicorn bench.bare_asgi:app --workers 2`` (bench_api does it)."""

from __future__ import annotations

from typing import Any

BODY = (
    b'{"status":"ok","input":{"lon":104.0858,"lat":30.4062,"crs":"wgs84"},"wgs84":{"lon":104.0858,'
    b'"lat":30.4062},"micro_code":"510116004001006006","micro_name":"\xe5\x85\xb4\xe6\xb9\x96\xe6\xb9'
    b'\xbe7-8\xe6\xa0\x8b\xe5\xbe\xae\xe7\xbd\x91\xe6\xa0\xbc","general_code":"510116004001006",'
    b'"general_name":"bare","community_code":"510116004001","community_name":"bare",'
    b'"on_boundary":false,"snapped":false,"distance_m":0.0,"outside":false,"version":{"community_code":'
    b'"510116004001","number":1,"state":"published","valid_from":"2026-01-01T00:00:00+08:00",'
    b'"valid_to":null}}'
)
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(_START)
    await send(_BODY)
