"""Read your writes across real replica processes sharing Redis: a write answered by one
replica is never followed by a stale answer from the other, read at once, although the
other had the old answer in its local tier and its outbox listener cannot hear the write
yet (an older transaction left open holds the write's events back)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess

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
