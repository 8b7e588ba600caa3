"""Consumption results as JSON, stored with their idempotency key and replayed from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from benefitgate.metering.models import Consumed, QuotaDenied

__all__ = ["from_json", "to_json"]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def to_json(result: Consumed | QuotaDenied) -> dict[str, Any]:
    common = {"account_id": str(result.account_id), "metric_key": result.metric_key}
    if isinstance(result, QuotaDenied):
        return {
            **common,
            "denied": True,
            "requested": result.requested,
            "used": result.used,
            "limit": result.limit,
            "resets_at": _time(result.resets_at),
        }
    return {
        **common,
        "denied": False,
        "amount": result.amount,
        "used": result.used,
        "limit": result.limit,
        "overage": result.overage,
        "period_end": _time(result.period_end),
    }


def from_json(data: dict[str, Any]) -> Consumed | QuotaDenied:
    account_id = UUID(data["account_id"])
    if data["denied"]:
        return QuotaDenied(
            account_id,
            data["metric_key"],
            data["requested"],
            data["used"],
            data["limit"],
            _parse(data["resets_at"]),
        )
    return Consumed(
        account_id=account_id,
        metric_key=data["metric_key"],
        amount=data["amount"],
        used=data["used"],
        limit=data["limit"],
        overage=data["overage"],
        period_end=_parse(data["period_end"]),
    )
