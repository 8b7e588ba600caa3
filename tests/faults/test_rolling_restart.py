"""Faults with real processes: a rolling restart of three replicas under steady load
loses no request. Each replica in turn leaves the balancer, then gets SIGTERM: it stops
accepting at once (so a readiness probe fails before its listener and pool close), lets
the requests it holds finish, and exits; a new replica takes its place and serves once
/readyz says so. The test's balancer does what a load balancer does: a fresh connection
per request to a replica believed ready, and the next replica when a connection is
refused (a request that never reached a replica). Bounded: a fixed number of restarts,
every wait limited."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess

VIEW = "query View($id: ID!) { account(id: $id) { __typename } }"
CLIENTS = 6
PRE_STOP = 0.5  # seconds between leaving the balancer and SIGTERM (deploy/: 5)


class Balancer:
    def __init__(self, replicas: list[ServiceProcess], key: str) -> None:
        self.ready = list(replicas)
        self.key = key
        self.served = 0
        self.failures: list[str] = []
        self._turn = itertools.count()

    async def view(self, account: str) -> None:
        for _ in range(50):
            if not self.ready:
                await asyncio.sleep(0.05)
                continue
            replica = self.ready[next(self._turn) % len(self.ready)]
            try:
                async with httpx.AsyncClient(timeout=30) as http:  # a connection per request
                    response = await http.post(
                        f"http://127.0.0.1:{replica.port}/graphql",
                        json={"query": VIEW, "variables": {"id": account}},
                        headers={"authorization": f"Bearer {self.key}"},
                    )
            except httpx.ConnectError:
                continue  # never reached a replica: the next one
            except httpx.HTTPError as exc:  # reached one, and no answer came back
                self.failures.append(repr(exc))
                return
            body: dict[str, Any] = response.json()
            if response.status_code == 200 and "errors" not in body:
                self.served += 1
            else:
                self.failures.append(f"{response.status_code} {body}")
            return
        self.failures.append("no replica took the request")


async def _load(balancer: Balancer, account: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await balancer.view(account)


async def test_a_rolling_restart_under_steady_load_fails_no_request(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    account = str(await factories.account(conn, cat["versions"]["basic"]))
    key = await api_key(conn)
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / f"r{n}") for n in range(3)]
    await asyncio.gather(*(r.start() for r in replicas))
    balancer = Balancer(replicas, key)
    stop = asyncio.Event()
    clients = [asyncio.ensure_future(_load(balancer, account, stop)) for _ in range(CLIENTS)]
    running = list(replicas)
    try:
        for n, old in enumerate(replicas):
            await asyncio.sleep(0.5)  # steady load on every replica
            # As Kubernetes does with a terminating pod: out of the endpoints first, then
            # SIGTERM after the preStop pause. Without the pause, a connection the replica
            # accepted just before it closed its socket was dropped unanswered (seen here:
            # ReadError), which is why deploy/ has one.
            balancer.ready.remove(old)
            await asyncio.sleep(PRE_STOP)
            await old.stop()  # SIGTERM; it answers what it holds, then exits cleanly
            running.remove(old)
            new = ServiceProcess(dsn, JWT_SECRET, tmp_path / f"new{n}")
            await new.start()  # returns once /readyz answers 200
            running.append(new)
            balancer.ready.append(new)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
        await asyncio.gather(*(r.stop() for r in running))

    print(f"{balancer.served} requests served across three restarts")
    assert balancer.failures == []
    assert balancer.served > 50
