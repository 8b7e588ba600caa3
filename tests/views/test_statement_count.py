"""The account view costs a fixed number of SQL statements, whatever its list sizes."""

import asyncio
import re
from typing import Any

import asyncpg
import pytest

from benefitgate.db import create_pool
from benefitgate.logs import request_id
from tests.conftest import MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.statements import StatementLog

VIEW = """query($id: ID!) { account(id: $id) { ... on Account {
  id subscription { status } tier { key benefits { benefit { key } } }
  entitlements { benefit { key } source } usage { metric { key } used limit }
  nextTier { tier { key } addedBenefits { key } } } } }"""

PAGE = """{ accounts(first: 50) { ... on AccountConnection { edges { node {
  id entitlements { benefit { key } } usage { used } outcomeTargets { target actual }
  grants { id version } seats { assigned holders { user } }
  milestones { achieved { occurrence } next { current } }
  suggestion { id reasons { signal } gains { benefit { key } } }
  usageSeries(from: "2026-10-01", to: "2026-11-30", bucket: WEEK) {
    ... on UsageSeriesList { series { metric { key } points { value } } } } }
} } } }"""


async def _populate(conn: asyncpg.Connection, size: int) -> Any:
    cat = await factories.catalog(conn, benefits=size, metrics=size)
    ids = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(size)]
    await conn.execute(
        """insert into milestones (key, name, kind, metric_key, threshold, repeatable,
           created_at) values ('busy', 'Busy', 'usage_threshold', 'm0', 1000, true, now())"""
    )
    for account_id in ids:
        for n in range(size):
            await factories.grant(conn, account_id, f"b{n}", source="addon")
            await factories.usage(conn, account_id, f"m{n}", n)
        await conn.execute(
            """insert into outcome_targets values
               ($1, 'hours_saved', 10, '2026-11-01', '2026-11-30', '', 'test', now())""",
            account_id,
        )
        await conn.executemany(
            "insert into seat_assignments values (gen_random_uuid(), $1, $2, now())",
            [(account_id, f"user{n}") for n in range(size)],
        )
        await conn.executemany(
            "insert into achievements values (gen_random_uuid(), $1, 'busy', $2, now())",
            [(account_id, f"2026-{n + 1:02d}") for n in range(size)],
        )
    return ids


@pytest.mark.parametrize("size", [1, 8])
async def test_account_view_statement_count_does_not_grow_with_data(
    conn: asyncpg.Connection, make_api: MakeApi, size: int
) -> None:
    ids = await _populate(conn, size)
    key = await api_key(conn)
    log = StatementLog()
    # One pooled connection, warmed by a first round: asyncpg's one-off type introspection
    # and the catalog and key caches are then out of the count.
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(VIEW, {"id": str(ids[0])}, auth=key)
        await api.data(PAGE, auth=key)
        log.statements.clear()
        await api.data(VIEW, {"id": str(ids[0])}, auth=key)
        view_statements = list(log.statements)
        log.statements.clear()
        await api.data(PAGE, auth=key)
        page_statements = list(log.statements)

    # the account with its subscription, its grants and its current counters, in one
    assert len(view_statements) == 1, view_statements
    # the page of ids, the same three for the whole page, its outcome targets, its held seats, the
    # milestones with the page's achievements, its current suggestions, and every series of every
    # account. (Without the series it is 9; it was 10 when the entitlements read the active
    # grants and `grants` read them again with those starting later; one statement now reads
    # the latter, and the former are those of them active now.)
    assert len(page_statements) == 10, page_statements


ACCOUNT = {"accounts", "subscriptions", "partner_accounts"}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("id name", [ACCOUNT]),
        ("id subscription { status } tier { key } nextTier { tier { key } }", [ACCOUNT]),
        ("entitlements { benefit { key } }", [ACCOUNT | {"grants"}]),
        ("grants { id } entitlements { source }", [ACCOUNT | {"grants"}]),
        ("usage { used }", [ACCOUNT | {"grants", "usage_counters"}]),
        ("...Parts", [ACCOUNT | {"grants", "usage_counters"}]),  # through a named fragment
    ],
)
async def test_the_view_reads_only_what_the_document_selects(
    conn: asyncpg.Connection, make_api: MakeApi, selection: str, expected: list[set[str]]
) -> None:
    ids = await _populate(conn, 2)
    key = await api_key(conn)
    log = StatementLog()
    query = "query($id: ID!) { account(id: $id) { ... on Account { " + selection + " } } }"
    if "...Parts" in selection:
        query += " fragment Parts on Account { name usage { used } }"
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(VIEW, {"id": str(ids[0])}, auth=key)
        log.statements.clear()
        await api.data(query, {"id": str(ids[0])}, auth=key)

    read = [_tables(s) for s in log.statements]
    assert read == expected, log.statements


async def test_an_unknown_account_costs_one_statement_whatever_it_selects(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    ids = await _populate(conn, 1)
    key = await api_key(conn)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(VIEW, {"id": str(ids[0])}, auth=key)
        log.statements.clear()
        missing = "00000000-0000-4000-8000-000000000000"
        query = VIEW.replace("... on Account {", "... on Error { code } ... on Account {")
        data = await api.data(query, {"id": missing}, auth=key)

    assert data["account"] == {"code": "NOT_FOUND"}
    assert len(log.statements) == 1, log.statements


def _tables(statement: str) -> set[str]:
    """The tables a statement reads: every one named after `from` or `join`."""
    found = re.findall(r"\b(?:from|join)\s+(\w+)", statement)
    assert found, statement
    return set(found)


async def test_the_statement_log_counts_a_requests_statements_and_not_the_background(
    dsn: str,
) -> None:
    log = StatementLog()
    pool = await create_pool(dsn, min_size=1, max_size=1, on_connect=log.attach)
    try:
        await pool.fetchval("select 'background'")  # as a job's task runs it: no request
        token = request_id.set("request-1")
        try:
            await pool.fetchval("select 'request'")
        finally:
            request_id.reset(token)
        await asyncio.sleep(0)  # asyncpg logs on the loop's next turn
    finally:
        await pool.close()
    assert "select 'request'" in log.statements
    assert "select 'background'" not in log.statements
    assert "select 'background'" in log.background
