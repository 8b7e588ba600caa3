"""What follows a write of usage counters, in the write's transaction, in this order:

1. **A `usage.recorded` event** per account whose counters changed, with their values.
2. **Threshold crossings** of the accounts' effective limits: a `usage_thresholds` row per
   crossing, made once by its primary key whatever races, and a `usage.threshold_crossed`
   event each; accounts whose run rate overruns a limit are marked as upgrade evidence.
3. **Usage milestones** the counters reach, and outcome targets their metrics now meet:
   each achievement at most once, its reward grant with an audit entry, and a
   `milestone.reached` event each.

Whatever need not share the transaction follows from those events after commit: the
suggestion job recomputes the accounts (`suggestions.marks`), partners' streams deliver.

Ingest and consumption call `prepare` before they write the counters and `after_counters`
after. What the steps read is read in `prepare` (all but the progress of outcome targets,
read after the write when a milestone of a target's metric applies, since it sums the
counters just written): from the write on, the transaction holds the counters' row locks,
which concurrent writes of the same counters wait for, and each round trip after it
lengthens that hold.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements.limits import limits_by_account
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.events.touch import touch
from benefitgate.metering.recorded import noted_usage, report_usage
from benefitgate.metering.repository import CounterKey, CounterValue, Crossing, Limit
from benefitgate.metering.thresholds import current_periods, record_crossings
from benefitgate.milestones import service as milestones
from benefitgate.milestones.models import Milestone
from benefitgate.usage.periods import Period

__all__ = ["UsageCascade"]


@dataclass(frozen=True, slots=True)
class UsageCascade:
    accounts: Sequence[Account]
    limits: Mapping[UUID, Mapping[str, EffectiveLimit]]  # effective limits, per account
    milestones: Sequence[Milestone]  # the active ones counters can reach
    periods: Mapping[tuple[UUID, str], Period]  # thresholds.current_periods of the limits

    @classmethod
    async def prepare(
        cls,
        conn: asyncpg.Connection,
        accounts: Sequence[Account],
        catalog: Catalog,
        now: datetime,
        metrics: Collection[str] | None = None,
    ) -> UsageCascade:
        """Read what the steps need for `accounts` (limits of `metrics` only, when given)."""
        limits = await limits_by_account(conn, accounts, catalog, now, only=metrics)
        periods = current_periods(accounts, limits, catalog, now)
        return cls(accounts, limits, await milestones.usage_milestones(conn), periods)

    @classmethod
    def merged(cls, cascades: Sequence[UsageCascade]) -> UsageCascade:
        """One cascade for batches written together, from theirs (prepared in this order):
        for an account in several, what the last one read; the last one's milestones."""
        accounts = {a.id: a for c in cascades for a in c.accounts}
        limits = {k: v for c in cascades for k, v in c.limits.items()}
        periods = {k: v for c in cascades for k, v in c.periods.items()}
        return cls(list(accounts.values()), limits, cascades[-1].milestones, periods)

    def of_accounts(self, ids: Collection[UUID]) -> UsageCascade:
        """This cascade for the accounts of `ids` only (a lane's part of a batch)."""
        return UsageCascade(
            [a for a in self.accounts if a.id in ids],
            {k: v for k, v in self.limits.items() if k in ids},
            self.milestones,
            {k: v for k, v in self.periods.items() if k[0] in ids},
        )

    async def after_counters(
        self,
        conn: asyncpg.Connection,
        counters: Sequence[CounterValue],
        catalog: Catalog,
        now: datetime,
        added: Mapping[CounterKey, float] | None = None,
        crossings: Sequence[Crossing] | None = None,
        reported: bool = False,
    ) -> None:
        """Run the steps for the counters just written (account, metric, period start,
        value), in the caller's transaction; `added`: what the write added to each
        cumulative counter, when known; `crossings`: the thresholds the write recorded as
        crossed, when it did (else they are found and recorded here); `reported`: the
        write made step 1 itself (`recorded.REPORT`), which is then only noted for the request."""
        if not counters:
            return
        if reported:
            noted_usage(counters)
        else:
            # The listeners skip usage.recorded: tell every replica's response cache.
            await touch(conn, (c[0] for c in counters))
            await report_usage(conn, counters)
        await record_crossings(conn, self.periods, counters, now, self.limits, added, crossings)
        await milestones.on_counters(conn, counters, self.milestones, catalog, now)

    def finite_limits(self) -> list[Limit]:
        """Each account's positive finite limits, for the write to record crossings."""
        return [
            (account_id, metric, limit.included)
            for account_id, by_metric in self.limits.items()
            for metric, limit in by_metric.items()
            if limit.included is not None and limit.included > 0
        ]
