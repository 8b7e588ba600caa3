"""Renewal notes: read what the term delivered and what the renewal brings, per account.

A note reads on the caller's connection (five statements of the impact summary, three of
adoption, one of suggestions), so the reminder job writes its events in the transaction
that read them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.adoption import service as adoption
from benefitgate.catalog.models import Catalog
from benefitgate.impact import service as impact
from benefitgate.renewals.compose import compose
from benefitgate.renewals.models import RenewalNote
from benefitgate.suggestions import service as suggestions

__all__ = ["note_of", "renews"]


def renews(account: Account) -> bool:
    """Whether a renewal is coming: a live subscription not set to end."""
    sub = account.subscription
    return sub is not None and sub.status != "canceled" and not sub.cancel_at_period_end


async def note_of(
    conn: asyncpg.Connection, account: Account, catalog: Catalog, now: datetime
) -> RenewalNote | None:
    """The note for the account's coming renewal; None when none is coming."""
    if not renews(account):
        return None
    days = impact.days_of("term", None, None, account, now)
    summary = await impact.summary_on(conn, account, days, catalog, now)
    term_start = datetime.combine(days.start, time(), UTC)
    held = await adoption.adoption_of(conn, [account], catalog, now, term_start)
    current = await suggestions.current_by_accounts(conn, [account.id])
    return compose(account, summary, held[account.id], current.get(account.id), catalog, now)
