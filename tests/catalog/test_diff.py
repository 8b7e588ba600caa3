"""The diff between two tier versions, as a pure function."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from benefitgate.catalog.diff import Change, Delta, Price, Support, diff_versions
from benefitgate.catalog.models import (
    Exclusion,
    IncludedBenefit,
    TierLimit,
    TierOutcome,
    TierVersion,
)

V1 = TierVersion(
    id=1,
    tier_key="pro",
    name="Pro",
    rank=1,
    version=1,
    value_narrative="For teams",
    currency="USD",
    monthly_price_cents=5000,
    annual_price_cents=50000,
    support_level="standard",
    support_first_response_hours=24,
    support_channels=("email",),
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    published_at=datetime(2026, 1, 1, tzinfo=UTC),
    outcomes=(TierOutcome("hours_saved", 10),),
    limits=(TierLimit("api_calls", "hard", 1000), TierLimit("seats", "soft", 10)),
    benefits=(IncludedBenefit("sso", {}), IncludedBenefit("export", {"formats": ["csv"]})),
    exclusions=(Exclusion("audit", "enterprise", "enterprise only"),),
)


def test_a_version_against_itself_is_unchanged() -> None:
    diff = diff_versions(V1, replace(V1, id=2, version=2))

    assert diff.unchanged
    assert diff.benefits == Delta() and diff.limits == Delta()
    assert (diff.monthly_price, diff.annual_price, diff.support) == (None, None, None)


def test_benefits_added_removed_and_with_other_parameters() -> None:
    after = replace(
        V1,
        benefits=(
            IncludedBenefit("export", {"formats": ["csv", "parquet"]}),
            IncludedBenefit("webhooks", {}),
        ),
    )

    diff = diff_versions(V1, after)

    assert diff.benefits.added == (IncludedBenefit("webhooks", {}),)
    assert diff.benefits.removed == (IncludedBenefit("sso", {}),)
    assert diff.benefits.changed == (
        Change(
            IncludedBenefit("export", {"formats": ["csv"]}),
            IncludedBenefit("export", {"formats": ["csv", "parquet"]}),
        ),
    )
    assert not diff.unchanged and diff.limits.empty


def test_limits_added_removed_and_changed_in_amount_or_enforcement() -> None:
    after = replace(
        V1,
        limits=(
            TierLimit("api_calls", "soft", 5000),
            TierLimit("storage_gb", "unlimited", None),
        ),
    )

    diff = diff_versions(V1, after)

    assert diff.limits.added == (TierLimit("storage_gb", "unlimited", None),)
    assert diff.limits.removed == (TierLimit("seats", "soft", 10),)
    assert diff.limits.changed == (
        Change(TierLimit("api_calls", "hard", 1000), TierLimit("api_calls", "soft", 5000)),
    )


def test_an_equal_amount_written_as_an_int_or_a_float_is_no_change() -> None:
    after = replace(V1, limits=(TierLimit("api_calls", "hard", 1000.0), V1.limits[1]))

    assert diff_versions(V1, after).unchanged


def test_exclusions_and_outcome_targets_compare_by_key() -> None:
    after = replace(
        V1,
        exclusions=(
            Exclusion("audit", "business", "now in business"),
            Exclusion("sandbox", None, ""),
        ),
        outcomes=(TierOutcome("hours_saved", 20), TierOutcome("days_to_insight", None)),
    )

    diff = diff_versions(V1, after)

    assert diff.exclusions.added == (Exclusion("sandbox", None, ""),)
    assert diff.exclusions.removed == ()
    assert [c.after.included_in_tier_key for c in diff.exclusions.changed] == ["business"]
    assert diff.outcomes.added == (TierOutcome("days_to_insight", None),)
    assert diff.outcomes.changed == (
        Change(TierOutcome("hours_saved", 10), TierOutcome("hours_saved", 20)),
    )


def test_prices_per_term_and_support_before_and_after() -> None:
    after = replace(
        V1,
        monthly_price_cents=6000,
        support_first_response_hours=8,
        support_channels=("email", "chat"),
    )

    diff = diff_versions(V1, after)

    assert diff.monthly_price == Change(Price(5000, "USD"), Price(6000, "USD"))
    assert diff.annual_price is None
    assert diff.price("annual") == Change(Price(50000, "USD"), Price(50000, "USD"))
    assert diff.price("monthly").after == Price(6000, "USD")
    assert diff.support == Change(
        Support("standard", 24, ("email",)), Support("standard", 8, ("email", "chat"))
    )


def test_a_currency_change_shows_in_both_prices() -> None:
    diff = diff_versions(V1, replace(V1, currency="EUR"))

    assert diff.monthly_price == Change(Price(5000, "USD"), Price(5000, "EUR"))
    assert diff.annual_price is not None
