"""An impact report's document: the summary's figures with the names they had when the
report was made, as JSON. Stored once and exported as is, so a report never changes when
the catalog does. Pure."""

from __future__ import annotations

from typing import Any

from benefitgate.catalog.models import Catalog
from benefitgate.impact.models import ImpactSummary

__all__ = ["document_of"]


def document_of(account_name: str, summary: ImpactSummary, catalog: Catalog) -> dict[str, Any]:
    """The report of the summary's range; `newBenefits` are those introduced in it."""
    s = summary
    fresh = sorted(
        (b for b in catalog.benefits.values() if s.range.start <= b.introduced_on <= s.range.end),
        key=lambda b: b.key,
    )
    return {
        "account": {"id": str(s.account_id), "name": account_name},
        "from": s.range.start.isoformat(),
        "to": s.range.end.isoformat(),
        "valueDelivered": None
        if s.value_cents is None
        else {"amountCents": s.value_cents, "currency": s.currency},
        "metrics": [
            {
                "key": m.metric.key,
                "name": m.metric.name,
                "unit": m.metric.unit,
                "value": m.value,
                "limit": m.limit,
                "peakPercent": m.peak_percent,
                "trendPercent": m.trend_percent,
            }
            for m in s.metrics
        ],
        "outcomes": [
            {
                "key": o.outcome.key,
                "name": o.outcome.name,
                "unit": o.outcome.unit,
                "delivered": o.delivered,
                "target": None if o.target is None else o.target.target,
                "percent": o.percent,
                "met": o.met,
                "valueCents": o.value_cents,
            }
            for o in s.outcomes
        ],
        "milestones": [
            {"key": a.milestone_key, "name": a.name, "achievedAt": a.achieved_at.isoformat()}
            for a in s.achieved
        ],
        "benefitsUsed": [
            {
                "key": u.grant.benefit_key,
                "name": _benefit_name(catalog, u.grant.benefit_key),
                "source": u.grant.source,
                "used": u.used,
            }
            for u in s.benefits_used
        ],
        "newBenefits": [{"key": b.key, "name": b.name} for b in fresh],
    }


def _benefit_name(catalog: Catalog, key: str) -> str:
    benefit = catalog.benefits.get(key)
    return key if benefit is None else benefit.name
