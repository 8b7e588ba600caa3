"""GraphQL types of the account benefit view: the account row at the root, each further part
loaded by its own field when selected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from benefitgate.accounts.models import Account as AccountModel
from benefitgate.accounts.service import account_tier
from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError
from benefitgate.api.pagination import PageInfo
from benefitgate.benchmarks.resolvers import account_benchmarks
from benefitgate.benchmarks.types import AccountBenchmarks
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.types import (
    Benefit,
    CatalogTypes,
    Enforcement,
    Metric,
    Money,
    Tier,
    catalog_types,
    money,
)
from benefitgate.credits.resolvers import account_credits
from benefitgate.credits.types import AccountCredit
from benefitgate.entitlements.models import Entitlement as EntitlementModel
from benefitgate.entitlements.precedence import effective_entitlements
from benefitgate.entitlements.types import Grant, GrantSource, grant_type
from benefitgate.governance.resolvers import (
    AccountChangesResult,
    SeatHistoryResult,
    account_changes,
    actor_name_loader,
    seat_history,
)
from benefitgate.health.resolvers import account_health
from benefitgate.health.types import AccountHealth
from benefitgate.metering.types import UsageGroup, UsageSeries, dimensions_of, series_type
from benefitgate.milestones.types import MilestoneStatus
from benefitgate.seats.types import SeatAllocation, allocation
from benefitgate.subscriptions.types import Renewal, Subscription, renewal_type, subscription_type
from benefitgate.suggestions.types import Suggestion, suggestion_type
from benefitgate.targets.types import OutcomeTargetProgress, progress_type
from benefitgate.usage.groups import GroupValue, group_values_loader
from benefitgate.usage.series import Bucket, InvalidRange
from benefitgate.usage.service import check_range
from benefitgate.views import assembly, models
from benefitgate.views.loaders import Loaders
from benefitgate.views.milestones import milestone_status

__all__ = ["Account", "AccountConnection", "AccountEdge", "account_type"]


@strawberry.type(description="A benefit the account may use now, and where it comes from.")
class Entitlement:
    benefit: Benefit
    source: GrantSource
    sources: list[GrantSource]
    amount: float | None = strawberry.field(
        description="What the active grants count for: their `add` amounts summed (a "
        "credit's lots, a limit's raises) plus, for a limit benefit, the metric's newest "
        "override if it is this benefit's; an override a newer one supersedes counts for "
        "nothing. With an override, this is the limit `usage` shows. Null when no grant "
        "counts an amount."
    )
    expires_at: datetime | None
    parameters: JSON


@strawberry.type(description="Usage of a metric in its current period against its limit.")
class MetricUsage:
    metric: Metric
    period_start: datetime
    period_end: datetime | None
    used: float
    limit: float | None
    remaining: float | None = strawberry.field(
        description="What is left of the limit: between 0 (at or over it) and the limit "
        "itself (nothing used, or a `latest` gauge below zero); null when unlimited."
    )
    percent: float | None = strawberry.field(
        description="The share of the limit used: 0 when nothing is used (or a gauge is "
        "below zero), above 100 for an overrun, in proportion; any use of a zero limit, or "
        "a share too large for a float, is the largest float. Null when unlimited."
    )
    unlimited: bool
    enforcement: Enforcement
    projected: float | None = strawberry.field(
        description="The value at the end of the period at the run rate so far (sum and "
        "count metrics whose period ends; null otherwise)."
    )
    limit_reached_at: datetime | None = strawberry.field(
        description="When the run rate reaches the limit, if that falls before the period "
        "ends; null when unlimited, already reached, or not reached this period."
    )
    groups: list[UsageGroup] = strawberry.field(
        description="With `usage(groupBy:)`, the period's usage per group of those properties "
        "(for metrics that group by all of them); empty otherwise."
    )


@strawberry.type(description="The series of every metric of the account's `usage`, in its order.")
class UsageSeriesList:
    series: list[UsageSeries]


AccountUsageSeriesResult = Annotated[
    UsageSeriesList | InvalidInputError, strawberry.union("AccountUsageSeriesResult")
]


@strawberry.type
class LimitRaise:
    metric: Metric
    current: float | None
    next: float | None = strawberry.field(description="Null when the next tier is unlimited.")


@strawberry.type(description="The next rung up the ladder and what it would add.")
class NextTier:
    tier: Tier
    added_benefits: list[Benefit]
    raised_limits: list[LimitRaise]
    monthly_price_delta: Money
    annual_price_delta: Money


@strawberry.type
class Account:
    id: strawberry.ID
    external_id: str | None = strawberry.field(
        description="The vendor's own id for the account (its billing customer id)."
    )
    name: str
    created_at: datetime
    version: int = strawberry.field(description="Pass as `expectedVersion` to `accountUpdate`.")
    subscription: Subscription | None
    tier: Tier | None
    next_tier: NextTier | None
    # What the resolvers below read: the account as loaded, and the catalog snapshot the
    # view is resolved against (one for the whole view).
    account: strawberry.Private[AccountModel]
    catalog: strawberry.Private[Catalog]

    @strawberry.field(description="Every benefit the account may use now.")
    async def entitlements(self, info: Info) -> list[Entitlement]:
        held = await info.context.loader(Loaders).grants_by_account.load(self.account.id)
        tier = account_tier(self.account, self.catalog)
        types = catalog_types(self.catalog)
        return [
            _entitlement(e, types)
            for e in effective_entitlements(tier, held, self.catalog.benefits, info.context.now)
            if e.benefit_key in types.benefits
        ]

    @strawberry.field(
        description="Each limited metric's usage in its current period; with `groupBy` (event "
        "properties), also per group of them, for the metrics that group by them all."
    )
    async def usage(self, info: Info, group_by: list[str] | None = None) -> list[MetricUsage]:
        rows = await info.context.loader(Loaders).usage_by_account.load(self.account.id)
        types = catalog_types(self.catalog)
        groups = await _groups(info, self.account.id, rows, tuple(group_by or ()))
        return [_usage(u, types, groups.get(u.metric.key, [])) for u in rows]

    @strawberry.field(
        description="Usage of every metric of `usage` per day, ISO week or month over the "
        "UTC dates `from` to `to`, both inclusive (at most 1,000 points each), as "
        "`usageSeries` gives one (without groups): one statement for every metric."
    )
    async def usage_series(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        bucket: Bucket = Bucket.DAY,
    ) -> AccountUsageSeriesResult:
        try:
            check_range(from_, to, bucket)
        except InvalidRange as exc:
            return InvalidInputError.of("to", str(exc))
        loaders = info.context.loader(Loaders)
        key = (self.account.id, from_, to, bucket)
        found = await loaders.usage_series_by_account.load(key)
        rows = await loaders.usage_by_account.load(self.account.id)
        metrics = catalog_types(self.catalog).metrics
        return UsageSeriesList(
            series=[
                series_type(metrics[u.metric.key], bucket, points, [])
                for u, points in zip(rows, found, strict=True)
            ]
        )

    @strawberry.field(
        description="The account's outcome targets and progress toward them. `setBy` is "
        "the caller's subject for internal tools; for others, who set it as the audit trail "
        "names actors (never a key id)."
    )
    async def outcome_targets(self, info: Info) -> list[OutcomeTargetProgress]:
        progress = await info.context.loader(Loaders).target_progress_by_account.load(
            self.account.id
        )
        types = catalog_types(self.catalog)
        shown = [progress_type(p, types) for p in progress]
        if not info.context.principal.internal and shown:
            names = info.context.loader(actor_name_loader)
            for target, name in zip(
                shown, await names.load_many([t.set_by for t in shown]), strict=True
            ):
                target.set_by = name
        return shown

    @strawberry.field(
        description="Grants in force or starting later, not revoked; the audit log holds "
        "the history."
    )
    async def grants(self, info: Info) -> list[Grant]:
        held = await info.context.loader(Loaders).grants_by_account.load(self.account.id)
        types = catalog_types(self.catalog)
        return [grant_type(g, types) for g in held]

    @strawberry.field(description="The next renewal; null without a live subscription.")
    def renewal(self, info: Info) -> Renewal | None:
        types = catalog_types(self.catalog)
        return renewal_type(self.account.subscription, self.catalog, types, info.context.now)

    @strawberry.field(
        description="Milestones achieved, newest first, and progress toward the next ones."
    )
    async def milestones(self, info: Info) -> MilestoneStatus:
        return await milestone_status(info, self.account, self.catalog)

    @strawberry.field(
        description="The account's current upgrade suggestion: open, or dismissed and still "
        "suppressing new ones; null when the evidence supports none."
    )
    async def suggestion(self, info: Info) -> Suggestion | None:
        found = await info.context.loader(Loaders).suggestion_by_account.load(self.account.id)
        if found is None:
            return None
        return suggestion_type(found, catalog_types(self.catalog))

    @strawberry.field(description="Purchased seats and who holds them.")
    async def seats(self, info: Info) -> SeatAllocation:
        held = await info.context.loader(Loaders).seats_by_account.load(self.account.id)
        return allocation(self.subscription.seats if self.subscription else 0, held)

    @strawberry.field(
        description="How healthy the account's use of its license is: a score from "
        "documented factors (usage trend, targets' pace, benefit adoption, seat use, denials, "
        "a scheduled cancellation)."
    )
    async def health(self, info: Info) -> AccountHealth:
        return await account_health(info, self.account.id)

    @strawberry.field(
        description="Anonymised peer benchmarks: per metric and measured outcome, the "
        "account's percentile among the accounts on its tier over the last complete month, "
        "only where at least 10 peers exist."
    )
    async def benchmarks(self, info: Info) -> AccountBenchmarks:
        return await account_benchmarks(info, self.account.id)

    @strawberry.field(
        description="The account's credits: balance, when some of it expires next, and the "
        "ledger of grants in, consumption and expiry out."
    )
    async def credits(self, info: Info) -> list[AccountCredit]:
        return await account_credits(info, self.account.id, self.catalog)

    @strawberry.field(
        description="The account's audit trail, newest first: every change to it, who made "
        "it (a role or a name, never a key id), why, before and after."
    )
    async def audit_trail(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> AccountChangesResult:
        return await account_changes(info, self.account.id, first, after)

    @strawberry.field(
        description="The seat allocation over time, newest first: each assignment, release "
        "and change of the purchased count, in the order they were made (`at` is the clock "
        "of the server that made it), with the seats held and purchased after it."
    )
    async def seat_history(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> SeatHistoryResult:
        return await seat_history(info, self.account.id, first, after)


@strawberry.type
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type
class AccountConnection:
    edges: list[AccountEdge]
    page_info: PageInfo


async def _groups(
    info: Info, account_id: UUID, rows: Sequence[models.MetricUsage], by: tuple[str, ...]
) -> dict[str, list[GroupValue]]:
    """Each metric's groups of `by` in its period, for the metrics that group by all of
    `by`; one statement for every account of the request."""
    if not by:
        return {}
    grouped = [u for u in rows if set(by) <= set(u.metric.group_by)]
    keys = [((account_id, u.metric.key, u.period_start, u.metric.aggregation), by) for u in grouped]
    values = await info.context.loader(group_values_loader).load_many(keys)
    return {u.metric.key: found for u, found in zip(grouped, values, strict=True)}


def _usage(u: models.MetricUsage, types: CatalogTypes, groups: list[GroupValue]) -> MetricUsage:
    return MetricUsage(
        groups=[UsageGroup(dimensions=dimensions_of(d), value=v) for d, v in groups],
        metric=types.metrics[u.metric.key],
        period_start=u.period_start,
        period_end=u.period_end,
        used=u.used,
        limit=u.limit,
        remaining=u.remaining,
        percent=u.percent,
        unlimited=u.unlimited,
        enforcement=Enforcement(u.enforcement),
        projected=u.projection.value if u.projection else None,
        limit_reached_at=u.projection.limit_reached_at if u.projection else None,
    )


def _next_tier(n: models.NextTier, types: CatalogTypes) -> NextTier:
    return NextTier(
        tier=types.tiers[n.tier.id],
        added_benefits=[types.benefits[b.key] for b in n.added_benefits],
        raised_limits=[
            LimitRaise(metric=types.metrics[r.metric.key], current=r.current, next=r.next)
            for r in n.raised_limits
        ],
        monthly_price_delta=money(n.monthly_price_delta_cents, n.tier.currency),
        annual_price_delta=money(n.annual_price_delta_cents, n.tier.currency),
    )


def _entitlement(e: EntitlementModel, types: CatalogTypes) -> Entitlement:
    return Entitlement(
        benefit=types.benefits[e.benefit_key],
        source=GrantSource(e.source),
        sources=[GrantSource(s) for s in e.sources],
        amount=e.amount,
        expires_at=e.expires_at,
        parameters=JSON(e.parameters),
    )


def account_type(
    account: AccountModel, catalog: Catalog, now: datetime, *, with_next_tier: bool = True
) -> Account:
    """The view's root, built from the account row alone: what needs more (entitlements,
    usage, grants, seats ...) is loaded by its own field when the document selects it.
    Without `with_next_tier` (a document that does not select it), `next_tier` is left
    null rather than worked out from the ladder."""
    types = catalog_types(catalog)
    tier = account_tier(account, catalog)
    upper = assembly.next_tier(tier, catalog, now) if with_next_tier else None
    return Account(
        id=strawberry.ID(str(account.id)),
        external_id=account.external_id,
        name=account.name,
        created_at=account.created_at,
        version=account.version,
        subscription=(
            subscription_type(account.subscription, types) if account.subscription else None
        ),
        tier=types.tiers[tier.id] if tier else None,
        next_tier=_next_tier(upper, types) if upper else None,
        account=account,
        catalog=catalog,
    )
