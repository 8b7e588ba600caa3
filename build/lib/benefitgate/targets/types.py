"""GraphQL types of outcome targets."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from benefitgate.catalog.types import CatalogTypes, Outcome
from benefitgate.targets import models

__all__ = ["OutcomeTargetProgress", "TargetRemoved", "progress_type"]


@strawberry.type(description="An outcome target of the account and how far it has come.")
class OutcomeTargetProgress:
    outcome: Outcome
    target: float
    start: date
    end: date = strawberry.field(description="The target's last day, inclusive.")
    note: str
    set_by: str
    set_at: datetime
    actual: float | None = strawberry.field(
        description="The outcome's metric over the target's days so far; null when no "
        "metric measures the outcome."
    )
    percent: float | None = strawberry.field(
        description="Attainment: actual over target, or target over actual for an outcome "
        "that should decrease."
    )
    met: bool


@strawberry.type
class TargetRemoved:
    removed: bool = strawberry.field(description="False when there was no such target.")


def progress_type(p: models.TargetProgress, types: CatalogTypes) -> OutcomeTargetProgress:
    t = p.target
    return OutcomeTargetProgress(
        outcome=types.outcomes[t.outcome_key],
        target=t.target,
        start=t.starts_on,
        end=t.ends_on,
        note=t.note,
        set_by=t.set_by,
        set_at=t.set_at,
        actual=p.actual,
        percent=p.percent,
        met=p.met,
    )
