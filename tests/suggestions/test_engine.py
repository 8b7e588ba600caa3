"""The suggestion engine as a pure function: each signal alone, and signals together."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from benefitgate.accounts.models import Account, Subscription
from benefitgate.catalog.models import (
    Benefit,
    Catalog,
    IncludedBenefit,
    Metric,
    Outcome,
    TierLimit,
    TierVersion,
)
from benefitgate.suggestions.engine import confidence, propose
from benefitgate.suggestions.models import Achieved, CounterReading, Denial, Evidence, Reason
from benefitgate.suggestions.signals import Situation, _last_periods
from benefitgate.targets.models import OutcomeTarget, TargetProgress
from benefitgate.usage.periods import EPOCH

NOW = datetime(2026, 11, 15, tzinfo=UTC)
PERIOD = (datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC))
EARLIER = datetime(2025, 1, 1, tzinfo=UTC)


def _benefit(key: str, outcome: str, impact: float) -> Benefit:
    return Benefit(key, key.title(), "feature", "", outcome, impact, "hours a week", None,
                   date(2025, 1, 1), None)  # fmt: skip


def _tier(
    id: int, key: str, rank: int, price: int, api: TierLimit, benefits: list[str]
) -> TierVersion:
    return TierVersion(
        id=id, tier_key=key, name=key.title(), rank=rank, version=1, value_narrative="",
        currency="USD", monthly_price_cents=price, annual_price_cents=price * 10,
        support_level="standard", support_first_response_hours=24, support_channels=(),
        effective_from=EARLIER, published_at=EARLIER, limits=(api,),
        benefits=tuple(IncludedBenefit(b, {}) for b in benefits),
    )  # fmt: skip


CATALOG = Catalog(
    outcomes={
        "hours_saved": Outcome("hours_saved", "Hours saved", "hours", "increase", "", "hours"),
        "incidents": Outcome("incidents", "Incidents avoided", "incidents", "increase", ""),
    },
    metrics={
        "api": Metric("api", "API calls", "calls", "sum", "billing_period"),
        "hours": Metric("hours", "Hours saved", "hours", "sum", "never"),
    },
    benefits={
        "reports": _benefit("reports", "hours_saved", 3),
        "sso": _benefit("sso", "incidents", 1),
        "alerts": _benefit("alerts", "incidents", 2),
    },
    versions={
        1: _tier(1, "basic", 0, 1_000, TierLimit("api", "hard", 1000), []),
        2: _tier(2, "team", 1, 5_000, TierLimit("api", "soft", 5000), ["reports"]),
        3: _tier(3, "business", 2, 20_000, TierLimit("api", "unlimited", None),
                 ["reports", "sso", "alerts"]),
    },
)  # fmt: skip


def _account(seats: int = 10) -> Account:
    sub = Subscription(
        id=uuid.uuid4(), tier_version_id=1, term="monthly", seats=seats, status="active",
        current_period_start=PERIOD[0], current_period_end=PERIOD[1],
        renewal_date=PERIOD[1].date(), scheduled_tier_version_id=None,
        scheduled_change_at=None, started_at=datetime(2026, 1, 5, tzinfo=UTC), version=1,
        scheduled_term=None, trial_ends_at=None, trial_fallback_tier_version_id=None,
        trial_converts=False,
    )  # fmt: skip
    return Account(uuid.uuid4(), "Acme", EARLIER, None, 1, (), sub)


ACCOUNT = _account()


def _api(start_month: int, value: float) -> CounterReading:
    start = datetime(2026, start_month, 5, tzinfo=UTC)
    end = datetime(2026, start_month + 1, 5, tzinfo=UTC)
    return CounterReading("api", start, end, value)


def _signals(evidence: Evidence) -> list[tuple[str, str]]:
    proposal = propose(evidence, CATALOG, NOW)
    assert proposal is not None
    return [r.key for r in proposal.reasons]


def test_no_evidence_no_suggestion() -> None:
    assert propose(Evidence(ACCOUNT, counters=(_api(11, 100),)), CATALOG, NOW) is None


def test_limit_pressure_in_two_of_three_periods_suggests_the_tier_with_room() -> None:
    evidence = Evidence(ACCOUNT, counters=(_api(9, 850), _api(10, 900), _api(11, 100)))

    proposal = propose(evidence, CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "team"
    (reason,) = proposal.reasons
    assert (reason.signal, reason.subject, reason.observed, reason.limit) == (
        "limit_pressure", "api", 900, 1000,
    )  # fmt: skip
    assert reason.since == datetime(2026, 9, 5, tzinfo=UTC)
    assert reason.until == datetime(2026, 11, 5, tzinfo=UTC)
    assert (proposal.monthly_delta_cents, proposal.annual_delta_cents) == (4_000, 40_000)
    assert [g.benefit_key for g in proposal.gains] == ["reports"]
    assert proposal.gains[0].outcome_key == "hours_saved"


def test_pressure_in_one_period_of_three_is_not_enough() -> None:
    evidence = Evidence(ACCOUNT, counters=(_api(9, 100), _api(10, 900), _api(11, 100)))
    assert propose(evidence, CATALOG, NOW) is None


def test_a_projected_overrun_alone_suggests_an_upgrade() -> None:
    # 600 calls in 10 days of a 30-day period: 1,000 is reached on day 17.
    proposal = propose(Evidence(ACCOUNT, counters=(_api(11, 600),)), CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "team"
    (reason,) = proposal.reasons
    assert reason.key == ("projected_overrun", "api")
    assert reason.observed == 1800
    assert reason.until is not None and reason.until.date() == date(2026, 11, 21)


def test_denied_checks_for_a_feature_suggest_the_lowest_tier_that_includes_it() -> None:
    denial = Denial("sso", "not_in_tier", 3, NOW - timedelta(days=5), NOW - timedelta(days=1))

    proposal = propose(Evidence(ACCOUNT, denials=(denial,)), CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "business"
    assert [(r.key, r.observed) for r in proposal.reasons] == [(("denied_feature", "sso"), 3)]


def test_a_feature_denied_under_two_reasons_is_one_reason_counting_both() -> None:
    # Not in the tier at first; excluded after a change to a tier that excludes it.
    first = Denial("sso", "not_in_tier", 2, NOW - timedelta(days=30), NOW - timedelta(days=20))
    then = Denial("sso", "excluded", 3, NOW - timedelta(days=10), NOW - timedelta(days=1))

    proposal = propose(Evidence(ACCOUNT, denials=(first, then)), CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "business"
    (reason,) = proposal.reasons
    assert (reason.key, reason.observed) == (("denied_feature", "sso"), 5)
    assert (reason.since, reason.until) == (first.first_at, then.last_at)


def test_old_denials_and_features_no_tier_includes_say_nothing() -> None:
    old = Denial("sso", "not_in_tier", 3, NOW - timedelta(days=200), NOW - timedelta(days=91))
    unknown = Denial("teleport", "not_in_tier", 9, NOW, NOW)
    assert propose(Evidence(ACCOUNT, denials=(old, unknown)), CATALOG, NOW) is None


def test_seats_nearly_full_suggest_the_next_tier() -> None:
    assert _signals(Evidence(ACCOUNT, seats_assigned=9)) == [("seat_pressure", "seats")]
    assert propose(Evidence(ACCOUNT, seats_assigned=8), CATALOG, NOW) is None


def test_a_usage_milestone_reached_lately_suggests_the_next_tier() -> None:
    reached = Achieved("power_users", "Power users", "usage_threshold", NOW - timedelta(days=3))
    anniversary = replace(reached, milestone_key="year_one", kind="renewal_anniversary")

    assert _signals(Evidence(ACCOUNT, achieved=(reached,))) == [
        ("milestone_reached", "power_users")
    ]
    assert propose(Evidence(ACCOUNT, achieved=(anniversary,)), CATALOG, NOW) is None


def _target(percent: float, met: bool = False) -> TargetProgress:
    target = OutcomeTarget(ACCOUNT.id, "hours_saved", 100, date(2026, 11, 1), date(2026, 11, 30),
                           "", "ops", EARLIER)  # fmt: skip
    return TargetProgress(target, percent, percent, met)


def test_a_target_behind_pace_suggests_the_tier_whose_benefits_move_it() -> None:
    # Half the window is gone (15 of 30 days) and 10 % of the target is reached.
    proposal = propose(Evidence(ACCOUNT, targets=(_target(10),)), CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "team"
    assert [r.key for r in proposal.reasons] == [("outcome_lagging", "hours_saved")]
    assert propose(Evidence(ACCOUNT, targets=(_target(60),)), CATALOG, NOW) is None


def test_conflicting_signals_pick_the_lowest_tier_that_resolves_them_all() -> None:
    denial = Denial("sso", "not_in_tier", 1, NOW - timedelta(days=1), NOW - timedelta(days=1))
    evidence = Evidence(
        ACCOUNT, counters=(_api(9, 850), _api(10, 900)), denials=(denial,), seats_assigned=10
    )

    proposal = propose(evidence, CATALOG, NOW)

    assert proposal is not None and proposal.tier_key == "business"
    assert {r.key for r in proposal.reasons} == {
        ("limit_pressure", "api"),
        ("denied_feature", "sso"),
        ("seat_pressure", "seats"),
    }
    assert [g.benefit_key for g in proposal.gains] == ["alerts", "reports", "sso"]


def test_a_grant_that_lifts_the_limit_removes_the_pressure() -> None:
    from benefitgate.entitlements.models import Grant

    catalog = replace(CATALOG, benefits={
        **CATALOG.benefits,
        "api_pack": Benefit("api_pack", "API pack", "limit", "", None, None, None, "api",
                            date(2025, 1, 1), None),
    })  # fmt: skip
    pack = Grant(uuid.uuid4(), ACCOUNT.id, "api_pack", "addon", 1000, "add", EARLIER, None,
                 None, EARLIER)  # fmt: skip
    evidence = Evidence(ACCOUNT, grants=(pack,), counters=(_api(9, 850), _api(10, 900)))

    assert propose(evidence, catalog, NOW) is None


@pytest.mark.parametrize(
    ("weights", "expected"), [((0.6,), 0.6), ((0.6, 0.2), 0.68), ((0.1, 0.1, 0.1), 0.27)]
)
def test_confidence_combines_reasons_as_independent_evidence(
    weights: tuple[float, ...], expected: float
) -> None:
    reasons = tuple(Reason("limit_pressure", str(i), "", weight=w) for i, w in enumerate(weights))
    assert confidence(reasons) == expected


def test_each_reset_has_its_own_last_periods_in_one_situation() -> None:
    # The engine weighs every tier on one situation, which keeps each reset's periods.
    situation = Situation(Evidence(ACCOUNT), CATALOG, CATALOG.versions[1], NOW)
    billing = [(p.start, p.end) for p in _last_periods(CATALOG.metrics["api"], situation)]
    never = [(p.start, p.end) for p in _last_periods(CATALOG.metrics["hours"], situation)]
    months = [datetime(2026, m, 5, tzinfo=UTC) for m in (9, 10, 11, 12)]
    assert billing == [(months[2], months[3]), (months[1], months[2]), (months[0], months[1])]
    assert never == [(EPOCH, None)]
    assert _last_periods(CATALOG.metrics["api"], situation) is situation.periods["billing_period"]
