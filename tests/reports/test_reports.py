"""Scheduled impact reports: stored once per account and period however many runs race,
caught up after downtime, immutable, and exported as CSV and PDF whose text says what the
stored figures say (checked against usage rows written here)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import uuid
from datetime import date, datetime, timedelta

import asyncpg
import pytest
from pypdf import PdfReader

from benefitgate.entitlements.snapshots import EntitlementSnapshots
from benefitgate.events import outbox as events
from benefitgate.reports import service
from tests.conftest import Api, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK

REPORTS = """query Reports($id: ID!, $first: Int! = 8) {
  impactReports(accountId: $id, first: $first) { __typename
  ... on ImpactReportList { reports { from to createdAt valueDelivered { amountCents currency }
                                      csv pdfBase64 } }
  ... on Error { code message } } }"""
Q3 = (date(2026, 7, 1), date(2026, 9, 30))  # the last quarter closed at NOW (2026-11-15)


async def _usage_in_q3(conn: asyncpg.Connection, account: uuid.UUID) -> float:
    """m1 measures hours saved, worth 50.00 USD an hour: usage inside Q3 and either side."""
    days = {date(2026, 6, 30): 100.0, date(2026, 8, 10): 12.0, date(2026, 9, 30): 8.5}
    days[date(2026, 10, 1)] = 200.0
    await conn.copy_records_to_table(
        "usage_daily",
        records=[(account, "m1", d, v) for d, v in days.items()],
        columns=["account_id", "metric_key", "day", "value"],
    )
    await conn.execute(
        """update outcomes set name = '=Hours saved', metric_key = 'm1',
           value_per_unit_cents = 5000, value_currency = 'USD' where key = 'hours_saved'"""
    )
    return 12.0 + 8.5


async def test_racing_runs_store_each_report_once_with_one_event(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(5)]
    load = catalog_loader(pool)
    # Subscriptions started 2026-08-05: Q3 is owed, Q2 (and before) is not.
    made = await asyncio.gather(*(service.generate_due(pool, load, 3, 4, NOW) for _ in range(4)))
    assert sum(made) == 5
    rows = await conn.fetch("select account_id, period_start, period_end from impact_reports")
    assert sorted((r["account_id"], r["period_start"], r["period_end"]) for r in rows) == sorted(
        (a, *Q3) for a in accounts
    )
    events = await conn.fetch(
        "select account_id, payload from events where type = $1", service.EVENT
    )
    assert sorted(e["account_id"] for e in events) == sorted(accounts)
    assert {(e["payload"]["from"], e["payload"]["to"]) for e in events} == {
        (Q3[0].isoformat(), Q3[1].isoformat())
    }
    assert await service.generate_due(pool, load, 3, 4, NOW + timedelta(days=30)) == 0


async def test_after_downtime_the_missed_periods_are_made_each_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    load = catalog_loader(pool)
    assert await service.generate_due(pool, load, 3, 4, NOW) == 1  # Q3 2026
    # Down from then until May 2027: Q4 2026 and Q1 2027 closed meanwhile.
    later = datetime.fromisoformat("2027-05-02T00:00:00+00:00")
    assert await service.generate_due(pool, load, 3, 4, later) == 2
    assert await service.generate_due(pool, load, 3, 4, later) == 0
    periods = await conn.fetch(
        "select period_start from impact_reports where account_id = $1 order by 1", account
    )
    assert [r["period_start"] for r in periods] == [
        date(2026, 7, 1),
        date(2026, 10, 1),
        date(2027, 1, 1),
    ]
    # Monthly reports beside them: other periods, other rows; quarterly ones untouched.
    assert await service.generate_due(pool, load, 1, 2, later) == 2  # March and April 2027
    assert await conn.fetchval("select count(*) from impact_reports") == 5


async def test_a_stored_report_cannot_be_changed_or_removed(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    await factories.account(conn, cat["versions"]["basic"])
    await service.generate_due(pool, catalog_loader(pool), 3, 1, NOW)
    for statement in (
        "update impact_reports set document = '{}'",
        "delete from impact_reports",
        "truncate impact_reports",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="immutable"):
            await conn.execute(statement)
    assert await conn.fetchval("select count(*) from impact_reports") == 1


async def test_exports_say_what_the_usage_rows_say(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    other = await factories.account(conn, cat["versions"]["basic"])
    hours = await _usage_in_q3(conn, account)
    await service.generate_due(pool, catalog_loader(pool), 3, 1, NOW)
    token = frontend_token(account)

    (report,) = (await api.data(REPORTS, {"id": str(account)}, auth=token))["impactReports"][
        "reports"
    ]
    worth = round(hours * 5000)
    assert (report["from"], report["to"]) == (Q3[0].isoformat(), Q3[1].isoformat())
    assert report["valueDelivered"] == {"amountCents": worth, "currency": "USD"}

    rows = list(csv.DictReader(io.StringIO(report["csv"])))
    assert {(r["section"], r["key"]) for r in rows} == {
        ("total", ""),
        ("metric", "m1"),
        ("outcome", "hours_saved"),
    }
    (outcome,) = [r for r in rows if r["section"] == "outcome"]
    assert outcome["name"] == "'=Hours saved"  # a spreadsheet shows it, never runs it
    assert (float(outcome["value"]), int(outcome["amount_cents"])) == (hours, worth)
    assert all(r["period_from"] == "2026-07-01" and r["account_id"] == str(account) for r in rows)

    pdf = PdfReader(io.BytesIO(base64.b64decode(report["pdfBase64"])))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Impact report: Acme" in text
    assert "Period: 2026-07-01 to 2026-09-30" in text
    assert f"Estimated value delivered: {worth / 100:,.2f} USD" in text
    assert "=Hours saved" in text and f"{hours:g} hours" in text

    hidden = await api.data(REPORTS, {"id": str(other)}, auth=token)
    assert hidden["impactReports"]["code"] == "NOT_FOUND"
    refused = await api.data(REPORTS, {"id": str(account), "first": 0}, auth=token)
    assert refused["impactReports"]["code"] == "INVALID_INPUT"


async def test_report_events_leave_the_entitlement_snapshots_alone(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    """A quarter's close names every account: its events must not make every check reload."""
    cat = await factories.catalog(conn)
    reported, changed = [await factories.account(conn, cat["versions"]["basic"]) for _ in "ab"]
    await conn.execute("update subscriptions set started_at = $1 where account_id = $2",
                       NOW - timedelta(days=400), changed)  # fmt: skip
    assert api.app is not None
    snapshots = api.app.state.benefitgate.shared.get(EntitlementSnapshots)
    for account in (reported, changed):
        check = await api.data(
            CHECK, {"id": str(account), "feature": "b0"}, auth=frontend_token(account)
        )
        assert check["entitlementCheck"]["allowed"] is True
    assert len(snapshots) == 2
    await service.generate_due(pool, catalog_loader(pool), 3, 1, NOW)  # both get a report
    async with pool.acquire() as writer, writer.transaction():
        last = await events.enqueue(writer, "entitlement.changed", changed, {})  # after them
    listener = api.app.state.benefitgate.listener
    for _ in range(400):  # until the listener has handed every event over
        if listener.cursor is not None and listener.cursor.id >= last:
            break
        await asyncio.sleep(0.025)
    assert listener.cursor is not None and listener.cursor.id >= last
    assert len(snapshots) == 1  # the changed account's dropped; the reports dropped nothing


SCHEDULE = """mutation S($id: ID!, $months: Int, $key: String!) {
  impactReportScheduleSet(accountId: $id, months: $months, idempotencyKey: $key) { __typename
    ... on ImpactReportScheduleSet { months auditEntryId replayed } ... on Error { code } } }"""


async def test_an_account_of_its_own_schedule_gets_its_own_periods(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    cat = await factories.catalog(conn)
    monthly, quarterly, silent = [
        await factories.account(conn, cat["versions"]["basic"]) for _ in "abc"
    ]
    admin = await api_key(conn)
    for account, months in ((monthly, 1), (silent, 0)):
        done = await api.data(
            SCHEDULE, {"id": str(account), "months": months, "key": f"s{months}"}, auth=admin
        )
        assert done["impactReportScheduleSet"]["months"] == months
    again = await api.data(SCHEDULE, {"id": str(monthly), "months": 1, "key": "s1"}, auth=admin)
    assert again["impactReportScheduleSet"]["replayed"] is True
    for months, code in ((5, "INVALID_INPUT"), (1, "FORBIDDEN")):
        auth = admin if months == 5 else frontend_token(monthly)
        refused = await api.data(
            SCHEDULE, {"id": str(monthly), "months": months, "key": "x"}, auth=auth
        )
        assert refused["impactReportScheduleSet"]["code"] == code

    # Subscribed since 2026-08-05: August to October monthly, the third quarter quarterly.
    assert await service.generate_due(pool, catalog_loader(pool), 3, 4, NOW) == 4
    rows = await conn.fetch("select account_id, period_start, period_end from impact_reports")
    assert sorted(
        (r["account_id"], r["period_start"].month, r["period_end"].month) for r in rows
    ) == sorted([(monthly, 8, 8), (monthly, 9, 9), (monthly, 10, 10), (quarterly, 7, 9)])
    entry = await conn.fetchrow(
        """select id, before, after, target_kind from audit_log
           where action = 'impact_report.schedule_set' and account_id = $1""",
        monthly,
    )
    assert (entry["before"], entry["after"], entry["target_kind"]) == (
        {"months": None},
        {"months": 1},
        service.KIND,
    )
    # Back to the service's period (rolled back, then rolled back again: monthly, then
    # the service's): quarterly from now on; the monthly reports stay.
    first_entry = (
        await api.data(SCHEDULE, {"id": str(monthly), "months": 3, "key": "q"}, auth=admin)
    )["impactReportScheduleSet"]["auditEntryId"]
    undone = await rollback(api, admin, first_entry, "undo-q")
    assert (
        await conn.fetchval(
            "select months from impact_report_schedules where account_id = $1", monthly
        )
        == 1
    ), undone
    await rollback(api, admin, entry["id"], "undo-first")
    assert (
        await conn.fetchval(
            "select count(*) from impact_report_schedules where account_id = $1", monthly
        )
        == 0
    )
    assert await service.generate_due(pool, catalog_loader(pool), 3, 4, NOW) == 1  # its Q3
    assert (
        await conn.fetchval("select count(*) from impact_reports where account_id = $1", monthly)
        == 4
    )


AUDIT_LOG = """query L($action: String!) { auditLog(action: $action) { __typename
  ... on AuditPage { entries { id action targetKind } } ... on Error { code } } }"""


async def test_a_schedule_set_again_is_a_no_op_and_its_rollback_is_a_rollback(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    admin = await api_key(conn)
    set_ = await api.data(SCHEDULE, {"id": str(account), "months": 3, "key": "a"}, auth=admin)
    entry_id = set_["impactReportScheduleSet"]["auditEntryId"]
    assert entry_id is not None
    # 3 → 3 under a new key: nothing changes, no entry, no event.
    again = await api.data(SCHEDULE, {"id": str(account), "months": 3, "key": "b"}, auth=admin)
    assert again["impactReportScheduleSet"] == {
        "__typename": "ImpactReportScheduleSet",
        "months": 3,
        "auditEntryId": None,
        "replayed": False,
    }
    count = """select (select count(*) from audit_log where account_id = $1),
                      (select count(*) from events where type = $2 and account_id = $1)"""
    assert tuple(await conn.fetchrow(count, account, service.SCHEDULE_EVENT)) == (1, 1)

    undone = await rollback(api, admin, entry_id, "undo")
    assert undone["__typename"] == "RolledBack", undone
    assert (undone["entry"]["action"], undone["entry"]["rollbackOf"]) == ("rollback", entry_id)
    assert undone["entry"]["before"] == {"months": 3} and undone["entry"]["after"] == {
        "months": None
    }
    log = (await api.data(AUDIT_LOG, {"action": "rollback"}, auth=admin))["auditLog"]
    assert [(e["id"], e["targetKind"]) for e in log["entries"]] == [
        (undone["entry"]["id"], service.KIND)
    ]
    assert tuple(await conn.fetchrow(count, account, service.SCHEDULE_EVENT)) == (2, 2)
