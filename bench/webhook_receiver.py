"""The receiver of the webhook benchmark, in a process of its own: it records, for every
message, the time from the event's commit (the body's `timestamp`) to its arrival, and
reports them on GET /stats. The benchmark's floor posts to the same receiver directly."""

from __future__ import annotations

import time
from datetime import datetime

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_latencies_ms: list[float] = []
_arrivals: list[float] = []
_ids: set[tuple[str, str]] = set()
_duplicates = 0


async def hook(request: Request) -> Response:
    global _duplicates
    body = await request.body()
    now = time.time()
    sent = datetime.fromisoformat(orjson.loads(body)["timestamp"]).timestamp()
    key = (request.path_params["name"], request.headers.get("webhook-id", ""))
    if key in _ids:
        _duplicates += 1
    _ids.add(key)
    _latencies_ms.append((now - sent) * 1000)
    _arrivals.append(time.perf_counter())
    return Response(status_code=204)


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(
        {"latencies_ms": _latencies_ms, "arrivals": _arrivals, "duplicates": _duplicates}
    )


async def reset(request: Request) -> Response:
    global _duplicates
    _latencies_ms.clear()
    _arrivals.clear()
    _ids.clear()
    _duplicates = 0
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/hooks/{name}", hook, methods=["POST"]),
        Route("/stats", stats),
        Route("/reset", reset, methods=["POST"]),
    ]
)
