"""An open-loop load: requests sent at a fixed rate over persistent connections, with each
latency counted from when the schedule meant the request to go.

wrk keeps every connection busy (a closed loop): it measures the most a server can do,
and its latencies are then mostly queueing, 32 in flight / throughput by Little's law.
A target such as "5,000 req/s with p99 under 5 ms" asks what clients sending 5,000 req/s
see. Here each of `connections` sends one request every `connections / rate` seconds
(staggered), as wrk2 does. A request whose connection was still waiting for an earlier
answer when its turn came is late because of the server, and its latency counts from its
turn (no coordinated omission); one whose connection was idle counts from when it was
sent, so that the event loop's timer granularity (a millisecond) is not charged to the
server. Times are read from `time.perf_counter`: uvloop's own clock moves in milliseconds.

    .venv/bin/python bench/open_loop.py PORT RATE SECONDS REQUESTS_FILE

REQUESTS_FILE holds whole HTTP/1.1 requests, NUL-separated (a random one is sent each
time). Prints one JSON line: sent, answered, non-2xx, achieved rate, p50, p99, p99.9, max.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import uvloop

CONNECTIONS = 32


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `ask` sends a request and waits for its whole answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self._buffer[:head_end].lower()
        length_at = head.find(b"content-length:")
        length = int(head[length_at + 15 : head.find(b"\r\n", length_at)].strip())
        if len(self._buffer) < head_end + 4 + length:
            return
        self._buffer = self._buffer[head_end + 4 + length :]
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc or ConnectionError("closed"))

    async def ask(self, request: bytes) -> int:
        self._answer = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(request)
        return await self._answer


async def _drive(port: int, rate: float, seconds: float, requests: list[bytes]) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    now = time.perf_counter  # uvloop's loop.time() moves in whole milliseconds
    interval = CONNECTIONS / rate
    latencies: list[float] = []
    statuses: list[int] = []

    async def connection(index: int, start: float) -> None:
        _, conn = await loop.create_connection(_Connection, "127.0.0.1", port)
        turn, answered = start + index * interval / CONNECTIONS, 0.0
        while turn < start + seconds:
            if turn > now():
                await asyncio.sleep(turn - now())
            # Busy at its turn: the server made it late, so it counts from its turn.
            began = turn if answered > turn else now()
            statuses.append(await conn.ask(random.choice(requests)))
            answered = now()
            latencies.append(answered - began)
            turn += interval
        assert conn.transport is not None
        conn.transport.close()

    start = now() + 0.1
    await asyncio.gather(*(connection(i, start) for i in range(CONNECTIONS)))
    elapsed = now() - start
    latencies.sort()

    def ms(fraction: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1e3, 3)

    return {
        "sent": len(latencies),
        "non_2xx": sum(not 200 <= s < 300 for s in statuses),
        "rps": round(len(latencies) / elapsed, 1),
        "p50": ms(0.50),
        "p99": ms(0.99),
        "p999": ms(0.999),
        "max": ms(1.0),
    }


def main() -> None:
    port, rate, seconds, path = sys.argv[1:5]
    with open(path, "rb") as file:
        requests = file.read().split(b"\0")
    random.seed(7)
    started = time.process_time()
    figures = uvloop.run(_drive(int(port), float(rate), float(seconds), requests))
    figures["client_cpu_s"] = round(time.process_time() - started, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
