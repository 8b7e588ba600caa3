"""A subscription's periods depend on the instant it starts, not on the UTC offset the
instant was written in: months and days are counted in UTC, as stored periods renew.

`2026-10-31T00:30:00+01:00` is `2026-10-30T23:30:00Z`; counted in the caller's offset, its
first period ended on Nov 29 23:30Z (a day short) while renewals stepped in UTC."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benefitgate.clock import FixedClock
from benefitgate.subscriptions import due
from benefitgate.subscriptions.lifecycle import renewal
from benefitgate.subscriptions.provisioning import new_subscription
from tests.conftest import Api, api_key, catalog_loader
from tests.fixtures import factories

CREATE = """mutation($id: ID!, $term: Term!, $at: DateTime!, $key: String!) {
  subscriptionCreate(accountId: $id, tier: "pro", term: $term, seats: 1, startsAt: $at,
                     trialDays: 3, idempotencyKey: $key) {
    __typename ... on Error { code message } } }"""
SUB = """query($id: ID!) { account(id: $id) { ... on Account { subscription {
  currentPeriodStart currentPeriodEnd renewalDate
  trialEndsAt } } } }"""

OFFSETS = {
    "Z": timedelta(0),
    "+01:00": timedelta(hours=1),
    "-05:00": timedelta(hours=-5),
    "+05:30": timedelta(hours=5, minutes=30),
}


def written(instant: datetime, offset: timedelta) -> str:
    """The instant as a client writes it in `offset` ("Z" for UTC)."""
    if not offset:
        return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return instant.astimezone(timezone(offset)).isoformat()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# term, the start (UTC), the first period's end, then the renewed period's end. Each start
# falls on another day (or month, or year) in at least one of the offsets above.
CASES = [
    # Oct 31 00:30 at +01:00 (the probe's case): November has no 31st.
    ("MONTHLY", "2026-10-30T23:30", "2026-11-30T23:30", "2026-12-30T23:30"),
    # Jan 31 00:30 at +01:00; Jan 31 02:00Z is Jan 30 at -05:00.
    ("MONTHLY", "2027-01-30T23:30", "2027-02-28T23:30", "2027-03-30T23:30"),
    ("MONTHLY", "2027-01-31T02:00", "2027-02-28T02:00", "2027-03-31T02:00"),
    # A leap year: Jan 30 at +01:00 ends on Feb 29; Feb 29 23:30Z is Mar 1 at +01:00.
    ("MONTHLY", "2028-01-29T23:30", "2028-02-29T23:30", "2028-03-29T23:30"),
    ("MONTHLY", "2028-02-29T23:30", "2028-03-29T23:30", "2028-04-29T23:30"),
    # Dec 31 23:30Z is already next year at +01:00 and +05:30.
    ("MONTHLY", "2026-12-31T23:30", "2027-01-31T23:30", "2027-02-28T23:30"),
    ("ANNUAL", "2026-12-31T23:30", "2027-12-31T23:30", "2028-12-31T23:30"),
    # Feb 29 02:00Z is Feb 28 at -05:00; Feb 28 20:00Z is Mar 1 at +05:30.
    ("ANNUAL", "2028-02-29T02:00", "2029-02-28T02:00", "2030-02-28T02:00"),
    ("ANNUAL", "2027-02-28T20:00", "2028-02-28T20:00", "2029-02-28T20:00"),
    # Oct 31 at +01:00, a year on: no day missing.
    ("ANNUAL", "2026-10-30T23:30", "2027-10-30T23:30", "2028-10-30T23:30"),
]


async def _account(conn: asyncpg.Connection) -> uuid.UUID:
    account_id = uuid.uuid4()
    await conn.execute("insert into accounts (id, name) values ($1, 'New')", account_id)
    return account_id


async def _sub(api: Api, key: str, account: uuid.UUID) -> Any:
    return (await api.data(SUB, {"id": str(account)}, auth=key))["account"]["subscription"]


@pytest.mark.parametrize(("term", "start", "end", "renewed"), CASES)
async def test_the_same_instant_in_any_offset_starts_the_same_periods(
    conn: asyncpg.Connection,
    api: Api,
    pool: asyncpg.Pool,
    clock: FixedClock,
    term: str,
    start: str,
    end: str,
    renewed: str,
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    instant = _utc(start)
    clock.at = instant  # the start is within a year of now, the tier in force then
    accounts = {}
    for label, offset in OFFSETS.items():
        accounts[label] = await _account(conn)
        variables = {"id": str(accounts[label]), "term": term, "at": written(instant, offset)}
        made = await api.data(CREATE, {**variables, "key": uuid.uuid4().hex}, auth=key)
        assert made["subscriptionCreate"]["__typename"] == "SubscriptionChanged", made
    first = {label: await _sub(api, key, a) for label, a in accounts.items()}
    await due.apply_due(pool, catalog_loader(pool), _utc(end) + timedelta(minutes=1))
    second = {label: await _sub(api, key, a) for label, a in accounts.items()}

    expected_first = {
        "currentPeriodStart": instant.isoformat(),
        "currentPeriodEnd": _utc(end).isoformat(),
        "renewalDate": end[:10],
        "trialEndsAt": (instant + timedelta(days=3)).isoformat(),
    }
    expected_second = {
        **expected_first,
        "currentPeriodStart": _utc(end).isoformat(),
        "currentPeriodEnd": _utc(renewed).isoformat(),
        "renewalDate": renewed[:10],
        "trialEndsAt": None,  # the trial converted long before
    }
    assert first == {label: expected_first for label in OFFSETS}
    assert second == {label: expected_second for label in OFFSETS}
    stored = await conn.fetch(
        "select renewal_date, current_period_end from subscriptions where account_id = any($1)",
        list(accounts.values()),
    )
    assert {(r["renewal_date"], r["current_period_end"]) for r in stored} == {
        (date.fromisoformat(renewed[:10]), _utc(renewed))
    }


def _last_short_month_end(today: date) -> datetime:
    """23:30Z on the last 30th before `today` of a 31-day month followed by a shorter one:
    already the 31st at +01:00, a day the next month lacks. (A start is never later than
    now.)"""
    day = today - timedelta(days=2)
    while True:
        following = (day.month % 12 + 1, day.year + day.month // 12)
        longest = calendar.monthrange(day.year, day.month)[1]
        shorter = calendar.monthrange(following[1], following[0])[1] < longest
        if day.day == 30 and longest == 31 and shorter:
            return datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC)
        day -= timedelta(days=1)


def _run_import(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "benefitgate"
    return subprocess.run(  # noqa: S603 (the project's own CLI)
        [str(command), "import", *args],
        capture_output=True, text=True, env={**os.environ, "DATABASE_URL": dsn}, check=False,
    )  # fmt: skip


async def test_an_imported_start_counts_its_periods_in_utc(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await factories.catalog(conn)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\ncus_z,Zulu\ncus_p,Paris\ncus_k,Kolkata\n")
    assert _run_import(dsn, "accounts", str(accounts)).returncode == 0
    instant = _last_short_month_end(datetime.now(UTC).date())  # the CLI runs on real time
    subs = tmp_path / "subscriptions.csv"
    subs.write_text(
        "external_id,tier,term,seats,starts_at\n"
        f"cus_z,pro,monthly,1,{written(instant, timedelta(0))}\n"
        f"cus_p,pro,monthly,1,{written(instant, timedelta(hours=1))}\n"
        f"cus_k,pro,monthly,1,{written(instant, timedelta(hours=5, minutes=30))}\n"
    )

    done = _run_import(dsn, "subscriptions", str(subs))

    assert "created 3 subscriptions" in done.stdout, done.stdout + done.stderr
    rows = await conn.fetch(
        """select a.external_id, s.started_at, s.current_period_start, s.current_period_end,
                  s.renewal_date
           from subscriptions s join accounts a on a.id = s.account_id order by 1"""
    )
    year, month = instant.year + instant.month // 12, instant.month % 12 + 1
    end = instant.replace(year=year, month=month, day=calendar.monthrange(year, month)[1])
    assert [tuple(r) for r in rows] == [
        (name, instant, instant, end, end.date()) for name in ("cus_k", "cus_p", "cus_z")
    ]


GRANT = """mutation($id: ID!, $from: DateTime!, $key: String!) {
  grantCreate(accountId: $id, benefit: "late", source: MANUAL, validFrom: $from,
              idempotencyKey: $key) {
    __typename ... on InvalidInputError { field } } }"""


async def test_a_grant_starts_on_the_utc_day_of_its_instant(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A benefit introduced on Nov 20 is not in the catalog at Nov 19 23:30Z, however the
    instant is written (at +01:00 it was taken for Nov 20)."""
    catalog = await factories.catalog(conn)
    await conn.execute(
        """insert into benefits (key, name, kind, outcome_key, impact_amount, impact_unit,
           introduced_on) values ('late', 'late', 'feature', 'hours_saved', 2, 'hours', $1)""",
        date(2026, 11, 20),
    )
    account = await factories.account(conn, catalog["versions"]["pro"])
    key = await api_key(conn)
    before = _utc("2026-11-19T23:30")
    after = _utc("2026-11-20T00:30")

    answers = {}
    for at in (before, after):
        for label, offset in OFFSETS.items():
            variables = {"id": str(account), "from": written(at, offset), "key": uuid.uuid4().hex}
            answer = (await api.data(GRANT, variables, auth=key))["grantCreate"]
            answers[at.isoformat(), label] = answer.get("field", answer["__typename"])

    assert answers == {
        **{(before.isoformat(), label): "benefit" for label in OFFSETS},
        **{(after.isoformat(), label): "GrantChanged" for label in OFFSETS},
    }


_OFFSET_MINUTES = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)
_NEAR_MONTH_END = st.builds(
    lambda year, month, back, minute: (
        datetime(year, month, calendar.monthrange(year, month)[1], tzinfo=UTC)
        + timedelta(days=1, minutes=minute)
        - timedelta(days=back)
    ),
    st.sampled_from([2026, 2027]),
    st.integers(1, 12),
    st.integers(0, 3),
    st.integers(0, 24 * 60 - 1),
)
_ANY = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


async def test_periods_and_renewals_depend_only_on_the_instant(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """Over instants (many near a month's end) and any offset a client may write: the
    subscription, its first period, renewal date and the next renewals are those of the
    same instant written in UTC, and each renewal date is its period end's UTC day."""
    await factories.catalog(conn)
    catalog = await catalog_loader(pool)()

    def chain(start: datetime, term: str) -> list[tuple[datetime, datetime, date, datetime]]:
        sub = new_subscription("pro", term, 1, start, 0, catalog, start)
        periods = []
        for _ in range(4):
            assert sub.renewal_date == sub.current_period_end.astimezone(UTC).date()
            periods.append(
                (sub.current_period_start, sub.current_period_end, sub.renewal_date,
                 sub.started_at)
            )  # fmt: skip
            sub = renewal(sub, catalog).after
        return periods

    @settings(max_examples=400, deadline=None)
    @given(
        instant=st.one_of(_NEAR_MONTH_END, _ANY),
        minutes=_OFFSET_MINUTES,
        term=st.sampled_from(["monthly", "annual"]),
    )
    def check(instant: datetime, minutes: int, term: str) -> None:
        shifted = instant.astimezone(timezone(timedelta(minutes=minutes)))
        in_utc, in_offset = chain(instant, term), chain(shifted, term)
        assert in_offset == in_utc
        assert all(
            at.utcoffset() == timedelta(0)
            for period in in_offset
            for at in (*period[:2], period[3])
        )

    check()
