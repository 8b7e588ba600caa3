"""Faults with real processes: Postgres restarted under mixed load (views, usage ingest,
consumption, a mutation that writes an event) on three replicas. Every request the
restart fails is answered with a typed, retryable UNAVAILABLE and succeeds when
retried as a client would (same event ids, same idempotency key); no usage is lost or
counted twice; every replica recovers its pool and its outbox listener by itself.

The test runs its own Postgres (the embedded one, in its temporary folder), since it
restarts it. Bounded: a fixed number of rounds, a limited number of retries each."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benefitgate import db, migrate
from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess
from tests.fixtures.metering_api import CONSUME, RECORD
from tests.fixtures.metrics import scrape
from tests.fixtures.seats_api import ASSIGN

ROUNDS = 24  # per replica; the restart comes after a third of them
RETRIES = 100  # 0.1 s apart: ten seconds for Postgres to come back
VIEW = "query View($id: ID!) { account(id: $id) { __typename } }"
UNAVAILABLE = "UNAVAILABLE"


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[tuple[str, db.EmbeddedPostgres]]:
    """A Postgres of this test's own, with a migrated database; yields its DSN. Its
    folder is outside pytest's (which other pytest runs may close to other users): as
    root, pgserver runs Postgres as a user of its own, which must reach the folder."""
    folder = Path(tempfile.mkdtemp(prefix="benefitgate-fault-"))
    os.chmod(folder, 0o755)  # noqa: S103 (Postgres runs as another user and must enter it)
    embedded = db.EmbeddedPostgres(folder)
    server = await asyncio.to_thread(embedded.start)
    admin = await asyncpg.connect(server)
    await admin.execute("create database fault")
    await admin.close()
    dsn = db.with_database(server, "fault")
    conn = await db.connect(dsn)
    await migrate.apply_migrations(conn)
    await conn.close()
    try:
        yield dsn, embedded
    finally:
        await asyncio.to_thread(embedded.stop)
        await asyncio.to_thread(shutil.rmtree, folder, True)


def restart(embedded: db.EmbeddedPostgres) -> None:
    """Stop the server at once (open sessions are terminated) and start it again."""
    with warnings.catch_warnings():  # as db.EmbeddedPostgres imports it
        warnings.simplefilter("ignore")
        from pgserver import pg_ctl  # type: ignore[attr-defined]  # not in its __all__
    server = embedded._server  # the test's own server, to restart it
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)


class Client:
    """Posts to one replica and retries what the service says to retry, as clients do."""

    def __init__(self, port: int, key: str) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.key = key
        self.unavailable = 0  # answers that said: retry
        self.other_failures: list[str] = []  # anything else that was not a success

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        for _ in range(RETRIES):
            response = await self.http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {self.key}"},
            )
            body: dict[str, Any] = response.json()
            if response.status_code == 200 and "errors" not in body:
                data: dict[str, Any] = body["data"]
                return data
            codes = [e.get("extensions", {}) for e in body.get("errors", [])]
            if all(c.get("code") == UNAVAILABLE and c.get("retryable") for c in codes):
                self.unavailable += 1
                await asyncio.sleep(0.1)
                continue
            self.other_failures.append(f"{response.status_code} {body}")
            raise AssertionError(self.other_failures[-1])
        raise AssertionError(f"still unavailable after {RETRIES} tries")


async def _rounds(
    client: Client, accounts: list[uuid.UUID], n: int, done: list[int], third: asyncio.Event
) -> None:
    """Views, a batch of three usage events (m0) and one consumption (m1) per round."""
    for r in range(n):
        account = str(accounts[r % len(accounts)])
        await client.call(VIEW, {"id": account})
        now = datetime.now(UTC).isoformat()
        batch = [
            {"eventId": uuid.uuid4().hex, "accountId": account, "metric": "m0", "value": 1,
             "occurredAt": now}
            for _ in range(3)
        ]  # fmt: skip
        recorded = await client.call(RECORD, {"events": batch})
        statuses = {r["status"] for r in recorded["usageRecord"]["results"]}
        # A retried batch whose first try committed comes back DUPLICATE: counted once.
        assert statuses <= {"ACCEPTED", "DUPLICATE"}, recorded
        variables = {"id": account, "metric": "m1", "amount": 1, "key": uuid.uuid4().hex}
        consumed = await client.call(CONSUME, variables)
        assert consumed["usageConsume"]["__typename"] == "UsageConsumed", consumed
        done[0] += 1
        if done[0] >= n:  # a third of all rounds, over the three clients
            third.set()


async def test_a_postgres_restart_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    async with private_postgres() as (dsn, embedded):
        conn = await db.connect(dsn)
        cat = await factories.catalog(conn)
        accounts = [await factories.account(conn, cat["versions"]["pro"]) for _ in range(4)]
        key = await api_key(conn)
        await conn.close()
        replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / f"r{n}") for n in range(3)]
        await asyncio.gather(*(r.start() for r in replicas))
        clients = [Client(r.port, key) for r in replicas]
        done, third = [0], asyncio.Event()
        try:
            load = asyncio.gather(*(_rounds(c, accounts, ROUNDS, done, third) for c in clients))
            await asyncio.wait_for(third.wait(), 120)
            await asyncio.to_thread(restart, embedded)
            await asyncio.wait_for(load, 300)
            before = [await scrape(f"http://127.0.0.1:{r.port}/metrics") for r in replicas]
            # One change with an event: every replica's listener must hear of it.
            assign = {"id": str(accounts[0]), "user": "ada", "key": "after-restart"}
            await clients[0].call(ASSIGN, assign)
            heard = await _every_listener_hears(replicas, before)
            after = [await scrape(f"http://127.0.0.1:{r.port}/metrics") for r in replicas]
            ready = [await c.http.get("/readyz") for c in clients]
        finally:
            for c in clients:
                await c.http.aclose()
            await asyncio.gather(*(r.stop() for r in replicas))

        conn = await db.connect(dsn)
        try:
            ingested = await conn.fetchval(
                "select coalesce(sum(value), 0) from usage_counters where metric_key = 'm0'"
            )
            ids = await conn.fetchval("select count(*) from usage_event_ids")
            consumed = await conn.fetchval(
                "select coalesce(sum(value), 0) from usage_counters where metric_key = 'm1'"
            )
        finally:
            await conn.close()

    total = 3 * ROUNDS
    print(f"{sum(c.unavailable for c in clients)} answers said to retry; "
          f"listener reconnects per replica: {[a.value(RECONNECTS) for a in after]}")  # fmt: skip
    assert [c.other_failures for c in clients] == [[], [], []]
    assert sum(c.unavailable for c in clients) > 0  # the restart was felt...
    assert (ingested, ids, consumed) == (3 * total, 3 * total, total)  # ...and nothing lost
    assert all(r.status_code == 200 for r in ready)
    assert heard == [True, True, True]
    assert all(a.value(RECONNECTS) >= 1 for a in after)  # each heard it after reconnecting


RECONNECTS = "benefitgate_outbox_listener_reconnects_total"
RECEIVED = "benefitgate_outbox_events_received_total"


async def _every_listener_hears(replicas: list[ServiceProcess], before: list[Any]) -> list[bool]:
    """Whether each replica's listener handed over a new event within ten seconds."""
    heard = [False] * len(replicas)
    for _ in range(100):
        for n, replica in enumerate(replicas):
            now = await scrape(f"http://127.0.0.1:{replica.port}/metrics")
            heard[n] = heard[n] or now.value(RECEIVED) > before[n].value(RECEIVED)
        if all(heard):
            break
        await asyncio.sleep(0.1)
    return heard
