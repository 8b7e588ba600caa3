"""Benchmark: how fast a committed change reaches another replica's response cache.

Starts two replicas (`benefitgate serve`, response cache on, Redis as the shared tier when
REDIS_URL is set) on one fresh database and, for each round, warms both with an account's
view, then:

1. commit: renames the account in a transaction of its own (the row and its
   `account.updated` event, as any writer outside the API does) and polls replica B until
   it answers with the new name: commit to fresh answer, through B's outbox listener;
2. write: renames it through `accountUpdate` on replica A and reads it on B at once:
   every read must be fresh (read your writes); the mutation's latency includes waiting
   for every replica to confirm the invalidation.

Prints p50, p99 and max of each, stale reads, and in the same run the round trip of a bare
ASGI endpoint (the floor) through the same client.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/invalidation.py
Settings: BENCH_ROUNDS (300).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from account_view import prepare, serve_benefitgate, serve_floor, server_dsn, wait_until_up
from benefitgate import db
from benefitgate.events import outbox
from scratch import scratch_database

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
PORTS = (8781, 8782)
FLOOR_PORT = 8783
VIEW = """query($id: ID!) { account(id: $id) { ... on Account { name version } } }"""
RENAME = """mutation($id: ID!, $v: Int!, $name: String!, $key: String!) {
  accountUpdate(id: $id, expectedVersion: $v, name: $name, idempotencyKey: $key) {
    __typename } }"""


class Replica:
    def __init__(self, port: int, key: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {key}"}
        )

    async def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body

    async def name(self, account_id: str) -> tuple[str, int]:
        found = (await self.post(VIEW, {"id": account_id}))["data"]["account"]
        return found["name"], found["version"]


async def rounds(dsn: str, key: str, ids: list[str]) -> dict[str, Any]:
    a, b = Replica(PORTS[0], key), Replica(PORTS[1], key)
    conn = await db.connect(dsn)
    commit_ms, write_ms, stale = [], [], 0
    try:
        for n in range(ROUNDS):
            account = ids[n % len(ids)]
            for replica in (a, b, b):
                await replica.name(account)
            new = f"commit {n}"
            async with conn.transaction():
                await conn.execute(
                    "update accounts set name = $2, version = version + 1 where id = $1",
                    uuid.UUID(account),
                    new,
                )
                await outbox.enqueue(conn, "account.updated", uuid.UUID(account), {})
            committed = time.perf_counter()
            while (await b.name(account))[0] != new:
                pass
            commit_ms.append((time.perf_counter() - committed) * 1000)

            _, version = await b.name(account)
            new = f"write {n}"
            started = time.perf_counter()
            variables = {"id": account, "v": version, "name": new, "key": f"w{n}"}
            await a.post(RENAME, variables)
            write_ms.append((time.perf_counter() - started) * 1000)
            if (await b.name(account))[0] != new:
                stale += 1
    finally:
        await conn.close()
        await a.http.aclose()
        await b.http.aclose()
    return {"commit": commit_ms, "write": write_ms, "stale": stale}


async def floor_round_trips(port: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(ROUNDS * 4):
            started = time.perf_counter()
            await http.post("/graphql", content=b"{}")
            times.append((time.perf_counter() - started) * 1000)
    return times


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"  {label:44} p50 {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  "
        f"max {ordered[-1]:6.2f} ms"
    )


def main() -> None:
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded), 50))
    work = Path(tempfile.mkdtemp())
    redis_url = os.environ.get("REDIS_URL", "")
    env = {"BENEFITGATE_RESPONSE_CACHE": "1", "REDIS_URL": redis_url}
    replicas = [serve_benefitgate(dsn, port, work / str(port), env) for port in PORTS]
    try:
        for port in PORTS:
            wait_until_up(port)
        found = asyncio.run(rounds(dsn, key, ids))
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait()
    (work / "floor.json").write_bytes(json.dumps({"data": {"account": {}}}).encode())
    floor_proc = serve_floor(work / "floor.json", FLOOR_PORT)
    try:
        wait_until_up(FLOOR_PORT)
        floor = asyncio.run(floor_round_trips(FLOOR_PORT))
    finally:
        floor_proc.terminate()
        floor_proc.wait()
    shared = (
        "Redis shared tier" if redis_url else "no Redis: read-your-writes within a process only"
    )
    print(f"\ninvalidation across two replicas, {ROUNDS} rounds, {shared}")
    print(summary("commit elsewhere -> replica B answers fresh", found["commit"]))
    print(summary("accountUpdate on A (waits for confirmations)", found["write"]))
    print(f"  stale reads on B right after A answered: {found['stale']} of {ROUNDS}")
    print(summary("floor: round trip to a bare ASGI endpoint", floor))
    print("  target: invalidation p99 < 50 ms")


if __name__ == "__main__":
    main()
