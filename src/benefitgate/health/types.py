"""GraphQL types of account health."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from benefitgate.health import models

__all__ = ["AccountHealth", "HealthFactor", "factor_type", "health_type"]


@strawberry.enum(description="What an account's health is scored from (see the README).")
class HealthFactorKey(enum.Enum):
    USAGE_TREND = "usage_trend"
    TARGET_PACE = "target_pace"
    BENEFIT_ADOPTION = "benefit_adoption"
    SEAT_USE = "seat_use"
    DENIALS = "denials"
    CANCELLATION = "cancellation"


@strawberry.type
class HealthFactor:
    key: HealthFactorKey
    score: int = strawberry.field(description="0 (worst) to 100.")
    weight: int = strawberry.field(description="Its weight in the account's score.")
    detail: str = strawberry.field(description="In plain words.")


@strawberry.type(description="How healthy the account's use of its license is.")
class AccountHealth:
    score: int = strawberry.field(
        description="0 (at risk) to 100: the factors' mean, weighted, over those that apply."
    )
    factors: list[HealthFactor] = strawberry.field(
        description="The factors that apply to the account, most harmful first."
    )
    scored_at: datetime = strawberry.field(
        description="When this score was last computed: the health job's last round that "
        "scored the account (the score `accountsAtRisk` ranks it by), or now for an "
        "account the job has not scored yet."
    )


def factor_type(f: models.Factor) -> HealthFactor:
    return HealthFactor(key=HealthFactorKey(f.key), score=f.score, weight=f.weight, detail=f.detail)


def health_type(s: models.Scored) -> AccountHealth:
    h = s.health
    return AccountHealth(
        score=h.score, factors=[factor_type(f) for f in h.factors], scored_at=s.scored_at
    )
