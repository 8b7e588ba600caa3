"""Consumption results as JSON, stored with their idempotency key and replayed from it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from benefitgate.common.isotime import from_iso, to_iso
from benefitgate.metering.models import Consumed, QuotaDenied, Suspended

__all__ = ["from_json", "to_json"]


def to_json(result: Consumed | QuotaDenied | Suspended) -> dict[str, Any]:
    if isinstance(result, Suspended):
        return {"account_id": str(result.account_id), "suspended": result.status}
    common = {"account_id": str(result.account_id), "metric_key": result.metric_key}
    if isinstance(result, QuotaDenied):
        return {
            **common,
            "denied": True,
            "requested": result.requested,
            "used": result.used,
            "limit": result.limit,
            "resets_at": to_iso(result.resets_at),
        }
    return {
        **common,
        "denied": False,
        "amount": result.amount,
        "used": result.used,
        "limit": result.limit,
        "overage": result.overage,
        "period_end": to_iso(result.period_end),
    }


def from_json(data: dict[str, Any]) -> Consumed | QuotaDenied | Suspended:
    account_id = UUID(data["account_id"])
    if "suspended" in data:
        return Suspended(account_id, data["suspended"])
    if data["denied"]:
        return QuotaDenied(
            account_id,
            data["metric_key"],
            data["requested"],
            data["used"],
            data["limit"],
            from_iso(data["resets_at"]),
        )
    return Consumed(
        account_id=account_id,
        metric_key=data["metric_key"],
        amount=data["amount"],
        used=data["used"],
        limit=data["limit"],
        overage=data["overage"],
        period_end=from_iso(data["period_end"]),
    )
