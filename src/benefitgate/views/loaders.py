"""Per-request DataLoaders of the account view, one per view root, each a fixed number of
SQL statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cached_property, partial
from uuid import UUID

from strawberry.dataloader import DataLoader

from benefitgate.accounts.access import account_loader
from benefitgate.accounts.models import Account
from benefitgate.accounts.timeline import account_as_of
from benefitgate.api.context import Context, RequestConnection
from benefitgate.cache.reads import Reads
from benefitgate.catalog.cache import CatalogCache, catalog_of
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import Grant
from benefitgate.milestones.standing import Standing, standings
from benefitgate.seats import service as seats
from benefitgate.seats.models import SeatAssignment
from benefitgate.suggestions import service as suggestions
from benefitgate.suggestions.models import Suggestion
from benefitgate.targets import service as targets
from benefitgate.targets.models import TargetProgress
from benefitgate.usage import service as usage
from benefitgate.usage.periods import Period
from benefitgate.usage.series import Bucket, SeriesPoint
from benefitgate.views.expiry import next_grant_change
from benefitgate.views.models import MetricUsage
from benefitgate.views.service import account_parts, usage_from, usage_of

__all__ = ["Loaders", "SeriesKey", "load_account_parts"]

SeriesKey = tuple[UUID, date, date, Bucket]  # an account, the range's first and last day


class Loaders:
    """The view's loaders of one request: `context.loader(Loaders)`. Each part of the view
    is loaded only when the document selects it: an account's name reads no grants. Each
    loader is made when first used (most documents use two or three of them)."""

    def __init__(self, context: Context) -> None:
        # The context's parts, not the context: it holds this object, and a cycle would
        # leave each request's values to the cyclic garbage collector. For the same reason
        # load functions are partials, not bound methods of this object.
        self._db, self._now = context.db, context.now
        self._catalogs = context.shared.get(CatalogCache)
        self._accounts = context.loader(account_loader)

    @cached_property
    def grants_by_account(self) -> DataLoader[UUID, list[Grant]]:
        return DataLoader(load_fn=partial(_grants, self._db, self._now))

    @cached_property
    def usage_by_account(self) -> DataLoader[UUID, tuple[MetricUsage, ...]]:
        load = partial(
            _usage, self._db, self._catalogs, self._now, self._accounts, self.grants_by_account
        )
        return DataLoader(load_fn=load)

    @cached_property
    def target_progress_by_account(self) -> DataLoader[UUID, list[TargetProgress]]:
        return DataLoader(load_fn=partial(_target_progress, self._db, self._catalogs, self._now))

    @cached_property
    def seats_by_account(self) -> DataLoader[UUID, list[SeatAssignment]]:
        return DataLoader(load_fn=partial(_seats, self._db))

    @cached_property
    def milestone_standing_by_account(self) -> DataLoader[UUID, Standing]:
        return DataLoader(load_fn=partial(_standings, self._db, self._now))

    @cached_property
    def usage_series_by_account(self) -> DataLoader[SeriesKey, list[list[SeriesPoint]]]:
        return DataLoader(load_fn=partial(_usage_series, self._db, self.usage_by_account))

    @cached_property
    def suggestion_by_account(self) -> DataLoader[UUID, Suggestion | None]:
        return DataLoader(load_fn=partial(_suggestions, self._db))


async def load_account_parts(
    context: Context, account_id: UUID, *, grants: bool, usage: bool
) -> None:
    """Read the account, with `grants` its grants, and with `usage` its grants and current
    counters, in one statement, and prime the request's loaders with them: the account's
    (None when there is no such account), its grants and its usage rows then cost no
    statement of their own (nor a batch of the account loader's, a task and a turn of the
    event loop). The caller still checks access (`visible_account`), which reads the
    primed account."""
    catalog = await catalog_of(context)  # before the connection: it may read the catalog
    async with context.db.acquire() as conn:
        parts = await account_parts(conn, account_id, context.now, grants=grants, counters=usage)
    if parts is None:
        context.loader(account_loader).prime(account_id, None)
        return
    # As the account loader answers: the subscription as it stands now (`account_as_of`).
    account = account_as_of(parts.account, catalog, context.now)
    context.loader(account_loader).prime(account_id, account)
    if parts.grants is None:
        return
    loaders = context.loader(Loaders)
    loaders.grants_by_account.prime(account_id, parts.grants)
    reads = context.loader(Reads)
    if reads.active:  # the response cache's expiry needs no statement of its own then
        reads.grant_changes[account_id] = next_grant_change(parts.grants, context.now)
    # The statement read the counters of the stored billing period: past its end (the
    # scheduler has not renewed it yet) the usage loader reads the current one's instead.
    if parts.counters is not None and _period(account) == _period(parts.account):
        rows = usage_from(account, parts.grants, parts.counters, catalog, context.now)
        loaders.usage_by_account.prime(account_id, rows)


def _period(account: Account) -> Period | None:
    return None if account.subscription is None else account.subscription.period


async def _grants(db: RequestConnection, now: datetime, ids: Sequence[UUID]) -> list[list[Grant]]:
    """Grants in force or starting later of accounts already access-checked by the caller:
    the view's entitlements and limits take those active at `now`, its `grants` all."""
    async with db.acquire() as conn:
        found = await entitlements.current_grants(conn, ids, now)
    return [found.get(i, []) for i in ids]


async def _usage(
    db: RequestConnection,
    catalog_cache: CatalogCache,
    now: datetime,
    account_by_id: DataLoader[UUID, Account | None],
    grants_by_account: DataLoader[UUID, list[Grant]],
    ids: Sequence[UUID],
) -> list[tuple[MetricUsage, ...]]:
    """Usage rows of accounts already loaded (and access-checked) through `account_by_id`."""
    loaded = await account_by_id.load_many(list(ids))
    grants = dict(zip(ids, await grants_by_account.load_many(list(ids)), strict=True))
    catalog = await catalog_cache.get(db.acquire)
    present = [a for a in loaded if a is not None]
    async with db.acquire() as conn:
        found = await usage_of(conn, present, grants, catalog, now)
    return [found[i] for i in ids]


async def _target_progress(
    db: RequestConnection, catalog_cache: CatalogCache, now: datetime, ids: Sequence[UUID]
) -> list[list[TargetProgress]]:
    """Outcome targets of accounts already access-checked by the caller."""
    catalog = await catalog_cache.get(db.acquire)
    async with db.acquire() as conn:
        progress = await targets.progress_by_account(conn, ids, catalog, now.astimezone(UTC).date())
    return [progress[i] for i in ids]


async def _seats(db: RequestConnection, ids: Sequence[UUID]) -> list[list[SeatAssignment]]:
    """Held seats of accounts already access-checked by the caller."""
    async with db.acquire() as conn:
        found = await seats.seats_by_account(conn, ids)
    return [found.get(i, []) for i in ids]


async def _standings(db: RequestConnection, now: datetime, ids: Sequence[UUID]) -> list[Standing]:
    """Milestone standings of accounts already access-checked by the caller."""
    async with db.acquire() as conn:
        found = await standings(conn, ids, now)
    return [found[i] for i in ids]


async def _suggestions(db: RequestConnection, ids: Sequence[UUID]) -> list[Suggestion | None]:
    """Current suggestions of accounts already access-checked by the caller."""
    async with db.acquire() as conn:
        found = await suggestions.current_by_accounts(conn, ids)
    return [found.get(i) for i in ids]


async def _usage_series(
    db: RequestConnection,
    usage_by_account: DataLoader[UUID, tuple[MetricUsage, ...]],
    keys: Sequence[SeriesKey],
) -> list[list[list[SeriesPoint]]]:
    """The series of each metric of each account's `usage`, in that order, over ranges the
    caller checked: one statement per distinct range (one, for a view of accounts)."""
    rows = await usage_by_account.load_many([k[0] for k in keys])
    by_range: dict[tuple[date, date, Bucket], list[int]] = {}
    for i, (_, first, last, bucket) in enumerate(keys):
        by_range.setdefault((first, last, bucket), []).append(i)
    found: list[list[list[SeriesPoint]]] = [[] for _ in keys]
    async with db.acquire() as conn:
        for (first, last, bucket), positions in by_range.items():
            pairs = [(keys[i][0], u.metric) for i in positions for u in rows[i]]
            series = iter(await usage.usage_series_many(conn, pairs, first, last, bucket))
            for i in positions:
                found[i] = [next(series) for _ in rows[i]]
    return found
