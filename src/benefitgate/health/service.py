"""Account health and renewal risk: the signals of many accounts read at once (seven
statements whatever their number), scored by `health.factors`; the stored scores the
health job keeps (`health.refresh`), which the account view shows and accounts at risk
pages through, most at risk first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts.models import Account
from benefitgate.adoption import service as adoption
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import InvalidChange
from benefitgate.health import repository, scores
from benefitgate.health.factors import health_of
from benefitgate.health.models import Health, Scored, Signals, TargetPace
from benefitgate.health.ranking import Position
from benefitgate.targets import service as targets
from benefitgate.targets.models import TargetProgress

__all__ = [
    "ADOPTION_DAYS", "CURSOR_LIFETIME", "DENIAL_DAYS", "at_risk", "health_by_account",
    "renews_on", "stored_health",
]  # fmt: skip

ADOPTION_DAYS = 60  # a benefit unused this long counts against adoption
DENIAL_DAYS = 30
# How long a walk through accounts at risk may go on reading the ranking as it stood when
# it began (the health job keeps the rows it closed a little longer).
CURSOR_LIFETIME = timedelta(days=1)


def _paces(progress: Sequence[TargetProgress], now: datetime) -> list[TargetPace]:
    today = now.astimezone(UTC).date()
    paces = []
    for p in progress:
        t = p.target
        if p.percent is None or not t.starts_on <= today <= t.ends_on:
            continue
        elapsed = ((today - t.starts_on).days + 1) / ((t.ends_on - t.starts_on).days + 1)
        paces.append(TargetPace(t.outcome_key, p.percent, elapsed))
    return paces


async def health_by_account(
    conn: asyncpg.Connection, found: Sequence[Account], catalog: Catalog, now: datetime
) -> dict[UUID, Health]:
    ids = [a.id for a in found]
    today = now.astimezone(UTC).date()
    usage = await repository.usage_windows(conn, ids, today)
    progress = await targets.progress_by_account(conn, ids, catalog, today)
    since = now - timedelta(days=ADOPTION_DAYS)
    adopted = await adoption.adoption_of(conn, found, catalog, now, since)
    held = await repository.seats_held(conn, ids)
    denied = await repository.denied_features(conn, ids, now - timedelta(days=DENIAL_DAYS))
    result = {}
    for a in found:
        measured = [b for b in adopted.get(a.id, ()) if b.measure and b.held_since <= since]
        sub = a.subscription
        signals = Signals(
            usage=usage.get(a.id, {}),
            targets=_paces(progress.get(a.id, []), now),
            benefits_measured=len(measured),
            benefits_unused=sum(b.unused_since(since) for b in measured),
            seats_held=held.get(a.id, 0),
            seats_purchased=0 if sub is None else sub.seats,
            denied_features=denied.get(a.id, 0),
            cancel_scheduled=sub is not None and sub.cancel_at_period_end,
        )
        result[a.id] = health_of(a.id, signals)
    return result


def renews_on(account: Account) -> date | None:
    """The date the account's subscription renews, unless it has none or it is canceled:
    what accounts at risk are ranked by."""
    sub = account.subscription
    return None if sub is None or sub.status == "canceled" else sub.renewal_date


async def stored_health(
    conn: asyncpg.Connection, found: Sequence[Account], catalog: Catalog, now: datetime
) -> dict[UUID, Scored]:
    """The accounts' stored scores, as accounts at risk rank them; an account the job has
    not scored yet (created since its last run) is scored here, at `now`, unstored."""
    stored = await scores.current(conn, [a.id for a in found])
    missing = [a for a in found if a.id not in stored]
    if missing:
        live = await health_by_account(conn, missing, catalog, now)
        stored |= {a.id: Scored(live[a.id], renews_on(a), now) for a in missing}
    return stored


def _check_cursor(
    after: Position, within_days: int, partner_id: UUID | None, now: datetime
) -> None:
    """Raises InvalidChange unless `after` could be a cursor of this walk: the same window
    and caller (a cursor taken to another window or by another caller would skip or repeat
    accounts), an instant within CURSOR_LIFETIME of now (a round may run a little ahead of
    this replica's clock, never a day), and its window's first day the day of its first
    page, at most a lifetime after that instant (so no date computed from it overflows)."""
    if (after.within_days, after.partner_id) != (within_days, partner_id):
        raise InvalidChange("after", "this cursor is from another walk; start again")
    if after.as_of < now - CURSOR_LIFETIME:
        raise InvalidChange("after", "the ranking this cursor read is gone; start again")
    first_day = after.as_of.astimezone(UTC).date()
    if after.as_of > now + CURSOR_LIFETIME or not (
        -1 <= (after.day - first_day).days <= CURSOR_LIFETIME.days + 1
    ):
        raise InvalidChange("after", "after is not a cursor this API produced")


async def at_risk(
    conn: asyncpg.Connection, within_days: int, partner_id: UUID | None, now: datetime,
    after: Position | None, first: int,
) -> tuple[list[tuple[Account, Scored]], bool, Position | None]:  # fmt: skip
    """The accounts (a partner's own, with `partner_id`) whose subscription renews in the
    next `within_days` days, most at risk first, a page after `after`, as the stored
    ranking stood at the walk's instant: the last round when `after` is None, else the
    one the cursor names. Returns the page, whether more follow, and the position its
    cursors start from (None: nothing was ever scored). Three statements whatever the
    number of accounts. Raises InvalidChange for a cursor older than CURSOR_LIFETIME."""
    if after is None:
        as_of = await scores.ranked_at(conn)
        if as_of is None:
            return [], False, None
        today = now.astimezone(UTC).date()
        start = Position(as_of, today, within_days, partner_id, -1, UUID(int=0))
    else:
        _check_cursor(after, within_days, partner_id, now)
        start = after
    window = (start.day, start.day + timedelta(days=within_days))
    rows = await scores.page(
        conn, start.as_of, window, partner_id, (start.score, start.account_id), first + 1
    )
    found = await accounts.accounts_by_ids(conn, [r.health.account_id for r in rows[:first]])
    return [(found[r.health.account_id], r) for r in rows[:first]], len(rows) > first, start
