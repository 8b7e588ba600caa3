"""The precedence rule, on its own: no database needed."""

import uuid
from datetime import UTC, date, datetime, timedelta

from benefitgate.catalog.models import Benefit, IncludedBenefit, TierLimit, TierVersion
from benefitgate.entitlements.models import Grant
from benefitgate.entitlements.precedence import effective_entitlements, effective_limits

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)


def tier(limits: tuple[TierLimit, ...] = (), benefits: tuple[str, ...] = ("sso",)) -> TierVersion:
    return TierVersion(
        id=1,
        tier_key="team",
        name="Team",
        rank=1,
        version=1,
        value_narrative="",
        currency="USD",
        monthly_price_cents=0,
        annual_price_cents=0,
        support_level="std",
        support_first_response_hours=24,
        support_channels=(),
        effective_from=NOW,
        published_at=NOW,
        limits=limits,
        benefits=tuple(IncludedBenefit(b, {"level": "tier"}) for b in benefits),
    )


def grant(
    benefit: str,
    source: str = "manual",
    *,
    amount: float | None = None,
    mode: str = "add",
    until: datetime | None = None,
    revoked: bool = False,
    age: int = 0,
) -> Grant:
    return Grant(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        benefit_key=benefit,
        source=source,
        amount=amount,
        mode=mode,
        valid_from=NOW - timedelta(days=10),
        valid_until=until,
        revoked_at=NOW if revoked else None,
        created_at=NOW - timedelta(days=10 - age),
    )


LIMIT_BENEFITS = {
    "extra_calls": Benefit(
        "extra_calls", "Extra", "limit", "", None, None, None, "api_calls", date(2025, 1, 1), None
    )
}


def test_expired_revoked_and_future_grants_count_for_nothing() -> None:
    grants = [
        grant("beta", until=NOW),  # valid_until is exclusive
        grant("audit", revoked=True),
        Grant(
            uuid.uuid4(),
            uuid.uuid4(),
            "later",
            "manual",
            None,
            "add",
            NOW + timedelta(1),
            None,
            None,
            NOW,
        ),
    ]

    result = effective_entitlements(tier(), grants, {}, NOW)

    assert [e.benefit_key for e in result] == ["sso"]


def test_the_strongest_source_wins_and_the_tier_keeps_it_permanent() -> None:
    grants = [grant("sso", "trial", until=NOW + timedelta(days=3)), grant("sso", "addon")]

    (sso,) = effective_entitlements(tier(), grants, {}, NOW)

    assert sso.source == "trial"
    assert sso.sources == ("trial", "addon", "tier")
    assert sso.expires_at is None
    assert sso.parameters == {"level": "tier"}


def test_a_grant_only_entitlement_expires_with_its_last_grant() -> None:
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=9)
    grants = [
        grant("credit", "milestone", amount=50, until=soon),
        grant("credit", "anniversary", amount=25, until=later),
    ]

    credit = next(
        e for e in effective_entitlements(None, grants, {}, NOW) if e.benefit_key == "credit"
    )

    assert credit.amount == 75
    assert credit.expires_at == later
    assert credit.source == "milestone"


def test_limit_grants_add_to_the_tier_limit() -> None:
    limits = (TierLimit("api_calls", "hard", 1000),)
    grants = [
        grant("extra_calls", "addon", amount=500),
        grant("extra_calls", "milestone", amount=100),
    ]

    result = effective_limits(tier(limits), grants, LIMIT_BENEFITS, NOW)

    assert result["api_calls"].included == 1600
    assert result["api_calls"].enforcement == "hard"
    assert result["api_calls"].sources == ("tier", "addon", "milestone")


def test_the_newest_override_replaces_the_limit_and_adds_still_apply() -> None:
    limits = (TierLimit("api_calls", "soft", 1000),)
    grants = [
        grant("extra_calls", amount=5000, mode="override", age=1),
        grant("extra_calls", amount=3000, mode="override", age=2),
        grant("extra_calls", "addon", amount=10),
    ]

    result = effective_limits(tier(limits), grants, LIMIT_BENEFITS, NOW)["api_calls"]

    assert result.included == 3010
    assert result.enforcement == "soft"


def test_unlimited_stays_unlimited_unless_overridden() -> None:
    limits = (TierLimit("api_calls", "unlimited", None),)

    plain = effective_limits(tier(limits), [grant("extra_calls", amount=5)], LIMIT_BENEFITS, NOW)
    overridden = effective_limits(
        tier(limits), [grant("extra_calls", amount=7, mode="override")], LIMIT_BENEFITS, NOW
    )

    assert plain["api_calls"].included is None
    assert plain["api_calls"].enforcement == "unlimited"
    assert overridden["api_calls"].included == 7
    assert overridden["api_calls"].enforcement == "hard"


def test_an_override_a_newer_one_supersedes_counts_for_nothing_in_the_amount() -> None:
    older = grant("extra_calls", amount=5000, mode="override", until=NOW + timedelta(days=9))
    newer = grant("extra_calls", amount=3000, mode="override", age=1, until=NOW + timedelta(1))
    grants = [older, newer, grant("extra_calls", "addon", amount=10, until=NOW + timedelta(5))]
    limits = (TierLimit("api_calls", "hard", 1000),)

    (now,) = effective_entitlements(tier(limits, ()), grants, LIMIT_BENEFITS, NOW)
    (later,) = effective_entitlements(tier(limits, ()), grants, LIMIT_BENEFITS, NOW + timedelta(2))

    assert (
        now.amount
        == 3010
        == effective_limits(tier(limits), grants, LIMIT_BENEFITS, NOW)["api_calls"].included
    )
    assert now.expires_at == NOW + timedelta(days=9)  # the older one takes over, then ends
    assert later.amount == 5010


def test_an_override_of_another_benefit_of_the_metric_supersedes_too() -> None:
    benefits = {
        **LIMIT_BENEFITS,
        "bonus_calls": Benefit(
            "bonus_calls",
            "Bonus",
            "limit",
            "",
            None,
            None,
            None,
            "api_calls",
            date(2025, 1, 1),
            None,
        ),
    }
    grants = [
        grant("extra_calls", amount=5000, mode="override"),
        grant("bonus_calls", amount=700, mode="override", age=1),
    ]

    found = {e.benefit_key: e.amount for e in effective_entitlements(None, grants, benefits, NOW)}

    assert found == {"bonus_calls": 700, "extra_calls": None}
    assert effective_limits(None, grants, benefits, NOW)["api_calls"].included == 700


def test_a_grant_without_a_metric_amounts_to_its_sum_whatever_its_mode() -> None:
    grants = [grant("credit", amount=50), grant("credit", "milestone", amount=25, age=1)]

    (credit,) = effective_entitlements(None, grants, LIMIT_BENEFITS, NOW)

    assert credit.amount == 75
