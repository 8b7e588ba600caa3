"""Renewals and trial ends, without a database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta

from benefitgate.accounts import timeline
from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.subscriptions.lifecycle import (
    coming_renewal,
    next_step,
    paid_version,
    period_end_after,
)
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


def test_a_read_takes_the_subscription_as_the_scheduler_will_leave_it_at_each_instant() -> None:
    # Whatever the scheduler has written, every answer reads `as_of` its instant; the
    # scheduler's steps only persist it. At each instant both give one subscription.
    cases = [SUB, _trial(False), _trial(True), replace(SUB, cancel_at_period_end=True)]
    instants = [START, START + timedelta(days=14), END - timedelta(microseconds=1), END]
    instants.append(datetime.fromisoformat("2026-04-01T00:00:00+00:00"))
    for sub in cases:
        for now in instants:
            done = steps(sub, now)
            assert timeline.as_of(sub, CATALOG, now) == (done[-1][1] if done else sub)
    assert timeline.as_of(SUB, CATALOG, START) is SUB  # nothing due: the same object


def test_the_next_change_is_the_trial_end_when_it_comes_first_else_the_period_end() -> None:
    assert timeline.changes_at(_trial(False)) == START + timedelta(days=14)
    long = replace(_trial(False), trial_ends_at=END + timedelta(days=30))
    assert timeline.changes_at(long) == END  # the renewal comes first
    assert timeline.changes_at(SUB) == END
    assert timeline.changes_at(replace(SUB, status="canceled")) is None


def test_a_trial_running_past_the_renewal_renews_at_the_price_of_its_fallback() -> None:
    # A trial is free: the period after the renewal costs what the trial falls back to,
    # in its version in force then, and the trial tier moves to its own.
    sub = replace(_trial(False), trial_ends_at=END + timedelta(days=30))
    step = next_step(sub, CATALOG, END)
    assert step is not None and step.action == "subscription.renewed"
    after = step.after
    assert (after.status, after.tier_version_id, after.trial_fallback_tier_version_id) == (
        "trialing",
        PRO_V2.id,
        BASIC.id,
    )
    assert step.details["priceCents"] == BASIC.monthly_price_cents
    before, coming = coming_renewal(sub, CATALOG)
    assert before is sub and coming == step


def test_the_coming_renewal_follows_a_trial_that_ends_first() -> None:
    before, step = coming_renewal(_trial(False), CATALOG)
    assert (before.status, before.tier_version_id) == ("active", BASIC.id)
    assert (step.after.tier_version_id, step.details["priceCents"]) == (
        BASIC.id,
        BASIC.monthly_price_cents,
    )
    _, converted = coming_renewal(_trial(True), CATALOG)
    assert (converted.after.tier_version_id, converted.details["priceCents"]) == (PRO_V2.id, 6000)
    assert paid_version(_trial(True), CATALOG) == BASIC  # until then, basic is what is paid
