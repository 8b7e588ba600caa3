"""The renewal note, the recommendations and the report list each cost a fixed number of
SQL statements, however many grants, counters, benefits and reports the account has."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import asyncpg
import pytest

from benefitgate.reports import service as reports
from tests.conftest import MakeApi, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.statements import StatementLog

QUERIES = {
    "renewalNote": """query Q($id: ID!) { renewalNote(accountId: $id) { __typename
        ... on RenewalNote { text benefitsUnused { key } } } }""",
    "recommendations": """query Q($id: ID!) { recommendations(accountId: $id) { __typename
        ... on RecommendationList { recommendations { kind reasons { message } } } } }""",
    "impactReports": """query Q($id: ID!) { impactReports(accountId: $id) { __typename
        ... on ImpactReportList { reports { from csv } } } }""",
}
# The tables these reads touch; other statements on the connection are the background's
# (the listener's outbox reads) and the request's own account lookup.
TABLES = re.compile(
    r"\b(usage_daily|usage_counters|grants|achievements|outcome_targets|benefit_uses|"
    r"suggestions|entitlement_denials|seat_assignments|impact_reports)\b"
)


async def _account(conn: asyncpg.Connection, size: int) -> uuid.UUID:
    cat = await factories.catalog(conn, benefits=size + 1, metrics=size)
    account = await factories.account(conn, cat["versions"]["pro"])
    for key in cat["benefits"][:size]:
        await factories.grant(conn, account, key, valid_until=NOW + timedelta(days=30))
    for metric in cat["metrics"]:
        await factories.usage(conn, account, metric, 5)
        await conn.execute(
            "insert into usage_daily values ($1, $2, $3, 5)", account, metric, NOW.date()
        )
    return account


@pytest.mark.parametrize("size", [1, 6])
async def test_each_read_costs_fixed_statements(
    conn: asyncpg.Connection, pool: asyncpg.Pool, make_api: MakeApi, size: int
) -> None:
    account = await _account(conn, size)
    for months in (1, 3):  # a few reports to list
        await reports.generate_due(pool, catalog_loader(pool), months, 2, NOW)
    log = StatementLog()
    counts = {}
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        for name, query in QUERIES.items():
            await api.data(query, {"id": str(account)}, auth=frontend_token(account))  # warm
            log.statements.clear()
            data = await api.data(query, {"id": str(account)}, auth=frontend_token(account))
            assert data[name]["__typename"] != "NotFoundError"
            counts[name] = sum(bool(TABLES.search(q)) for q in log.statements)
    # The note: the impact summary's five, adoption's three, the suggestion's one. The
    # recommendations: the evidence's six and adoption's three. The reports: one.
    assert counts == {"renewalNote": 9, "recommendations": 9, "impactReports": 1}
