"""Each account's effective entitlements, kept in process for entitlement checks.

A snapshot holds what a check reads of one account: the account with its subscription
and the partners managing it, and its grants not revoked. Every change to those rows
writes an outbox event naming the account in its own transaction, and every replica's
listener hands the events to `drop`: a replica answers from a snapshot only until its
listener has read the event of a change to it (about a millisecond after the commit
here). What changes with time alone (a grant starting or running out, a trial ending, a
period renewing or ending) is worked out for each check's instant: the subscription is
taken as it stands then (`timeline.as_of`, whether or not the scheduler has written the
step yet), and the effective set resolved against a catalog snapshot is reused until the
next instant a grant starts or ends or a step of the subscription falls due; a new
catalog snapshot resolves anew.

Bounded: at most `capacity` accounts, the least recently used dropped first. A snapshot
whose load overlapped an event naming its account is served to the check that loaded it
but not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts import timeline
from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.entitlements import repository
from benefitgate.entitlements.models import EffectiveLimit, Grant
from benefitgate.entitlements.precedence import effective_entitlements, effective_limits

__all__ = ["AccountSnapshot", "Effective", "EntitlementSnapshots", "load"]

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


@dataclass(frozen=True, slots=True)
class Effective:
    """An account's entitlements resolved against `catalog`, the same at every instant of
    [since, until) (until None: for good), with the account as it stands then."""

    catalog: Catalog
    since: datetime | None
    until: datetime | None
    account: Account  # its subscription as it stands in [since, until)
    tier: TierVersion | None
    held: frozenset[str]  # benefits the account may use
    ended: frozenset[str]  # benefits of grants that have run out
    limits: Mapping[str, EffectiveLimit]

    def covers(self, catalog: Catalog, now: datetime) -> bool:
        return (
            catalog is self.catalog
            and (self.since is None or self.since <= now)
            and (self.until is None or now < self.until)
        )


class AccountSnapshot:
    """One account as checks read it, with its entitlements resolved for the last instant
    asked (most checks fall in the same interval between grant boundaries)."""

    __slots__ = ("_effective", "account", "grants")

    def __init__(self, account: Account, grants: tuple[Grant, ...]) -> None:
        self.account = account
        self.grants = grants  # not revoked: ended, in force and starting later
        self._effective: Effective | None = None

    def effective(self, catalog: Catalog, now: datetime) -> Effective:
        found = self._effective
        if found is None or not found.covers(catalog, now):
            found = self._effective = _resolve(self.account, self.grants, catalog, now)
        return found


def _resolve(
    account: Account, grants: tuple[Grant, ...], catalog: Catalog, now: datetime
) -> Effective:
    bounds: set[datetime | None] = {g.valid_from for g in grants}
    bounds |= {g.valid_until for g in grants}
    sub = account.subscription
    if sub is not None:
        steps = timeline.steps_until(sub, catalog, now)
        if steps:
            sub = steps[-1].after
            account = replace(account, subscription=sub)
            bounds.add(steps[-1].at)
        bounds.add(timeline.changes_at(sub))
    tier = accounts.account_tier(account, catalog)
    return Effective(
        catalog=catalog,
        since=max((b for b in bounds if b is not None and b <= now), default=None),
        until=min((b for b in bounds if b is not None and b > now), default=None),
        account=account,
        tier=tier,
        held=frozenset(
            e.benefit_key for e in effective_entitlements(tier, grants, catalog.benefits, now)
        ),
        ended=frozenset(
            g.benefit_key for g in grants if g.valid_until is not None and g.valid_until <= now
        ),
        limits=effective_limits(tier, grants, catalog.benefits, now),
    )


class EntitlementSnapshots:
    """The process's snapshots, by account id."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[UUID, AccountSnapshot] = OrderedDict()
        self._drops = 0  # calls of `drop` so far: a logical clock for loads in flight
        self._loading: dict[UUID, int] = {}  # loads in flight per account
        self._dropped_at: dict[UUID, int] = {}  # of accounts loading: their latest drop

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, account_id: UUID, connect: Connect) -> AccountSnapshot | None:
        """The account's snapshot (None: no such account), loaded through `connect` on a
        miss in two statements."""
        found = self._entries.get(account_id)
        if found is not None:
            self._entries.move_to_end(account_id)
            return found
        started = self._drops
        self._loading[account_id] = self._loading.get(account_id, 0) + 1
        try:
            async with connect() as conn:
                loaded = await load(conn, account_id)
            if loaded is not None and self._dropped_at.get(account_id, 0) <= started:
                self._keep(account_id, loaded)
            return loaded
        finally:
            self._done_loading(account_id)

    def drop(self, account_ids: Iterable[UUID]) -> None:
        """Forget these accounts' snapshots, and keep none whose load is in flight."""
        self._drops += 1
        for account_id in account_ids:
            self._entries.pop(account_id, None)
            if account_id in self._loading:
                self._dropped_at[account_id] = self._drops

    def clear(self) -> None:
        self.drop(list(self._loading))
        self._entries.clear()

    def _keep(self, account_id: UUID, snapshot: AccountSnapshot) -> None:
        self._entries[account_id] = snapshot
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def _done_loading(self, account_id: UUID) -> None:
        left = self._loading[account_id] - 1
        if left:
            self._loading[account_id] = left
        else:
            del self._loading[account_id]
            self._dropped_at.pop(account_id, None)


async def load(conn: asyncpg.Connection, account_id: UUID) -> AccountSnapshot | None:
    """The account's snapshot read afresh, in two statements (None: no such account)."""
    found = await accounts.accounts_by_ids(conn, [account_id])
    account = found.get(account_id)
    if account is None:
        return None
    return AccountSnapshot(account, tuple(await repository.unrevoked_grants(conn, account_id)))
