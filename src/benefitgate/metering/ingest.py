"""Recording usage events: idempotent, set-wise, exactly once per client event id."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts.known import KnownAccounts
from benefitgate.accounts.models import Account
from benefitgate.accounts.timeline import account_as_of
from benefitgate.auth.principals import Principal
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.metering import groups, recorded, repository
from benefitgate.metering.cascade import UsageCascade
from benefitgate.metering.groups import InvalidDimension, group_of
from benefitgate.metering.models import (
    MAX_EVENT_ID,
    EventOutcome,
    EventStatus,
    Rejection,
    UsageEvent,
)
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.repository import CounterKey, EventKey
from benefitgate.metering.rules import Window, negative_allowed
from benefitgate.metering.uniques import InvalidProperty, unique_of
from benefitgate.telemetry import metrics
from benefitgate.usage.periods import Period

__all__ = [
    "MAX_BATCH",
    "Batch",
    "BatchTooLarge",
    "Candidate",
    "Screened",
    "Written",
    "cascade_of",
    "count_outcomes",
    "decide",
    "months_of",
    "record_usage",
    "rows_of",
    "screen",
    "write",
]

MAX_BATCH = 1000


class BatchTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Batch:
    """One call's events, as every edge records them (usageRecord, POST /events): `prepare`
    outside the transaction, then `record` in it."""

    principal: Principal
    events: Sequence[UsageEvent]
    catalog: Catalog
    now: datetime
    partitions: Partitions

    async def prepare(self, conn: asyncpg.Connection) -> None:
        window = self.partitions.window
        await self.partitions.ensure(conn, months_of(self.events, self.now, window))

    async def record(self, conn: asyncpg.Connection) -> list[EventOutcome]:
        return await record_usage(
            conn, self.principal, self.events, self.catalog, self.now, self.partitions.window
        )


def months_of(events: Sequence[UsageEvent], now: datetime, window: Window) -> list[date]:
    """The UTC months whose partitions a batch may write to. Only events inside the
    accepted window count, so a client cannot make the service create far-off partitions."""
    inside = [e.occurred_at for e in events if window.contains(e.occurred_at, now)]
    moments = [at.astimezone(UTC) for at in inside]
    return sorted({date(at.year, at.month, 1) for at in moments})


def _rejection(
    event: UsageEvent,
    account: Account | None,
    principal: Principal,
    catalog: Catalog,
    now: datetime,
    window: Window,
) -> Rejection | None:
    """Why the event is refused, if it is. An account the caller may not see is
    UNKNOWN_ACCOUNT, as a missing one is: the answer never tells them apart."""
    if not 0 < len(event.event_id) <= MAX_EVENT_ID or len(event.source) > MAX_EVENT_ID:
        return Rejection.INVALID_EVENT_ID
    if account is None or not principal.can_see(account.id, account.partner_ids):
        return Rejection.UNKNOWN_ACCOUNT
    metric = catalog.metrics.get(event.metric_key)
    if metric is None:
        return Rejection.UNKNOWN_METRIC
    if not quantities.is_usage(event.value):
        return Rejection.VALUE_OUT_OF_RANGE
    if event.value < 0 and not negative_allowed(metric.aggregation):
        return Rejection.NEGATIVE_VALUE
    if not window.contains(event.occurred_at, now):
        return Rejection.OUTSIDE_WINDOW
    return None


async def record_usage(
    conn: asyncpg.Connection,
    principal: Principal,
    events: Sequence[UsageEvent],
    catalog: Catalog,
    now: datetime,
    window: Window,
) -> list[EventOutcome]:
    """Record a batch in the caller's transaction; one outcome per event, in input order.

    Events outside `window` are rejected. A client event id counts once per account over
    the whole window, also across concurrent and retried batches. Counters, daily buckets
    and threshold events are written set-wise with the events. The partitions of
    `months_of(events, now, window)` must exist. Raises BatchTooLarge above MAX_BATCH
    events, before writing anything.
    """
    if len(events) > MAX_BATCH:
        raise BatchTooLarge
    screened = await screen(conn, principal, events, catalog, now, window)
    return screened.outcomes_with(await decide(conn, screened.candidates, catalog, now))


@dataclass(frozen=True, slots=True)
class Screened:
    """A batch read against the rules: each event's outcome where the rules or an earlier
    event of the batch decided it (None where the write decides), and the candidates left
    for the write, in order, each with its dedup key (account, source, event id)."""

    outcomes: list[EventOutcome | None]
    candidates: list[Candidate]
    keys: list[tuple[UUID, str, str]]

    def outcomes_with(self, decided: Sequence[EventOutcome]) -> list[EventOutcome]:
        """Every event's outcome, in input order, given the candidates' (in theirs)."""
        written = iter(decided)
        return [outcome or next(written) for outcome in self.outcomes]


async def screen(
    conn: asyncpg.Connection,
    principal: Principal,
    events: Sequence[UsageEvent],
    catalog: Catalog,
    now: datetime,
    window: Window,
    known: KnownAccounts | None = None,
) -> Screened:
    """Read the batch's accounts (through `known` when given) and apply the rules to each
    event: no lock taken, nothing written, so it may run outside the write's transaction."""
    account_of = await _accounts_of(conn, events, known, catalog, now)
    period_of = _PeriodsOf()
    outcomes: list[EventOutcome | None] = []
    candidates: dict[tuple[UUID, str, str], Candidate] = {}
    for event in events:
        account = account_of(event)
        reason = _rejection(event, account, principal, catalog, now, window)
        group = unique = None
        if reason is None:
            group, unique, reason = _properties_of(event, catalog)
        if reason is not None:
            outcomes.append(EventOutcome(event, EventStatus.REJECTED, reason))
            continue
        assert account is not None
        key = (account.id, event.source, event.event_id)
        if key in candidates:
            outcomes.append(EventOutcome(event, EventStatus.DUPLICATE))
        else:
            period = period_of(account, catalog.metrics[event.metric_key].reset, event)
            candidates[key] = Candidate(event, account, period, group, unique)
            outcomes.append(None)  # accepted, a duplicate or too many groups: decided below
    found = list(candidates.values())
    if period_of.unsure:  # backdated past a renewal: rare, and then one statement
        found = await _in_ended_periods(conn, found, catalog, period_of.unsure)
    return Screened(outcomes, found, list(candidates))


async def _in_ended_periods(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    catalog: Catalog,
    unsure: dict[UUID, Account],
) -> list[Candidate]:
    """The candidates, those of the `unsure` accounts in the billing period their
    subscription really had at their instant, read from its history: the periods it
    ended may have had another term than the current one. No lock is needed: the history
    of a period is written with the renewal that ends it, and before that renewal is
    written, the account as of now knows the period already (`timeline.renewed`)."""
    since = min(c.event.occurred_at for c in candidates if c.account.id in unsure)
    knowing = await accounts.with_ended_periods(conn, unsure, since)
    period_of = _PeriodsOf()

    def placed(c: Candidate) -> Candidate:
        account = knowing.get(c.account.id)
        if account is None:
            return c
        period = period_of(account, catalog.metrics[c.event.metric_key].reset, c.event)
        return replace(c, account=account, period=period)

    return [placed(c) for c in candidates]


class _PeriodsOf:
    """`Account.period_at` for a batch's events, remembering the last period found for
    each account and reset: most events of a batch fall in it, and finding it again cost
    3 % of a busy service's samples. Periods of one account and reset tile time, so the
    one that contains an instant is the only period it can be."""

    __slots__ = ("_found", "unsure")

    def __init__(self) -> None:
        self._found: dict[tuple[UUID, str], Period] = {}
        # The accounts with an event before every billing period they know: its period is
        # in their history (`_in_ended_periods`).
        self.unsure: dict[UUID, Account] = {}

    def __call__(self, account: Account, reset: str, event: UsageEvent) -> Period:
        at = event.occurred_at
        key = (account.id, reset)
        period = self._found.get(key)
        if period is None or at < period.start or (period.end is not None and at >= period.end):
            period = self._found[key] = account.period_at(reset, at)
            if not account.knows_period_at(reset, at):
                self.unsure[account.id] = account
        return period


def _properties_of(
    event: UsageEvent, catalog: Catalog
) -> tuple[str | None, str | None, Rejection | None]:
    """The event's group and unique value (None where its metric has none), or why its
    properties are refused."""
    metric = catalog.metrics[event.metric_key]
    try:
        return group_of(event, metric.group_by), unique_of(event, metric), None
    except InvalidDimension:
        return None, None, Rejection.INVALID_DIMENSION
    except InvalidProperty:
        return None, None, Rejection.INVALID_PROPERTY


@dataclass(frozen=True, slots=True)
class Candidate:
    """An event that passed the rules, with its account, period, group and unique value."""

    event: UsageEvent
    account: Account
    period: Period
    group: str | None
    unique: str | None

    @property
    def counter(self) -> CounterKey:
        return (self.account.id, self.event.metric_key, self.period.start)

    @property
    def key(self) -> EventKey:
        """What makes the event once: its account, source and id."""
        return (self.account.id, self.event.source, self.event.event_id)


async def decide(
    conn: asyncpg.Connection, candidates: list[Candidate], catalog: Catalog, now: datetime
) -> list[EventOutcome]:
    """Each candidate's outcome, in order, written in the caller's transaction."""
    return (await write(conn, candidates, catalog, now)).outcomes(candidates)


@dataclass(frozen=True, slots=True)
class Written:
    """What a write decided for its candidates: those refused for opening a group past the
    bound (positions), and for each of the others whether it was stored (else it was found
    stored before: a duplicate)."""

    over: set[int]
    stored: list[bool]

    def outcomes(self, candidates: Sequence[Candidate]) -> list[EventOutcome]:
        """Each candidate's outcome, in order: refused for too many groups, accepted or a
        duplicate."""
        stored = iter(self.stored)
        accepted, duplicate = EventStatus.ACCEPTED, EventStatus.DUPLICATE
        return [
            EventOutcome(c.event, EventStatus.REJECTED, Rejection.TOO_MANY_GROUPS)
            if i in self.over
            else EventOutcome(c.event, accepted if next(stored) else duplicate)
            for i, c in enumerate(candidates)
        ]


async def write(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    catalog: Catalog,
    now: datetime,
    cascade: UsageCascade | None = None,
    rows: repository.EventRows | None = None,
) -> Written:
    """Write the candidates in the caller's transaction. `cascade` (read for the
    candidates' accounts) and `rows` (`rows_of(candidates)`) may be given, made before the
    transaction; they are read or made here otherwise."""
    over: set[int] = set()
    if any(c.group is not None for c in candidates):  # most metrics have no dimensions
        grouped = [(c.counter, c.group, c.key) for c in candidates]
        over = await groups.over_bound(conn, grouped)
    kept = candidates
    if over:
        kept, rows = [c for i, c in enumerate(candidates) if i not in over], None
    if not kept:
        return Written(over, [])
    if cascade is None:
        cascade = await cascade_of(conn, kept, catalog, now)
    rows = rows or rows_of(kept, catalog)
    return Written(over, await _store(conn, kept, rows, cascade, catalog, now))


async def cascade_of(
    conn: asyncpg.Connection, candidates: Sequence[Candidate], catalog: Catalog, now: datetime
) -> UsageCascade:
    """What the cascade after the write needs for the candidates' accounts and metrics."""
    involved = list({c.account.id: c.account for c in candidates}.values())
    keys = {c.event.metric_key for c in candidates}
    return await UsageCascade.prepare(conn, involved, catalog, now, keys)


def rows_of(candidates: Sequence[Candidate], catalog: Catalog) -> repository.EventRows:
    """The candidates as the write statement takes them."""
    rows = repository.EventRows()
    for c in candidates:
        event = c.event
        rows.add(
            c.account.id,
            event.metric_key,
            event.source,
            event.event_id,
            event.value,
            event.occurred_at,
            c.period,
            catalog.metrics[event.metric_key].aggregation,
            c.unique,
        )
    return rows


async def _accounts_of(
    conn: asyncpg.Connection,
    events: Sequence[UsageEvent],
    known: KnownAccounts | None,
    catalog: Catalog,
    now: datetime,
) -> Callable[[UsageEvent], Account | None]:
    """Load the events' accounts, each with its subscription as it stands at `now` (as
    every read shows it: a renewal due and not yet written has happened, so its events
    count in the new period, of the new term, against the new tier's limits); returns each
    event's account. A subject names the account with that id (in its 36-character form),
    else the one with that external id. One statement, unless a subject shaped as an id
    names no account by it: such subjects are then looked up as external ids by a second
    one (looking every id-shaped subject up as an external id too made Postgres scan the
    accounts and their subscriptions whole)."""
    ids: set[UUID | str] = {e.account_id for e in events if e.account_id is not None}
    subjects = {e.subject for e in events if e.subject is not None}
    # A subject that is a kept account's id is shaped as one (the test costs far less).
    kept = known.id_texts if known is not None else {}
    id_shaped = {s for s in subjects if s in kept or _UUID_TEXT.fullmatch(s)}
    # Ids are sent as text: asyncpg parses them far faster than uuid.UUID does.
    ids.update(s.lower() for s in id_shaped)
    load = accounts.accounts_by_ids if known is None else known.get

    async def read(ids: list[UUID | str], external_ids: list[str]) -> dict[UUID, Account]:
        found = await load(conn, ids, external_ids)
        return {i: account_as_of(a, catalog, now) for i, a in found.items()}

    found = await read(list(ids), list(subjects - id_shaped))
    if not subjects:
        return lambda e: found.get(e.account_id) if e.account_id else None
    by_text = {str(a.id): a for a in found.values()}
    unmatched = [s for s in id_shaped if s.lower() not in by_text]
    if unmatched:
        found.update(await read([], unmatched))
    by_external = {a.external_id: a for a in found.values() if a.external_id is not None}

    def account_of(event: UsageEvent) -> Account | None:
        subject = event.subject
        if subject is None:
            return found.get(event.account_id) if event.account_id else None
        return by_text.get(subject.lower()) or by_external.get(subject)

    return account_of


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


async def _store(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    batch: repository.EventRows,
    cascade: UsageCascade,
    catalog: Catalog,
    now: datetime,
) -> list[bool]:
    """Store the candidates (`batch`: their rows); returns for each whether it was
    stored (the others are duplicates of events stored before)."""
    positions, counters, crossings = await repository.record_events(
        conn, batch, now, cascade.finite_limits(), recorded.REPORT
    )
    grouped = [
        batch.grouped(i, group) for i in positions if (group := candidates[i].group) is not None
    ]
    if grouped:
        await repository.record_groups(conn, grouped)
    added = batch.added(positions)
    await cascade.after_counters(conn, counters, catalog, now, added, crossings, reported=True)
    stored = set(positions)
    return [i in stored for i in range(len(candidates))]


def count_outcomes(outcomes: Sequence[EventOutcome]) -> None:
    """Count a committed batch's events by status and reason, into the metrics."""
    tally = Counter((o.status.value, o.reason.value if o.reason else "") for o in outcomes)
    for (status, reason), n in tally.items():
        metrics.USAGE_EVENTS.labels(status, reason).inc(n)
