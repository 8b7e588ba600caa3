"""When an account's view stops being true with time alone, for the response cache.

A view read at `now` changes without any write when a UTC day ends (benefits' dates,
calendar months, outcome targets by date), the billing period or a trial ends, a scheduled
change falls due, the renewal's days left drop by one, a grant starts or ends (from the
grants the view read, `next_grant_change`, or read after the response, `grants_change_at`),
or a tier version comes into force (the catalog's `next_change`). Projections, the day a
limit is reached and milestone progress move continuously while there is usage: a document
that selects them is not stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import Grant

__all__ = [
    "MOVING_FIELDS",
    "account_changes_at",
    "earliest_after",
    "grants_change_at",
    "next_grant_change",
    "next_midnight",
]

# Fields whose values move with every second while a metric has usage in its period, and
# fields whose answer no event of the account announces: the audit trail and seat history
# (read from every domain's entries, not all of which are followed by the cache's tags)
# and credits (whose grants expire with time alone); health reads usage windows that
# slide with each day and checks that no event reports; benchmarks read other accounts.
MOVING_FIELDS = frozenset(
    {
        "projected",
        "limitReachedAt",
        "milestones",
        "auditTrail",
        "seatHistory",
        "credits",
        "health",
        "benchmarks",
    }
)
_DAY = timedelta(days=1)


def next_midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).date() + _DAY
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def earliest_after(now: datetime, instants: Iterable[datetime | None]) -> datetime | None:
    return min((i for i in instants if i is not None and i > now), default=None)


def account_changes_at(account: Account, now: datetime, selected: Collection[str]) -> datetime:
    """The first instant after `now` at which the account's view, rendered with the fields
    named in `selected`, could read differently as far as the account and its
    subscription go; `now` itself when it moves continuously."""
    if not MOVING_FIELDS.isdisjoint(selected):
        return now
    # The renewal's `daysLeft` counts calendar days: it drops at midnight (UTC).
    instants: list[datetime | None] = [next_midnight(now)]
    sub = account.subscription
    if sub is not None:
        instants += [sub.current_period_end, sub.trial_ends_at, sub.scheduled_change_at]
    found = earliest_after(now, instants)
    assert found is not None  # midnight is always after now
    return found


def next_grant_change(grants: Iterable[Grant], now: datetime) -> datetime | None:
    """When one of `grants` starts or ends next: given all of an account's grants not
    revoked and not ended at `now` (as the view's one statement reads them), what
    `grants_change_at` would read for the account, without its statement."""
    instants: list[datetime | None] = []
    for grant in grants:
        if grant.revoked_at is None:
            instants += [grant.valid_from, grant.valid_until]
    return earliest_after(now, instants)


async def grants_change_at(
    conn: asyncpg.Connection, account_ids: Collection[UUID], now: datetime
) -> datetime | None:
    """When a grant of the accounts starts or ends next (a later grant starting changes
    the view; it is not part of it yet)."""
    if not account_ids:
        return None
    return await entitlements.next_grant_change(conn, list(account_ids), now)
