"""Catalog queries: the tier ladder and the benefit catalog, readable by every principal;
and benefit changes for internal tools."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import NotFoundError
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog import benefits as benefit_changes
from benefitgate.catalog import models, primitives
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.inputs import BenefitInput
from benefitgate.catalog.snapshots import benefit_from_snapshot, benefit_snapshot
from benefitgate.catalog.types import (
    Aggregation,
    Benefit,
    BenefitKind,
    Direction,
    MetricChanged,
    OutcomeChanged,
    Reset,
    Tier,
    catalog_types,
)
from benefitgate.catalog.version_resolvers import catalog_after_change
from benefitgate.catalog.version_types import BenefitChanged
from benefitgate.common.changes import ChangeContext

__all__ = ["BenefitFilter", "CatalogMutation", "CatalogPrimitiveMutation", "CatalogQuery"]

TierResult = Annotated[Tier | NotFoundError, strawberry.union("TierResult")]


@strawberry.input
class BenefitFilter:
    kind: BenefitKind | None = None
    outcome: str | None = strawberry.field(default=None, description="An outcome key.")
    tier: str | None = strawberry.field(
        default=None, description="A tier key: only benefits its current version includes."
    )
    include_retired: bool = False


def _matches(
    benefit: models.Benefit, flt: BenefitFilter, keys: frozenset[str] | None, info: Info
) -> bool:
    return (
        (flt.kind is None or benefit.kind == flt.kind.value)
        and (flt.outcome is None or benefit.outcome_key == flt.outcome)
        and (keys is None or benefit.key in keys)
        and (flt.include_retired or benefit.active_on(info.context.now.date()))
    )


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="The tier ladder in force now, lowest rank first.")
    async def tiers(self, info: Info) -> list[Tier]:
        catalog = await catalog_of(info.context)
        types = catalog_types(catalog)
        return [types.tiers[v.id] for v in catalog.ladder(info.context.now)]

    @strawberry.field(description="One tier, in the version in force now.")
    async def tier(self, info: Info, key: str) -> TierResult:
        catalog = await catalog_of(info.context)
        version = catalog.current(key, info.context.now)
        if version is None:
            return NotFoundError.of("tier")
        return catalog_types(catalog).tiers[version.id]

    @strawberry.field(description="The benefit catalog, optionally filtered.")
    async def benefits(self, info: Info, filter: BenefitFilter | None = None) -> list[Benefit]:
        catalog = await catalog_of(info.context)
        flt = filter or BenefitFilter()
        keys = None
        if flt.tier is not None:
            version = catalog.current(flt.tier, info.context.now)
            keys = version.benefit_keys if version else frozenset()
        types = catalog_types(catalog)
        return [
            types.benefits[b.key] for b in catalog.benefits.values() if _matches(b, flt, keys, info)
        ]


BenefitChangeResult = Annotated[
    BenefitChanged | ChangeError, strawberry.union("BenefitChangeResult")
]


def _benefit_result(changed: tuple[models.Benefit, AuditEntry]) -> dict[str, Any]:
    benefit, entry = changed
    return {"benefit": benefit_snapshot(benefit), "auditEntryId": entry.id}


async def _benefit_answer(info: Info, applied: Applied | ChangeError) -> BenefitChangeResult:
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await catalog_after_change(info))
    return BenefitChanged(
        benefit=types.benefit(benefit_from_snapshot(applied.result["benefit"])),
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Add a benefit to the catalog.")
    async def benefit_create(
        self, info: Info, benefit: BenefitInput, idempotency_key: str, reason: str = ""
    ) -> BenefitChangeResult:
        new = benefit.to_model(info.context.now.date())

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _benefit_result(await benefit_changes.create_benefit(conn, change, new))

        arguments = {"benefit": benefit_snapshot(new)}
        return await _benefit_answer(
            info,
            await run_change(
                info,
                operation="benefitCreate",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )

    @strawberry.mutation(
        description="Retire a benefit from `retiredOn` (today or later). Tier versions that "
        "include it keep it; no new version may add it."
    )
    async def benefit_retire(
        self,
        info: Info,
        key: str,
        expected_version: int,
        retired_on: date,
        idempotency_key: str,
        reason: str = "",
    ) -> BenefitChangeResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            retired = await benefit_changes.retire_benefit(
                conn, change, key, expected_version, retired_on
            )
            return _benefit_result(retired)

        arguments = {"key": key, "version": expected_version, "retiredOn": retired_on}
        return await _benefit_answer(
            info,
            await run_change(
                info,
                operation="benefitRetire",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )


MetricChangeResult = Annotated[MetricChanged | ChangeError, strawberry.union("MetricChangeResult")]
OutcomeChangeResult = Annotated[
    OutcomeChanged | ChangeError, strawberry.union("OutcomeChangeResult")
]


async def _metric_change(
    info: Info, operation: str, metric: models.Metric, key: str, reason: str, create: bool
) -> MetricChangeResult:
    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        apply = primitives.create_metric if create else primitives.update_metric
        _, entry = await apply(conn, change, metric)
        return {"auditEntryId": entry.id}

    applied = await run_change(
        info, operation=operation, key=key, reason=reason,
        arguments={"metric": asdict(metric)}, effect=effect,
    )  # fmt: skip
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await catalog_after_change(info))
    return MetricChanged(
        metric=types.metrics[metric.key],
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


def _metric(
    key: str,
    name: str,
    unit: str,
    aggregation: Aggregation,
    reset: Reset,
    group_by: list[str] | None,
    unique_property: str | None,
) -> models.Metric:
    return models.Metric(
        key, name, unit, aggregation.value, reset.value, tuple(group_by or ()), unique_property
    )


@strawberry.type
class CatalogPrimitiveMutation:
    @strawberry.mutation(description="Add a metric: a usage quantity and how it aggregates.")
    async def metric_create(
        self,
        info: Info,
        key: str,
        name: str,
        unit: str,
        aggregation: Aggregation,
        reset: Reset,
        idempotency_key: str,
        reason: str = "",
        group_by: list[str] | None = None,
        unique_property: str | None = None,
    ) -> MetricChangeResult:
        metric = _metric(key, name, unit, aggregation, reset, group_by, unique_property)
        return await _metric_change(info, "metricCreate", metric, idempotency_key, reason, True)

    @strawberry.mutation(
        description="Change a metric's name, unit, reset, or aggregation: the aggregation "
        "(and groupBy, uniqueProperty) only while no usage of it was counted."
    )
    async def metric_update(
        self,
        info: Info,
        key: str,
        name: str,
        unit: str,
        aggregation: Aggregation,
        reset: Reset,
        idempotency_key: str,
        reason: str = "",
        group_by: list[str] | None = None,
        unique_property: str | None = None,
    ) -> MetricChangeResult:
        metric = _metric(key, name, unit, aggregation, reset, group_by, unique_property)
        return await _metric_change(info, "metricUpdate", metric, idempotency_key, reason, False)

    @strawberry.mutation(
        description="Add an outcome, measured by `metric` when one does, worth "
        "`valuePerUnitCents` in `valueCurrency` a unit when given."
    )
    async def outcome_create(
        self,
        info: Info,
        key: str,
        name: str,
        unit: str,
        direction: Direction,
        idempotency_key: str,
        description: str = "",
        metric: str | None = None,
        value_per_unit_cents: int | None = None,
        value_currency: str | None = None,
        reason: str = "",
    ) -> OutcomeChangeResult:
        outcome = models.Outcome(
            key, name, unit, direction.value, description, metric, value_per_unit_cents,
            value_currency,
        )  # fmt: skip

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            _, entry = await primitives.create_outcome(conn, change, outcome)
            return {"auditEntryId": entry.id}

        applied = await run_change(
            info, operation="outcomeCreate", key=idempotency_key, reason=reason,
            arguments={"outcome": asdict(outcome)}, effect=effect,
        )  # fmt: skip
        if not isinstance(applied, Applied):
            return applied
        types = catalog_types(await catalog_after_change(info))
        return OutcomeChanged(
            outcome=types.outcomes[key],
            audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
            replayed=applied.replayed,
        )
