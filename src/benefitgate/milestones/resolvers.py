"""Milestones: the definitions anyone may read, and defining them (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext
from benefitgate.milestones import definitions, models, repository
from benefitgate.milestones.types import (
    Milestone,
    MilestoneDefined,
    MilestoneInput,
    milestone_type,
)

__all__ = ["MilestoneMutation", "MilestoneQuery"]

MilestoneDefineResult = Annotated[
    MilestoneDefined | ChangeError, strawberry.union("MilestoneDefineResult")
]


def _model(given: MilestoneInput, now: datetime) -> models.Milestone:
    reward = given.reward
    return models.Milestone(
        key=given.key,
        name=given.name,
        description=given.description,
        kind=given.kind.value,
        metric_key=given.metric,
        threshold=given.threshold,
        periods=given.periods,
        outcome_key=given.outcome,
        repeatable=given.repeatable,
        reward=None
        if reward is None
        else models.Reward(reward.benefit, reward.amount, reward.days),
        active=given.active,
        created_at=now,
        version=0,
    )


@strawberry.type
class MilestoneQuery:
    @strawberry.field(description="Every milestone definition, active ones and retired ones.")
    async def milestones(self, info: Info) -> list[Milestone]:
        async with info.context.db.acquire() as conn:
            found = await repository.active_milestones(conn, inactive=True)
        types = catalog_types(await catalog_of(info.context))
        return [milestone_type(m, types) for m in found]


@strawberry.type
class MilestoneMutation:
    @strawberry.mutation(
        description="Create a milestone (omit `expectedVersion`) or replace its definition "
        "(pass its version); `active: false` retires it. Admins only. Achievements already "
        "made stand."
    )
    async def milestone_define(
        self,
        info: Info,
        milestone: MilestoneInput,
        idempotency_key: str,
        expected_version: int | None = None,
        reason: str = "",
    ) -> MilestoneDefineResult:
        if info.context.principal.role is not Role.ADMIN:
            return ForbiddenError.of("only admins define milestones")
        catalog = await catalog_of(info.context)
        wanted = _model(milestone, info.context.now)

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            stored, entry = await definitions.define(
                conn, change, wanted, expected_version, catalog
            )
            return {"auditEntryId": entry.id, "milestone": definitions.snapshot(stored)}

        arguments = {**definitions.arguments(wanted), "expectedVersion": expected_version}
        applied = await run_change(
            info,
            operation="milestoneDefine",
            key=idempotency_key,
            reason=reason,
            arguments=arguments,
            effect=effect,
        )
        return await _defined(info, applied)


async def _defined(info: Info, applied: Applied | ChangeError) -> MilestoneDefineResult:
    """The milestone as the change left it: from the stored result, so a replay answers
    what the first request did."""
    if not isinstance(applied, Applied):
        return applied
    stored = definitions.from_snapshot(applied.result["milestone"])
    types = catalog_types(await catalog_of(info.context))
    return MilestoneDefined(
        milestone=milestone_type(stored, types),
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )
