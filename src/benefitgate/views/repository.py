"""The account view's one statement: an account with the parts of it a document selects.

The view's root reads three domains' tables (the account with its subscription, its
grants, its current counters). Read apart they are three round trips on the request's
connection; read here they are one. The columns and the models they build stay with the
domain that owns each table (`accounts.repository.ACCOUNT_COLUMNS`, `account_of`;
`entitlements.repository.GRANT_COLUMNS`, `grant_of`), so a table's change is still made in
one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.repository import ACCOUNT_COLUMNS, account_of
from benefitgate.entitlements.repository import GRANT_COLUMNS, grant_of
from benefitgate.usage.service import CounterKey
from benefitgate.views.models import AccountParts

__all__ = ["account_parts"]

# Grants not revoked and not ended at $2 (in force or starting later), as
# `entitlements.repository.current_grants` reads them.
_GRANTS = f"""array(
        select row({GRANT_COLUMNS}) from grants
        where account_id = a.id and revoked_at is null and (valid_until is null or valid_until > $2)
        order by created_at, id)"""  # noqa: S608 -- a constant column list, no input
# The counters of every period a metric of the account can be in now: the epoch (`never`),
# the UTC month and the subscription's billing period ($3 holds the first two). The exact
# key of each limited metric is then picked in Python, as `usage.counter_values` reads it.
# Values come as float8, which the domain counts in: the same float as the numeric's
# (both conversions round to the nearest double), without decoding a Decimal first.
_COUNTERS = """array(
        select row(c.metric_key, c.period_start, c.value::float8) from usage_counters c
        where c.account_id = a.id
          and c.period_start = any($3::timestamptz[] || s.current_period_start))"""
_FROM = """
    from accounts a left join subscriptions s on s.account_id = a.id
    where a.id = $1"""
_ALONE = f"select null, null, {ACCOUNT_COLUMNS} {_FROM}"
_WITH_GRANTS = f"select {_GRANTS}, null, {ACCOUNT_COLUMNS} {_FROM}"
_WITH_USAGE = f"select {_GRANTS}, {_COUNTERS}, {ACCOUNT_COLUMNS} {_FROM}"


async def account_parts(
    conn: asyncpg.Connection,
    account_id: UUID,
    now: datetime,
    *,
    grants: bool,
    counter_starts: Sequence[datetime] | None,
) -> AccountParts | None:
    """The account with its subscription and partners, with `grants` its current grants
    (at `now`), and, unless `counter_starts` is None, its grants and its counters of those
    period starts and of its billing period's, in one statement; None when there is no such
    account."""
    if counter_starts is None and not grants:
        row = await conn.fetchrow(_ALONE, account_id)
    elif counter_starts is None:
        row = await conn.fetchrow(_WITH_GRANTS, account_id, now)
    else:
        row = await conn.fetchrow(_WITH_USAGE, account_id, now, list(counter_starts))
    if row is None:
        return None
    values = tuple(row)
    counters: dict[CounterKey, float] | None = None
    if values[1] is not None:
        counters = {(account_id, key, start): value for key, start, value in values[1]}
    return AccountParts(
        account=account_of(values[2:]),
        grants=None if values[0] is None else [grant_of(g) for g in values[0]],
        counters=counters,
    )
