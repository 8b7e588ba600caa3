"""Catalog queries: the tier ladder and the benefit catalog. Readable by every principal."""

from __future__ import annotations

from typing import Annotated

import strawberry

from benefitgate.catalog import models
from benefitgate.catalog.types import Benefit, BenefitKind, Tier, catalog_types
from benefitgate.graphql.context import Info
from benefitgate.graphql.errors import NotFoundError

__all__ = ["BenefitFilter", "CatalogQuery"]

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
        catalog = await info.context.catalog()
        types = catalog_types(catalog)
        return [types.tiers[v.id] for v in catalog.ladder(info.context.now)]

    @strawberry.field(description="One tier, in the version in force now.")
    async def tier(self, info: Info, key: str) -> TierResult:
        catalog = await info.context.catalog()
        version = catalog.current(key, info.context.now)
        if version is None:
            return NotFoundError.of("tier")
        return catalog_types(catalog).tiers[version.id]

    @strawberry.field(description="The benefit catalog, optionally filtered.")
    async def benefits(self, info: Info, filter: BenefitFilter | None = None) -> list[Benefit]:
        catalog = await info.context.catalog()
        flt = filter or BenefitFilter()
        keys = None
        if flt.tier is not None:
            version = catalog.current(flt.tier, info.context.now)
            keys = version.benefit_keys if version else frozenset()
        types = catalog_types(catalog)
        return [
            types.benefits[b.key] for b in catalog.benefits.values() if _matches(b, flt, keys, info)
        ]
