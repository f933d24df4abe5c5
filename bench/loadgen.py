"""A paced open-loop HTTP load generator: requests at a fixed rate, latency from the scheduled start.

Run: ``.venv/bin/python -m bench.loadgen --port P --token T --rate 200 --seconds 30 --bbox x0,y0,x1,y1``
(prints one JSON object on stdout). ``bench/bench_api.py`` runs it as a separate process, so the
client does not share an interpreter (or its GIL) with anything else.

Request ``i`` is due at ``t0 + i / rate`` whatever happened to earlier requests (open loop). Its
latency is measured from that scheduled instant, not from when it was sent: if the client or the
server falls behind, the wait counts (no coordinated omission). Requests go over a pool of
keep-alive HTTP/1.1 connections (asyncio streams, a minimal HTTP/1.1 client: the generator must cost
far less CPU than the server it drives). ``connections`` of them are opened before the clock starts
10 ms apart and used in turn (like many clients, and so spread over the server's workers: uvicorn
workers share one listening socket, and a burst of connections, like one hot connection, tends to
land on a single worker); another opens only when every open one is busy.
A request that fails to connect, times out, breaks the connection or answers non-2xx is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/loadgen.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CATEGORIES = ("综合维稳", "矛盾纠纷", "安全隐患", "应急管理风险隐患", "群众诉求")


@dataclass
class Request:
    """One HTTP request to send."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PacedResult:
    """What a paced run measured. Latencies in milliseconds, from each request's scheduled start."""

    rate: float
    seconds: float
    scheduled: int
    ok: int = 0
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    #: Each answered request's scheduled instant (``perf_counter``), in the order of ``latencies_ms``.
    due_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    connections: int = 0
    max_send_lag_ms: float = 0.0
    #: CPU seconds of this process while pacing (start-up and request building excluded).
    cpu_s: float = 0.0

    def summary(self) -> dict:
        """JSON-ready figures: achieved rate, percentiles, errors."""
        return {
            "target_rate": self.rate,
            "seconds": self.seconds,
            "scheduled": self.scheduled,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "error_samples": self.error_samples[:5],
            "achieved_rate": round(self.ok / self.wall_s, 1) if self.wall_s else 0.0,
            "latency_ms": percentiles(self.latencies_ms),
            "service_ms": percentiles(self.service_ms),
            "connections": self.connections,
            "max_send_lag_ms": round(self.max_send_lag_ms, 2),
            "paced_cpu_s": round(self.cpu_s, 3),
            "paced_cpu_ms_per_request": round(self.cpu_s / max(self.scheduled, 1) * 1e3, 3),
        }


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max (nearest rank) of ``values``; None when empty."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None, "mean": None}
    s = sorted(values)

    def rank(q: float) -> float:
        return round(s[min(len(s) - 1, max(0, int(q * len(s) + 0.5) - 1))], 3)

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "p999": rank(0.999),
        "max": round(s[-1], 3),
        "mean": round(sum(s) / len(s), 3),
    }


def encode(host: str, req: Request) -> bytes:
    """``req`` as HTTP/1.1 bytes (built before the clock starts: the generator must stay cheap)."""
    head = [f"{req.method} {req.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(req.body)}"]
    head += [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body


class _Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, wire: bytes) -> tuple[int, bytes, bool]:
        """Send one request already encoded (:func:`encode`); return (status, body, keep_alive)."""
        self.writer.write(wire)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        return status, body, hdrs.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


async def run_paced_async(
    host: str,
    port: int,
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    connections: int = 32,
    max_connections: int = 256,
    timeout_s: float = 10.0,
) -> PacedResult:
    """Send ``make_request(i)`` at ``t0 + i/rate`` for ``seconds``; see the module docstring."""
    n = int(rate * seconds)
    res = PacedResult(rate, seconds, n)
    idle: deque[_Conn] = deque()
    for _ in range(connections):  # one at a time: a burst would be accepted by one worker
        idle.append(_Conn(*await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)))
        await asyncio.sleep(0.01)
    opened = connections
    slot = asyncio.Semaphore(max_connections)
    hostport = f"{host}:{port}"
    wires = [encode(hostport, make_request(i)) for i in range(n)]  # built before the clock starts

    async def one(i: int, due: float) -> None:
        nonlocal opened
        async with slot:
            conn: _Conn | None = None
            sent = time.perf_counter()
            try:
                if idle:
                    conn = idle.popleft()
                else:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
                    conn = _Conn(reader, writer)
                    opened += 1
                status, body, keep = await asyncio.wait_for(conn.send(wires[i]), timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                res.errors += 1
                res.statuses[type(exc).__name__] += 1
                if len(res.error_samples) < 5:
                    res.error_samples.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                return
            done = time.perf_counter()
            res.latencies_ms.append((done - due) * 1000.0)
            res.service_ms.append((done - sent) * 1000.0)
            res.due_s.append(due)
            res.statuses[str(status)] += 1
            if 200 <= status < 300:
                res.ok += 1
            else:
                res.errors += 1
                if len(res.error_samples) < 5:
                    res.error_samples.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")
            if keep:
                idle.append(conn)
            else:
                conn.close()

    tasks: list[asyncio.Task[None]] = []
    cpu0 = time.process_time()
    t0 = time.perf_counter() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            res.max_send_lag_ms = max(res.max_send_lag_ms, -delay * 1000.0)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    res.wall_s = time.perf_counter() - t0
    res.cpu_s = time.process_time() - cpu0
    res.connections = opened
    for c in idle:
        c.close()
    return res


def incident_requests(
    token: str, bbox: tuple[float, float, float, float], seed: int = 7
) -> Callable[[int], Request]:
    """``POST /api/v1/incidents`` bodies at uniform random points of ``bbox`` (fixed seed)."""
    rng = random.Random(seed)
    minx, miny, maxx, maxy = bbox
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def make(i: int) -> Request:
        body = {
            "lon": round(rng.uniform(minx, maxx), 7),
            "lat": round(rng.uniform(miny, maxy), 7),
            "crs": "wgs84",
            "category": CATEGORIES[i % len(CATEGORIES)],
            "description": f"压测事件 load-test incident {i}",
        }
        return Request("POST", "/api/v1/incidents", json.dumps(body, ensure_ascii=False).encode(), headers)

    return make


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="定速开环压测 / paced open-loop POST /api/v1/incidents")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--bbox", required=True, help="minx,miny,maxx,maxy (WGS84)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections opened up front")
    ap.add_argument(
        "--timeline",
        type=Path,
        help="also write [seconds from start, latency ms] of each request here (JSON)",
    )
    args = ap.parse_args(argv)
    bbox = tuple(float(v) for v in args.bbox.split(","))
    if len(bbox) != 4:
        ap.error("--bbox needs four numbers")
    make = incident_requests(args.token, bbox, args.seed)  # type: ignore[arg-type]
    run = run_paced_async(
        args.host, args.port, make, rate=args.rate, seconds=args.seconds, connections=args.connections
    )
    try:
        import uvloop  # a cheaper event loop where installed (it comes with the service's deps)

        res = uvloop.run(run)
    except ImportError:
        res = asyncio.run(run)
    if args.timeline is not None and res.due_s:
        t0 = min(res.due_s)
        pairs = sorted(
            (round(d - t0, 4), round(lat, 3)) for d, lat in zip(res.due_s, res.latencies_ms, strict=True)
        )
        args.timeline.write_text(json.dumps(pairs))
    print(json.dumps(res.summary(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
