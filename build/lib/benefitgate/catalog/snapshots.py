"""Catalog objects as audit entries record them and idempotent results replay them: plain
JSON, and back. Pure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from benefitgate.catalog.models import (
    Benefit,
    Exclusion,
    IncludedBenefit,
    TierLimit,
    TierOutcome,
    TierVersion,
)
from benefitgate.common.isotime import from_iso, to_iso

__all__ = ["benefit_from_snapshot", "benefit_snapshot", "version_from_snapshot", "version_snapshot"]


def version_snapshot(v: TierVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "tier": v.tier_key,
        "name": v.name,
        "rank": v.rank,
        "version": v.version,
        "valueNarrative": v.value_narrative,
        "currency": v.currency,
        "monthlyPriceCents": v.monthly_price_cents,
        "annualPriceCents": v.annual_price_cents,
        "support": {
            "level": v.support_level,
            "firstResponseHours": v.support_first_response_hours,
            "channels": list(v.support_channels),
        },
        "effectiveFrom": v.effective_from.isoformat(),
        "publishedAt": to_iso(v.published_at),
        "outcomes": [{"outcome": o.outcome_key, "target": o.target_amount} for o in v.outcomes],
        "limits": [
            {"metric": lim.metric_key, "enforcement": lim.enforcement, "included": lim.included}
            for lim in v.limits
        ],
        "benefits": [{"benefit": b.benefit_key, "parameters": b.parameters} for b in v.benefits],
        "exclusions": [
            {"benefit": e.benefit_key, "includedIn": e.included_in_tier_key, "note": e.note}
            for e in v.exclusions
        ],
    }


def version_from_snapshot(state: dict[str, Any]) -> TierVersion:
    support = state["support"]
    return TierVersion(
        id=state["id"],
        tier_key=state["tier"],
        name=state["name"],
        rank=state["rank"],
        version=state["version"],
        value_narrative=state["valueNarrative"],
        currency=state["currency"],
        monthly_price_cents=state["monthlyPriceCents"],
        annual_price_cents=state["annualPriceCents"],
        support_level=support["level"],
        support_first_response_hours=support["firstResponseHours"],
        support_channels=tuple(support["channels"]),
        effective_from=datetime.fromisoformat(state["effectiveFrom"]),
        published_at=from_iso(state["publishedAt"]),
        outcomes=tuple(TierOutcome(o["outcome"], o["target"]) for o in state["outcomes"]),
        limits=tuple(
            TierLimit(lim["metric"], lim["enforcement"], lim["included"]) for lim in state["limits"]
        ),
        benefits=tuple(IncludedBenefit(b["benefit"], b["parameters"]) for b in state["benefits"]),
        exclusions=tuple(
            Exclusion(e["benefit"], e["includedIn"], e["note"]) for e in state["exclusions"]
        ),
    )


def benefit_snapshot(b: Benefit) -> dict[str, Any]:
    return {
        "key": b.key,
        "name": b.name,
        "kind": b.kind,
        "description": b.description,
        "outcome": b.outcome_key,
        "impactAmount": b.impact_amount,
        "impactUnit": b.impact_unit,
        "metric": b.metric_key,
        "introducedOn": b.introduced_on.isoformat(),
        "retiredOn": None if b.retired_on is None else b.retired_on.isoformat(),
        "version": b.version,
    }


def benefit_from_snapshot(state: dict[str, Any]) -> Benefit:
    retired = state["retiredOn"]
    return Benefit(
        key=state["key"],
        name=state["name"],
        kind=state["kind"],
        description=state["description"],
        outcome_key=state["outcome"],
        impact_amount=state["impactAmount"],
        impact_unit=state["impactUnit"],
        metric_key=state["metric"],
        introduced_on=date.fromisoformat(state["introducedOn"]),
        retired_on=None if retired is None else date.fromisoformat(retired),
        version=state["version"],
    )
