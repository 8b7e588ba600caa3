"""An account with its subscription, loaded together in one statement; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from benefitgate.usage.periods import Ended, Period, period_at

__all__ = ["Account", "AccountProfile", "NewAccount", "Subscription"]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    tier_version_id: int
    term: str
    seats: int
    status: str
    current_period_start: datetime
    current_period_end: datetime
    renewal_date: date
    scheduled_tier_version_id: int | None
    scheduled_change_at: datetime | None
    started_at: datetime
    version: int
    scheduled_term: str | None
    trial_ends_at: datetime | None
    trial_fallback_tier_version_id: int | None  # the tier version a trial falls back to
    trial_converts: bool  # whether the trial keeps its tier at its end
    cancel_at_period_end: bool = False  # ends at current_period_end instead of renewing
    # Billing periods before the current one that this object knows, not state of the row:
    # those a renewal ended on the way to the stored row's state as of an instant
    # (`timeline.as_of`), and those read from the history (`accounts.service.
    # with_ended_periods`). Backdated usage counts in them (`Account.period_at`).
    ended: tuple[Ended, ...] = field(default=(), compare=False)

    @property
    def period(self) -> Period:
        return Period(self.current_period_start, self.current_period_end)

    @property
    def next_term(self) -> str | None:
        """The term of the period its renewal will start (as `timeline.renewed` makes it):
        the one scheduled; None when it ends instead, or changes no term."""
        if self.status == "canceled" or self.cancel_at_period_end:
            return None
        return self.scheduled_term


@dataclass(frozen=True, slots=True)
class Account:
    id: UUID
    name: str
    created_at: datetime
    external_id: str | None  # the vendor's own id for it, unique
    version: int
    partner_ids: tuple[UUID, ...]
    subscription: Subscription | None

    def period_at(self, reset: str, at: datetime) -> Period:
        """The period of a metric with `reset` that contains `at`, which may be an earlier
        billing period than the subscription's current one: one it ended, when it knows
        that far back (`Subscription.ended`); or the one its renewal will start, of the
        term scheduled (an event dated a little ahead, past the period's end)."""
        sub = self.subscription
        if sub is None:
            return period_at(reset, None, None, at)
        anchor, ended = sub.started_at, sub.ended
        return period_at(reset, sub.period, sub.term, at, anchor, ended, sub.next_term)

    def knows_period_at(self, reset: str, at: datetime) -> bool:
        """Whether `period_at` needs no history to answer: `at` is in or after the
        current billing period, or in one the subscription knows it ended."""
        sub = self.subscription
        if reset != "billing_period" or sub is None or at >= sub.current_period_start:
            return True
        return any(e.start <= at < e.end for e in sub.ended)


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What provisioning sets on an account: the vendor's id for it, its name, metadata."""

    id: UUID
    external_id: str | None
    name: str
    metadata: dict[str, str]
    version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewAccount:
    """An account to create in bulk. The caller chooses its id (the demo draws them for
    repeatable data); `created_at` defaults to the instant of the change."""

    id: UUID
    external_id: str | None
    name: str
    metadata: dict[str, str]
    partner_ids: tuple[UUID, ...] = ()
    created_at: datetime | None = None
