"""Tier change pricing, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from benefitgate.common.changes import InvalidChange
from benefitgate.subscriptions.proration import plan_tier_change
from tests.fixtures.tier_versions import BASIC, PRO

START = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
END = datetime.fromisoformat("2026-12-01T00:00:00+00:00")  # 30 days


def test_an_upgrade_costs_the_difference_for_the_unused_share_rounded_half_up() -> None:
    plan = plan_tier_change(BASIC, PRO, "monthly", (START, END), START + timedelta(days=20))
    # 4,001 cents for the 10 days of 30 left: 1,333.67 -> 1,334
    assert (plan.upgrade, plan.amount_due_cents, plan.new_price_cents) == (True, 1334, 5001)
    assert plan.effective_at == START + timedelta(days=20)
    annual = plan_tier_change(BASIC, PRO, "annual", (START, END), START + timedelta(days=15))
    assert annual.amount_due_cents == 20000


def test_an_upgrade_at_or_after_the_period_end_costs_nothing_and_before_it_all() -> None:
    assert plan_tier_change(BASIC, PRO, "monthly", (START, END), END).amount_due_cents == 0
    early = plan_tier_change(BASIC, PRO, "monthly", (START, END), START - timedelta(days=1))
    assert early.amount_due_cents == 4001


def test_a_downgrade_waits_for_the_period_end_and_costs_nothing_now() -> None:
    plan = plan_tier_change(PRO, BASIC, "monthly", (START, END), START + timedelta(days=3))
    assert (plan.upgrade, plan.effective_at, plan.amount_due_cents) == (False, END, 0)
    assert plan.new_price_cents == 1000


def test_the_same_tier_or_another_currency_is_refused() -> None:
    with pytest.raises(InvalidChange, match="already"):
        plan_tier_change(BASIC, BASIC, "monthly", (START, END), START)
    with pytest.raises(InvalidChange, match="EUR"):
        plan_tier_change(BASIC, replace(PRO, currency="EUR"), "monthly", (START, END), START)
