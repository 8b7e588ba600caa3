"""Account health and renewal risk: the signals of many accounts read at once (seven
statements whatever their number), scored by `health.factors`; the accounts renewing soon,
most at risk first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts.models import Account
from benefitgate.adoption import service as adoption
from benefitgate.catalog.models import Catalog
from benefitgate.health import repository
from benefitgate.health.factors import health_of
from benefitgate.health.models import Health, Signals, TargetPace
from benefitgate.health.ranking import Position, page_after
from benefitgate.targets import service as targets
from benefitgate.targets.models import TargetProgress

__all__ = ["ADOPTION_DAYS", "DENIAL_DAYS", "at_risk", "health_by_account"]

ADOPTION_DAYS = 60  # a benefit unused this long counts against adoption
DENIAL_DAYS = 30


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


async def at_risk(
    conn: asyncpg.Connection,
    within_days: int,
    partner_id: UUID | None,
    catalog: Catalog,
    now: datetime,
    after: Position | None,
    first: int,
) -> tuple[list[tuple[Account, Health]], bool]:
    """The accounts (a partner's own, with `partner_id`) whose subscription renews in the
    next `within_days` days, most at risk first, a page after `after`; and whether more
    follow. Every candidate is scored for every page: the cost grows with the accounts
    renewing in the window."""
    today = now.astimezone(UTC).date()
    ids = await repository.renewing(conn, today, today + timedelta(days=within_days), partner_id)
    found = list((await accounts.accounts_by_ids(conn, ids)).values())
    healths = await health_by_account(conn, found, catalog, now)
    page, more = page_after(list(healths.values()), after, first)
    by_id = {a.id: a for a in found}
    return [(by_id[h.account_id], h) for h in page], more
