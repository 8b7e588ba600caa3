"""Read your writes across real replica processes sharing Redis: a write answered by one
replica is never followed by a stale answer from the other, read at once, although the
other had the old answer in its local tier and its outbox listener cannot hear the write
yet (an older transaction left open holds the write's events back)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.live import ServiceProcess
from tests.fixtures.redis import PrivateRedis

VIEW = """query($id: ID!) { account(id: $id) { __typename
  ... on Account { name version entitlements { benefit { key } } } ... on Error { code } } }"""
RENAME = """mutation($id: ID!, $v: Int!, $name: String!, $key: String!) {
  accountUpdate(id: $id, expectedVersion: $v, name: $name, idempotencyKey: $key) {
    __typename ... on Error { code } } }"""
GRANT = """mutation($id: ID!, $benefit: String!, $key: String!) {
  grantCreate(accountId: $id, benefit: $benefit, source: MANUAL, idempotencyKey: $key,
              reason: "") { __typename ... on Error { code } } }"""


async def test_a_write_on_one_replica_is_read_at_once_on_the_other(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path, redis_url: str
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    env = {"REDIS_URL": redis_url, "BENEFITGATE_RESPONSE_CACHE": "1"}
    writer = ServiceProcess(dsn, JWT_SECRET, tmp_path / "a", env)
    reader = ServiceProcess(dsn, JWT_SECRET, tmp_path / "b", env)
    await writer.start()
    await reader.start()
    variables = {"id": str(account_id)}
    holder = await asyncpg.connect(dsn)
    held = holder.transaction()
    await held.start()
    await holder.fetchval("select pg_current_xact_id()")  # events after it are held back
    try:
        for n in range(20):
            warm = await reader.post(VIEW, variables, key)
            assert warm == await reader.post(VIEW, variables, key)  # from its local tier
            version = warm["data"]["account"]["version"]
            renamed = await writer.post(
                RENAME,
                {"id": str(account_id), "v": version, "name": f"Name {n}", "key": f"r{n}"},
                key,
            )
            assert renamed["data"]["accountUpdate"]["__typename"] == "AccountProvisioned"
            read = await reader.post(VIEW, variables, key)
            assert read["data"]["account"]["name"] == f"Name {n}", f"round {n}"
        await reader.post(VIEW, variables, key)
        granted = await writer.post(GRANT, {**variables, "benefit": "b2", "key": "g"}, key)
        assert granted["data"]["grantCreate"]["__typename"] == "GrantChanged"
        read = await reader.post(VIEW, variables, key)
        assert [e["benefit"]["key"] for e in read["data"]["account"]["entitlements"]] == [
            "b0",
            "b2",
        ]
    finally:
        await held.rollback()
        await holder.close()
        await writer.stop()
        await reader.stop()


USAGE = """query($id: ID!) { account(id: $id) { ... on Account {
  usage { metric { key } used } } } }"""


async def _used(http: httpx.AsyncClient, account_id: str, key: str) -> float:
    body = {"query": USAGE, "variables": {"id": account_id}}
    read = await http.post("/graphql", json=body, headers={"authorization": f"Bearer {key}"})
    used: float = read.json()["data"]["account"]["usage"][0]["used"]
    return used


async def test_events_posted_to_one_replica_are_read_at_once_on_both(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path, redis_url: str
) -> None:
    """POST /events answers once every replica dropped what its batch changed, as a
    mutation does: it answered as soon as its lanes committed, and the usage read at once
    came now and then (one round in ten here) from a local tier that the writer's touch
    had not reached yet, on the other replica or on the writer itself."""
    cat = await factories.catalog(conn)
    account_id = str(await factories.account(conn, cat["versions"]["pro"]))
    key = await api_key(conn)
    env = {"REDIS_URL": redis_url, "BENEFITGATE_RESPONSE_CACHE": "1"}
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / n, env) for n in "ab"]
    await asyncio.gather(*(r.start() for r in replicas))
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{r.port}") for r in replicas]
    stale = []
    try:
        for n in range(100):
            writer = clients[n % 2]  # kept-alive connections: a read follows at once
            for http in clients:  # each holds the answer from before the write
                if await _used(http, account_id, key) != n:
                    stale.append((n, "before"))
            event = cloud_event(account_id, f"e{n}", at=datetime.now(UTC))
            posted = await post_events(writer, [event], auth=key)
            assert posted.json()["accepted"] == 1
            for http in (clients[1 - n % 2], writer):
                if await _used(http, account_id, key) != n + 1:
                    stale.append((n, "reader" if http is not writer else "writer"))
        assert stale == []
    finally:
        for http in clients:
            await http.aclose()
        await asyncio.gather(*(r.stop() for r in replicas))


async def _local_hits(replica: ServiceProcess) -> int:
    async with httpx.AsyncClient() as http:
        ready = (await http.get(f"http://127.0.0.1:{replica.port}/readyz")).json()
    hits: int = ready["responseCache"]["hits"]
    return hits


async def test_a_replica_whose_subscription_dropped_serves_nothing_from_before_a_write(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The replicas' subscriptions are killed (`CLIENT KILL TYPE pubsub`) while an open
    transaction holds the outbox listeners back: the reader misses the writer's broadcast,
    and must neither answer from its local tier meanwhile nor keep what it held once it
    subscribed again. A Redis of the test's own: the kill reaches every client of a
    server."""
    server = PrivateRedis(tmp_path, "--enable-debug-command", "local")
    await server.start()
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    env = {"REDIS_URL": server.url, "BENEFITGATE_RESPONSE_CACHE": "1"}
    writer = ServiceProcess(dsn, JWT_SECRET, tmp_path / "a", env)
    reader = ServiceProcess(dsn, JWT_SECRET, tmp_path / "b", env)
    redis = Redis.from_url(server.url)
    await writer.start()
    await reader.start()
    variables = {"id": str(account_id)}
    holder = await asyncpg.connect(dsn)
    held = holder.transaction()
    await held.start()
    await holder.fetchval("select pg_current_xact_id()")  # events after it are held back
    try:
        # Killed just before the write, then while the replicas wait to subscribe again,
        # then as they do.
        for n, pause in enumerate([0.0, 0.0, 0.3, 0.9, 1.1, 1.3, 0.0, 2.0]):
            warm = await reader.post(VIEW, variables, key)
            version = warm["data"]["account"]["version"]
            await redis.client_kill_filter(_type="pubsub")
            await asyncio.sleep(pause)
            renamed = await writer.post(
                RENAME,
                {"id": str(account_id), "v": version, "name": f"Gone {n}", "key": f"k{n}"},
                key,
            )
            assert renamed["data"]["accountUpdate"]["__typename"] == "AccountProvisioned"
            read = await reader.post(VIEW, variables, key)
            assert read["data"]["account"]["name"] == f"Gone {n}", f"round {n}"
        # Redis stalls as the write begins: the writer's calls time out, and the reader's
        # subscription stays whole but hears nothing.
        for n in range(3):
            warm = await reader.post(VIEW, variables, key)
            version = warm["data"]["account"]["version"]
            sleep = redis.execute_command("DEBUG", "SLEEP", "0.6")  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            stall = asyncio.create_task(sleep)
            await asyncio.sleep(0.05)
            renamed = await writer.post(
                RENAME,
                {"id": str(account_id), "v": version, "name": f"Slow {n}", "key": f"s{n}"},
                key,
            )
            assert renamed["data"]["accountUpdate"]["__typename"] == "AccountProvisioned"
            read = await reader.post(VIEW, variables, key)
            assert read["data"]["account"]["name"] == f"Slow {n}", f"stall {n}"
            await stall
        # Subscribed again, the reader answers from its local tier once more.
        await asyncio.sleep(1.5)
        for _ in range(20):  # a busy machine may let a lease run out now and then
            await reader.post(VIEW, variables, key)
            before = await _local_hits(reader)
            await reader.post(VIEW, variables, key)
            if await _local_hits(reader) == before + 1:
                break
        else:
            raise AssertionError("the reader's local tier stayed out of use")
    finally:
        await held.rollback()
        await holder.close()
        await redis.aclose()
        await writer.stop()
        await reader.stop()
        await server.stop()
