"""Renewals and trial ends, without a database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta

from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.subscriptions.lifecycle import next_step, period_end_after
from tests.fixtures.tier_versions import BASIC, PRO

START = datetime.fromisoformat("2026-01-31T09:00:00+00:00")
END = datetime.fromisoformat("2026-02-28T09:00:00+00:00")
PRO_V2 = replace(PRO, id=3, version=2, monthly_price_cents=6000, effective_from=END)
CATALOG = Catalog({}, {}, {}, {v.id: v for v in (BASIC, PRO, PRO_V2)})
SUB = Subscription(
    id=uuid.uuid4(), tier_version_id=BASIC.id, term="monthly", seats=5, status="active",
    current_period_start=START, current_period_end=END, renewal_date=END.date(),
    scheduled_tier_version_id=None, scheduled_change_at=None, started_at=START, version=1,
    scheduled_term=None, trial_ends_at=None, trial_fallback_tier_version_id=None,
    trial_converts=False,
)  # fmt: skip


def steps(sub: Subscription, now: datetime) -> list[tuple[str, Subscription]]:
    """Every step due by `now`, applied in turn, as the scheduler does."""
    done = []
    while (step := next_step(sub, CATALOG, now)) is not None:
        sub = step.after
        done.append((step.action, sub))
    return done


def test_nothing_is_due_before_the_period_ends_or_for_a_canceled_subscription() -> None:
    assert next_step(SUB, CATALOG, END - timedelta(microseconds=1)) is None
    assert next_step(replace(SUB, status="canceled"), CATALOG, END + timedelta(days=90)) is None


def test_a_renewal_starts_the_next_period_on_the_anchor_day_without_drifting() -> None:
    done = steps(SUB, datetime.fromisoformat("2026-04-30T12:00:00+00:00"))
    periods = [(s.current_period_start.date(), s.current_period_end.date()) for _, s in done]
    # Started on the 31st: February ends on the 28th, then back to the 31st, then the 30th.
    assert periods == [
        (date(2026, 2, 28), date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 4, 30), date(2026, 5, 31)),
    ]
    assert [action for action, _ in done] == ["subscription.renewed"] * 3
    assert done[-1][1].renewal_date == date(2026, 5, 31)
    annual = period_end_after(START, "annual", START)
    assert annual == datetime.fromisoformat("2027-01-31T09:00:00+00:00")


def test_a_renewal_applies_the_scheduled_tier_and_term_and_leaves_nothing_scheduled() -> None:
    sub = replace(
        SUB,
        tier_version_id=PRO.id,
        scheduled_tier_version_id=BASIC.id,
        scheduled_term="annual",
        scheduled_change_at=END,
    )
    step = next_step(sub, CATALOG, END)
    assert step is not None and step.at == END
    after = step.after
    assert (after.tier_version_id, after.term) == (BASIC.id, "annual")
    assert after.current_period_end == datetime.fromisoformat("2027-02-28T09:00:00+00:00")
    assert (after.scheduled_tier_version_id, after.scheduled_term) == (None, None)
    assert after.scheduled_change_at is None
    assert step.details == {
        "priceCents": BASIC.annual_price_cents,
        "currency": "USD",
        "previousTierVersionId": PRO.id,
    }


def test_a_grandfathered_version_lasts_until_renewal_then_moves_to_the_one_in_force() -> None:
    # PRO_V2 is in force from END: the period ending then renews onto it.
    sub = replace(SUB, tier_version_id=PRO.id)
    step = next_step(sub, CATALOG, END)
    assert step is not None and step.after.tier_version_id == PRO_V2.id
    assert step.details["priceCents"] == 6000
    unpublished = Catalog({}, {}, {}, {BASIC.id: BASIC, PRO.id: PRO})
    kept = next_step(sub, unpublished, END)
    assert kept is not None and kept.after.tier_version_id == PRO.id


def _trial(converts: bool) -> Subscription:
    return replace(
        SUB,
        tier_version_id=PRO.id,
        status="trialing",
        trial_ends_at=START + timedelta(days=14),
        trial_fallback_tier_version_id=BASIC.id,
        trial_converts=converts,
    )


def test_a_trial_falls_back_at_its_end_by_default() -> None:
    done = steps(_trial(False), START + timedelta(days=14))
    assert [action for action, _ in done] == ["subscription.trial_ended"]
    after = done[0][1]
    assert (after.status, after.tier_version_id, after.trial_ends_at) == ("active", BASIC.id, None)
    assert after.current_period_end == END  # the billing period runs on


def test_a_converting_trial_keeps_its_tier_and_owes_the_rest_of_the_period() -> None:
    step = next_step(_trial(True), CATALOG, START + timedelta(days=20))
    assert step is not None and step.action == "subscription.trial_converted"
    assert step.at == START + timedelta(days=14)  # when it ended, not when it was seen
    assert (step.after.status, step.after.tier_version_id) == ("active", PRO.id)
    # 4,001 cents more a month, for the 14 days of 28 left: 2,000.5 -> 2,001
    assert step.details == {"amountDueCents": 2001, "currency": "USD"}


def test_a_subscription_that_missed_its_trial_end_and_renewals_catches_up_in_order() -> None:
    done = steps(_trial(False), datetime.fromisoformat("2026-04-01T00:00:00+00:00"))
    assert [action for action, _ in done] == [
        "subscription.trial_ended",
        "subscription.renewed",
        "subscription.renewed",
    ]
    assert all(s.tier_version_id == BASIC.id for _, s in done)
