"""Deterministic demo data: the catalog, partners, accounts, subscriptions, grants, usage.

`seed_demo` fills an empty, migrated database in one transaction. The same seed and clock
give identical rows: every random choice comes from one `random.Random(seed)`, drawn in a
fixed order, and every id is a UUID made from it. Metrics, outcomes, partners, accounts,
their partner links and subscriptions are created through the provisioning services (the
bulk ones for accounts and subscriptions, as `benefitgate import` creates them), each with
its audit entry and event, as actor `seed`; grants and usage history go in with COPY. One
chunk of accounts at a time, so memory stays bounded whatever the account count; while
Postgres writes one chunk, a worker thread builds the next (only one of them ever draws
from the generator, so the order of draws is fixed).

Usage history is the expensive part: a COPY into usage_daily costs 20 to 30 µs a row on a
two-core machine, almost all of it the two foreign-key checks. So daily rows exist only for
the metrics and days in DAILY_HISTORY and only on days with activity; every other metric
gets a counter without history. Every metric has a counter for its current period; where
daily rows exist it is derived from them (sum, or max for `max` metrics, of the days whose
date lies in the period, a period owning the whole day it starts in), and earlier periods
that the kept days cover completely get counters too. A billing period that began before
the kept days (an annual term) counts only the days that are kept.
"""

from __future__ import annotations

import asyncio
import calendar
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from benefitgate.accounts import bulk as accounts
from benefitgate.accounts.models import NewAccount, Subscription
from benefitgate.common.changes import ChangeContext
from benefitgate.demo.catalog import (
    BENEFITS,
    COMPANY_WORDS,
    METRICS,
    PARTNERS,
    TIERS,
    Limit,
    Metric,
    Tier,
    insert_catalog,
)
from benefitgate.demo.glossary import insert_glossary
from benefitgate.demo.milestones import insert_milestones
from benefitgate.demo.targets import insert_demo_targets
from benefitgate.events import outbox as events
from benefitgate.partners import service as partners
from benefitgate.subscriptions import bulk as subscriptions

__all__ = [
    "DAILY_HISTORY",
    "SeedError",
    "SeedSummary",
    "database_is_empty",
    "seed_demo",
]

# Days of daily rows kept per metric, ending today (UTC). 31 days always hold the current
# calendar month; 90 days hold about three monthly billing periods.
DAILY_HISTORY = {"api_calls": 90, "active_users": 31}
HISTORY_DAYS = max(DAILY_HISTORY.values())
CHUNK_ACCOUNTS = 2_500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_LOCK_KEY = 0x5EED5EED  # serialises concurrent seeders, so the emptiness check cannot race
_HEAVY_SHARE = 0.10
_WEEKEND_CHANCE, _WEEKEND_LOAD = 0.3, 0.3  # B2B: few active weekend days, and quieter ones
_MEAN_LOAD = (5 + 2 * _WEEKEND_CHANCE * _WEEKEND_LOAD) / 7  # of an always-active account
_GRANT_SHARE = 0.04
_PARTNER_SHARE, _TWO_PARTNER_SHARE = 0.30, 0.015
_PARTNER_WEIGHTS = (0.35, 0.25, 0.20, 0.12, 0.08)
_STATUSES = ("active", "trialing", "past_due", "canceled")
_STATUS_WEIGHTS = {"paid": (0.85, 0.07, 0.05, 0.03), "free": (0.97, 0.0, 0.0, 0.03)}
_FRACTIONAL_UNITS = frozenset({"GB"})

Row = tuple[Any, ...]


class SeedError(RuntimeError):
    """The database cannot be seeded: it already holds a catalog."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What `seed_demo` wrote; `usage_rows` counts usage_daily plus usage_counters rows."""

    tiers: int
    benefits: int
    accounts: int
    partners: int
    grants: int
    usage_rows: int
    demo_account_id: UUID
    demo_partner_id: UUID


@dataclass(frozen=True, slots=True)
class _Population:
    """How one tier's demo accounts look."""

    share: float
    annual_share: float
    seats: tuple[int, int]
    activity: tuple[float, float]  # chance of being active on a weekday


_POPULATION = {
    "free": _Population(0.40, 0.0, (1, 3), (0.0, 0.5)),
    "team": _Population(0.30, 0.3, (3, 15), (0.3, 0.9)),
    "business": _Population(0.20, 0.5, (10, 100), (0.5, 1.0)),
    "enterprise": _Population(0.10, 0.9, (50, 1000), (0.8, 1.0)),
}


class _GrantKind(NamedTuple):
    benefit_key: str
    source: str
    amount: int | None
    mode: str
    days: int | None  # validity; None lasts until revoked
    reason: str


_GRANT_KINDS = (
    _GrantKind("api_calls_100k", "addon", 100_000, "add", None, "Add-on: 100k API calls"),
    _GrantKind("automation_runs_10k", "addon", 10_000, "add", None, "Add-on: 10k runs"),
    _GrantKind("storage_100gb", "addon", 100, "add", None, "Add-on: 100 GB storage"),
    _GrantKind("integrations_10", "manual", 25, "override", 180, "Cap raised for a migration"),
    _GrantKind("priority_support", "manual", None, "add", 60, "Support upgrade for a go-live"),
    _GrantKind("phone_support_24x7", "manual", None, "add", 60, "24/7 cover for a migration"),
    _GrantKind("ai_agent_preview", "trial", None, "add", 30, "Early access: AI workflow agent"),
    _GrantKind("forecasting_preview", "trial", None, "add", 45, "Early access: forecasting"),
    _GrantKind("milestone_credit", "milestone", 5, "add", 90, "Ran 10,000 automations"),
    _GrantKind("anniversary_credit", "anniversary", 500, "add", 365, "Renewal anniversary"),
)
_GRANT_KEYS = {kind.benefit_key: kind for kind in _GRANT_KINDS}


@dataclass(frozen=True, slots=True)
class _Rung:
    tier: Tier
    version_id: int
    population: _Population


@dataclass(frozen=True, slots=True)
class _Subscription:
    id: UUID
    rung: _Rung
    term: str
    seats: int
    status: str
    started_at: datetime
    period_index: int  # the current period is the started_at + index * term one
    period_start: datetime
    period_end: datetime
    scheduled: _Rung | None = None
    trial_fallback: _Rung | None = None  # trials end with their period and fall back


@dataclass(frozen=True, slots=True)
class _Account:
    id: UUID
    name: str
    created_at: datetime
    sub: _Subscription
    activity: float
    growth: float  # relative change of load across the history window
    intensity: dict[str, float]  # share of the tier's typical volume used per period
    demo: bool = False
    # Share of the included amount the current period has reached by now (the demo's story).
    targets: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Context:
    rng: random.Random
    now: datetime
    rungs: list[_Rung]
    partners: list[UUID]
    window: list[date]  # HISTORY_DAYS days ending today (UTC)
    weekend: list[bool]
    today_fraction: float
    name_width: int


@dataclass(slots=True)
class _Chunk:
    last: int
    accounts: list[NewAccount]
    subscriptions: list[tuple[UUID, Subscription]]
    grants: list[Row]
    daily: list[Row] = field(default_factory=list)
    counters: list[Row] = field(default_factory=list)


class _Period(NamedTuple):
    start: datetime
    end: datetime | None
    first: int  # window index of the start date; negative when it lies before the window
    stop: int  # window index of the end date, at most HISTORY_DAYS


async def database_is_empty(conn: asyncpg.Connection) -> bool:
    """True when no tier exists, i.e. nothing has been seeded or published yet."""
    return not await conn.fetchval("select exists(select 1 from tiers)")


async def seed_demo(
    conn: asyncpg.Connection,
    *,
    accounts: int = 1000,
    seed: int = 42,
    now: datetime,
    progress: bool = False,
) -> SeedSummary:
    """Fill an empty database with the demo catalog and `accounts` accounts, atomically.

    Preconditions: schema migrated, jsonb codec set on `conn`, `now` timezone-aware.
    Raises SeedError, writing nothing, when a tier exists already. Writes the audit entries
    and events of what it provisions, and a `catalog.published` event, in the same
    transaction. Account 1 is the demo account.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1: the demo account is one of them")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", _LOCK_KEY)
        if not await database_is_empty(conn):
            raise SeedError("the database already has tiers; seed_demo only fills an empty one")
        change = _change(now)
        version_ids = await insert_catalog(conn, change)
        await insert_milestones(conn, now)
        await insert_glossary(conn, change)
        partner_ids = await _insert_partners(conn, rng, now)
        ctx = _context(rng, now, version_ids, partner_ids, accounts)
        demo = _plan_demo_account(ctx)
        grants, usage_rows = await _insert_accounts(conn, change, ctx, demo, accounts, progress)
        usage_rows += await insert_demo_targets(conn, demo.id, now)
        await _insert_feature_uses(conn, now)
        # History loaded in bulk marks no account: mark them all, so the scheduler's first
        # tick computes their upgrade suggestions.
        await conn.execute(
            "insert into suggestion_marks (account_id, marked_at) select id, $1 from accounts",
            now,
        )
        payload = {"tiers": [tier.key for tier in TIERS], "source": "seed"}
        await events.enqueue(conn, "catalog.published", None, payload)
    return SeedSummary(
        tiers=len(TIERS),
        benefits=len(BENEFITS),
        accounts=accounts,
        partners=len(partner_ids),
        grants=grants,
        usage_rows=usage_rows,
        demo_account_id=demo.id,
        demo_partner_id=partner_ids[0],
    )


async def _insert_feature_uses(conn: asyncpg.Connection, now: datetime) -> None:
    """Allowed checks of the features each account's tier includes, as the product's checks
    would have tallied them: about one feature in seven never used, the others last used in
    the last 45 days (drawn from the account and feature, so the same seed gives the same
    rows), for adoption tips and renewal notes to show both kinds."""
    await conn.execute(
        """
        insert into benefit_uses (account_id, benefit_key, count, first_at, last_at)
        select s.account_id, b.key, 1 + h.draw % 400, s.started_at,
               greatest(s.started_at, $1::timestamptz - h.minutes * interval '1 minute')
        from subscriptions s
        join tier_benefits tb on tb.tier_version_id = s.tier_version_id
        join benefits b on b.key = tb.benefit_key and b.kind = 'feature'
        cross join lateral (
            select abs(hashtext(s.account_id::text || b.key)::bigint) as draw,
                   abs(hashtext(b.key || s.account_id::text)::bigint) % (45 * 24 * 60) as minutes
        ) h
        where h.draw % 7 <> 0
        """,
        now,
    )


def _change(at: datetime) -> ChangeContext:
    return ChangeContext("seed", "demo data", None, at)


async def _insert_partners(
    conn: asyncpg.Connection, rng: random.Random, now: datetime
) -> list[UUID]:
    """The demo partners, each created as `partnerCreate` creates one, years apart."""
    ids = []
    for n, name in enumerate(PARTNERS):
        created = _change(now - timedelta(days=1200 - 150 * n))
        ids.append((await partners.create(conn, created, name, _uuid(rng))).id)
    return ids


def _context(
    rng: random.Random, now: datetime, version_ids: dict[str, int], partners: list[UUID], total: int
) -> _Context:
    today = now.date()
    window = [today - timedelta(days=HISTORY_DAYS - 1 - n) for n in range(HISTORY_DAYS)]
    midnight = datetime.combine(today, time(), tzinfo=UTC)
    return _Context(
        rng=rng,
        now=now,
        rungs=[_Rung(tier, version_ids[tier.key], _POPULATION[tier.key]) for tier in TIERS],
        partners=partners,
        window=window,
        weekend=[day.weekday() >= 5 for day in window],
        today_fraction=(now - midnight) / timedelta(days=1),
        name_width=max(4, len(str(total))),
    )


# --- chunks ----------------------------------------------------------------------------------


async def _insert_accounts(
    conn: asyncpg.Connection,
    change: ChangeContext,
    ctx: _Context,
    demo: _Account,
    total: int,
    progress: bool,
) -> tuple[int, int]:
    """Accounts 1..total, chunk by chunk; returns the grant and usage row counts."""
    bar = _ProgressBar(total, enabled=progress)
    chunk = _build_chunk(ctx, demo, 1, total)
    grants = usage_rows = 0
    while True:
        grants += len(chunk.grants)
        usage_rows += len(chunk.daily) + len(chunk.counters)
        if chunk.last == total:
            await _write_chunk(conn, change, chunk)
            break
        # A worker thread builds the next chunk while Postgres checks this one's keys.
        building = asyncio.to_thread(_build_chunk, ctx, demo, chunk.last + 1, total)
        _, following = await asyncio.gather(_write_chunk(conn, change, chunk), building)
        bar.update(chunk.last)
        chunk = following
    bar.update(total)
    bar.close()
    return grants, usage_rows


def _build_chunk(ctx: _Context, demo: _Account, first: int, total: int) -> _Chunk:
    """All rows of accounts first.. (at most CHUNK_ACCOUNTS of them); draws from ctx.rng."""
    numbers = range(first, min(total, first + CHUNK_ACCOUNTS - 1) + 1)
    plans = [demo if n == 1 else _plan_account(ctx, n) for n in numbers]
    managers = [_partners_of(ctx, plan) for plan in plans]  # drawn after the plans, in order
    chunk = _Chunk(
        last=numbers[-1],
        accounts=[
            NewAccount(plan.id, _external_id(ctx, n), plan.name, {}, linked, plan.created_at)
            for n, plan, linked in zip(numbers, plans, managers, strict=True)
        ],
        subscriptions=[(plan.id, _subscription(plan)) for plan in plans],
        grants=[row for plan in plans for row in _grant_rows(ctx, plan)],
    )
    for plan in plans:
        _usage_rows(ctx, plan, chunk.daily, chunk.counters)
    return chunk


async def _write_chunk(conn: asyncpg.Connection, change: ChangeContext, chunk: _Chunk) -> None:
    await accounts.create_many(conn, change, chunk.accounts)
    await subscriptions.create_many(conn, change, chunk.subscriptions)
    tables = (
        ("grants", _GRANT_COLUMNS, chunk.grants),
        ("usage_daily", ("account_id", "metric_key", "day", "value"), chunk.daily),
        ("usage_counters", _COUNTER_COLUMNS, chunk.counters),
    )
    for table, columns, rows in tables:
        if rows:
            await conn.copy_records_to_table(table, records=rows, columns=columns)


_GRANT_COLUMNS = (
    "id", "account_id", "benefit_key", "source", "amount", "mode", "valid_from",
    "valid_until", "revoked_at", "reason", "created_at",
)  # fmt: skip
_COUNTER_COLUMNS = ("account_id", "metric_key", "period_start", "period_end", "value", "updated_at")


# --- accounts and subscriptions ------------------------------------------------------------


def _plan_account(ctx: _Context, number: int) -> _Account:
    rng = ctx.rng
    account_id = _uuid(rng)
    first_word, second_word = (rng.choice(words) for words in COMPANY_WORDS)
    sub = _plan_subscription(ctx, _pick_rung(ctx))
    heavy = rng.random() < _HEAVY_SHARE
    low, high = (0.9, 1.0) if heavy else sub.rung.population.activity
    activity = rng.uniform(low, high)
    low, high = (0.9, 1.8) if heavy else (0.05, 0.6)
    intensity = {metric.key: rng.uniform(low, high) for metric in METRICS}
    return _Account(
        id=account_id,
        name=f"{first_word} {second_word} {number:0{ctx.name_width}d}",
        created_at=sub.started_at - timedelta(minutes=rng.randrange(5, 20_000)),
        sub=sub,
        activity=activity,
        growth=rng.uniform(-0.2, 0.5),
        intensity=intensity,
    )


def _pick_rung(ctx: _Context) -> _Rung:
    draw = ctx.rng.random()
    for rung in ctx.rungs:
        draw -= rung.population.share
        if draw < 0:
            return rung
    return ctx.rungs[-1]


def _plan_subscription(ctx: _Context, rung: _Rung) -> _Subscription:
    rng, now = ctx.rng, ctx.now
    sub_id = _uuid(rng)
    paid = rung.tier.monthly_cents > 0
    status = rng.choices(_STATUSES, _STATUS_WEIGHTS["paid" if paid else "free"])[0]
    annual = status != "trialing" and rng.random() < rung.population.annual_share
    term = "annual" if annual else "monthly"
    low_days, high_days = (30, 45) if status == "trialing" else (30, 3 * 365)
    ago = timedelta(minutes=rng.randrange(low_days * 1440, high_days * 1440))
    started_at = (now - ago).replace(second=0, microsecond=0)
    low, high = rung.population.seats
    seats = min(high, round(low * (high / low) ** rng.random()))
    index, start, end = _current_period(started_at, term, now)
    upgrade = paid and status == "active" and rng.random() < 0.02 and rung.tier.rank < 3
    scheduled = ctx.rungs[rung.tier.rank + 1] if upgrade else None
    fallback = ctx.rungs[0] if status == "trialing" else None
    return _Subscription(
        sub_id, rung, term, seats, status, started_at, index, start, end, scheduled, fallback
    )


def _plan_demo_account(ctx: _Context) -> _Account:
    """A Business account, 21 days into a monthly period, at 93% of its API-call limit."""
    rng, now = ctx.rng, ctx.now
    rung = next(rung for rung in ctx.rungs if rung.tier.key == "business")
    started_at = _add_months(now - timedelta(days=21), -14).replace(second=0, microsecond=0)
    index, start, end = _current_period(started_at, "monthly", now)
    sub = _Subscription(_uuid(rng), rung, "monthly", 40, "active", started_at, index, start, end)
    return _Account(
        id=_uuid(rng),
        name=f"Northwind Labs {1:0{ctx.name_width}d}",
        created_at=started_at - timedelta(days=3),
        sub=sub,
        activity=1.0,
        growth=0.1,
        intensity={metric.key: 0.6 for metric in METRICS}
        | {"api_calls": 0.95, "active_users": 0.9},
        demo=True,
        targets={"api_calls": 0.93},
    )


def _external_id(ctx: _Context, number: int) -> str:
    """The id a vendor's billing system would know the account by."""
    return f"demo_{number:0{ctx.name_width}d}"


def _subscription(plan: _Account) -> Subscription:
    sub, scheduled, fallback = plan.sub, plan.sub.scheduled, plan.sub.trial_fallback
    return Subscription(
        id=sub.id,
        tier_version_id=sub.rung.version_id,
        term=sub.term,
        seats=sub.seats,
        status=sub.status,
        current_period_start=sub.period_start,
        current_period_end=sub.period_end,
        renewal_date=sub.period_end.date(),  # monthly: the period end; annual: the anniversary
        scheduled_tier_version_id=None if scheduled is None else scheduled.version_id,
        scheduled_change_at=None if scheduled is None else sub.period_end,
        started_at=sub.started_at,
        version=1,
        scheduled_term=None,
        trial_ends_at=None if fallback is None else sub.period_end,
        trial_fallback_tier_version_id=None if fallback is None else fallback.version_id,
        trial_converts=False,  # a demo trial falls back to the free tier at its end
    )


def _partners_of(ctx: _Context, plan: _Account) -> tuple[UUID, ...]:
    """About 30% of accounts have a partner, a few two; the demo has the first partner."""
    draw = ctx.rng.random()
    if plan.demo:
        chosen = [ctx.partners[0]]
    elif draw < _PARTNER_SHARE:
        count = 2 if draw < _TWO_PARTNER_SHARE else 1
        chosen = ctx.rng.choices(ctx.partners, _PARTNER_WEIGHTS, k=count)
    else:
        chosen = []
    return tuple(dict.fromkeys(chosen))


# --- grants ----------------------------------------------------------------------------------


def _grant_rows(ctx: _Context, plan: _Account) -> list[Row]:
    """A few percent of accounts hold grants; some have run out, a few were revoked."""
    rng, now = ctx.rng, ctx.now
    if plan.demo:
        return _demo_grant_rows(ctx, plan)
    if rng.random() >= _GRANT_SHARE:
        return []
    started_at = plan.sub.started_at
    age = now - started_at
    kinds = [k for k in _GRANT_KINDS if k.source != "anniversary" or age > timedelta(days=366)]
    rows = []
    for kind in rng.sample(kinds, 2 if rng.random() < 0.3 else 1):
        if kind.source == "anniversary":
            valid_from = _add_months(started_at, 12 * _whole_years(started_at, now))
        else:
            valid_from = now - min(age, timedelta(days=120)) * rng.uniform(0.01, 1.0)
        until = None if kind.days is None else valid_from + timedelta(days=kind.days)
        revoked = None
        if rng.random() < 0.05:
            revoked = valid_from + (min(now, until or now) - valid_from) * rng.uniform(0.1, 0.9)
        rows.append(_grant_row(ctx, plan, kind, valid_from, until, revoked))
    return rows


def _demo_grant_rows(ctx: _Context, plan: _Account) -> list[Row]:
    """An active add-on, an expired trial, a revoked add-on, a support upgrade, a credit."""
    now, day = ctx.now, timedelta(days=1)
    specs = (
        ("api_calls_100k", _add_months(plan.sub.period_start, -2), None, None),
        ("ai_agent_preview", now - 50 * day, now - 20 * day, None),
        ("storage_100gb", now - 80 * day, None, now - 40 * day),
        ("phone_support_24x7", now - 10 * day, now + 50 * day, None),
        ("milestone_credit", now - 5 * day, now + 85 * day, None),
    )
    return [
        _grant_row(ctx, plan, _GRANT_KEYS[key], valid_from, until, revoked)
        for key, valid_from, until, revoked in specs
    ]


def _grant_row(
    ctx: _Context,
    plan: _Account,
    kind: _GrantKind,
    valid_from: datetime,
    valid_until: datetime | None,
    revoked_at: datetime | None,
) -> Row:
    return (
        _uuid(ctx.rng),
        plan.id,
        kind.benefit_key,
        kind.source,
        kind.amount,
        kind.mode,
        valid_from,
        valid_until,
        revoked_at,
        kind.reason,
        valid_from,
    )


# --- usage -----------------------------------------------------------------------------------


def _usage_rows(ctx: _Context, plan: _Account, daily: list[Row], counters: list[Row]) -> None:
    """Append the account's daily rows and the counters that agree with them."""
    loads = _daily_loads(ctx, plan)
    for metric in METRICS:
        if metric.key not in DAILY_HISTORY:
            counters.append(_snapshot_counter(ctx, plan, metric))
            continue
        kept_from = HISTORY_DAYS - DAILY_HISTORY[metric.key]
        series, periods = _metric_history(ctx, plan, metric, loads, kept_from)
        window = ctx.window
        daily += [(plan.id, metric.key, window[n], v) for n, v in enumerate(series) if v]
        for number, period in enumerate(periods):
            part = series[max(period.first, 0) : period.stop]
            value = max(part, default=0) if metric.aggregation == "max" else sum(part)
            if number == 0 or (period.first >= kept_from and value):
                counters.append((plan.id, metric.key, period.start, period.end, value, ctx.now))


def _daily_loads(ctx: _Context, plan: _Account) -> list[float]:
    """Relative load per day of the window: zero when inactive, lower at weekends."""
    rnd = ctx.rng.random
    first = (plan.sub.started_at.date() - ctx.window[0]).days
    loads = [0.0] * HISTORY_DAYS
    for n in range(max(first, 0), HISTORY_DAYS):
        weekend = ctx.weekend[n]
        if rnd() < plan.activity * (_WEEKEND_CHANCE if weekend else 1.0):
            trend = 1.0 + plan.growth * (n + 1 - HISTORY_DAYS) / HISTORY_DAYS
            loads[n] = trend * (_WEEKEND_LOAD if weekend else 1.0)
    loads[-1] *= ctx.today_fraction
    return loads


def _metric_history(
    ctx: _Context, plan: _Account, metric: Metric, loads: list[float], kept_from: int
) -> tuple[list[int], list[_Period]]:
    """Daily values (zero before `kept_from`) and the periods that overlap the window."""
    limit = plan.sub.rung.tier.limits[metric.key]
    series = _series(ctx, plan, metric, limit, loads)
    series[:kept_from] = [0] * kept_from
    periods = _periods(ctx, plan, metric)
    if limit.enforcement == "hard":
        _enforce(series, periods, limit, metric)
    target = plan.targets.get(metric.key)
    if target is not None and limit.included:
        _calibrate(series, periods[0], target * limit.included)
    return series, periods


def _series(
    ctx: _Context, plan: _Account, metric: Metric, limit: Limit, loads: list[float]
) -> list[int]:
    """Integer daily values: a headcount for `max` metrics, a volume for `sum` and `count`."""
    rnd = ctx.rng.random
    intensity = plan.intensity[metric.key]
    if metric.aggregation == "max":
        seats = plan.sub.seats
        base = seats * min(1.0, 0.2 + 0.75 * intensity)
        return [
            min(seats, round(base * load * (0.85 + 0.2 * rnd()))) if load else 0 for load in loads
        ]
    monthly = metric.reset == "calendar_month" or plan.sub.term == "monthly"
    base = intensity * limit.typical / (30 if monthly else 365) / _MEAN_LOAD
    return [int(base * load * (0.6 + 0.8 * rnd())) if load else 0 for load in loads]


def _enforce(series: list[int], periods: list[_Period], limit: Limit, metric: Metric) -> None:
    """A hard limit stops usage at the included amount within each period."""
    cap = int(limit.included or 0)
    for period in periods:
        used = 0
        for n in range(max(period.first, 0), period.stop):
            series[n] = min(series[n], cap if metric.aggregation == "max" else cap - used)
            used += series[n]


def _calibrate(series: list[int], current: _Period, target: float) -> None:
    """Scale the current period's days so that they add up to about `target`."""
    days = slice(max(current.first, 0), current.stop)
    total = sum(series[days])
    if total:
        series[days] = [int(value * target / total) for value in series[days]]


def _periods(ctx: _Context, plan: _Account, metric: Metric) -> list[_Period]:
    """The current period, then the earlier ones that overlap the window, newest first."""
    if metric.reset == "never":
        return [_Period(EPOCH, None, 0, HISTORY_DAYS)]
    if metric.reset == "billing_period":
        anchor, step, index = (
            plan.sub.started_at,
            _term_months(plan.sub.term),
            plan.sub.period_index,
        )
    else:
        anchor, step, index = EPOCH, 1, (ctx.now.year - 1970) * 12 + ctx.now.month - 1
    periods: list[_Period] = []
    while index >= 0:
        start, end = _add_months(anchor, index * step), _add_months(anchor, (index + 1) * step)
        first = (start.date() - ctx.window[0]).days
        stop = (end.date() - ctx.window[0]).days
        periods.append(_Period(start, end, first, min(stop, HISTORY_DAYS)))
        if first <= 0:
            break
        index -= 1
    return periods


def _snapshot_counter(ctx: _Context, plan: _Account, metric: Metric) -> Row:
    """A counter without daily history: the level for `latest` metrics, else usage to date."""
    limit = plan.sub.rung.tier.limits[metric.key]
    start, end, _, _ = _periods(ctx, plan, metric)[0]
    share = plan.intensity[metric.key] * ctx.rng.uniform(0.8, 1.2)
    if metric.aggregation != "latest" and end is not None:
        share *= plan.activity * min(1.0, (ctx.now - start) / (end - start))
    amount = share * limit.typical
    if limit.enforcement == "hard":
        amount = min(amount, float(limit.included or 0))
    value = Decimal(f"{amount:.1f}") if metric.unit in _FRACTIONAL_UNITS else round(amount)
    return (plan.id, metric.key, start, end, value, ctx.now)


# --- helpers ---------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _term_months(term: str) -> int:
    return 12 if term == "annual" else 1


def _add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def _whole_years(since: datetime, now: datetime) -> int:
    years = now.year - since.year
    return years if _add_months(since, 12 * years) <= now else years - 1


def _current_period(
    started_at: datetime, term: str, now: datetime
) -> tuple[int, datetime, datetime]:
    """Index, start and end of the term period that contains `now` (start <= now < end)."""
    step = _term_months(term)
    index = max(0, ((now.year - started_at.year) * 12 + now.month - started_at.month) // step)
    while index > 0 and _add_months(started_at, index * step) > now:
        index -= 1
    while _add_months(started_at, (index + 1) * step) <= now:
        index += 1
    return index, _add_months(started_at, index * step), _add_months(started_at, (index + 1) * step)


class _ProgressBar:
    """One line on stderr, redrawn per chunk: `[#####.....]  45% accounts 45000/100000`."""

    def __init__(self, total: int, *, enabled: bool, width: int = 30) -> None:
        self.total, self.enabled, self.width = total, enabled, width

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        filled = done * self.width // self.total
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {done * 100 // self.total:3d}% accounts {done}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
