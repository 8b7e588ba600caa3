"""Tier versions: the history and diffs for reading, drafts and publishing for internal
tools. Authorise, convert, call one service, map."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, NotFoundError
from benefitgate.api.scalars import parse_serial
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog import service
from benefitgate.catalog.cache import CatalogCache, catalog_of
from benefitgate.catalog.diff import diff_versions
from benefitgate.catalog.inputs import TierVersionDraftInput
from benefitgate.catalog.models import Catalog, TierVersion, VersionStatus
from benefitgate.catalog.snapshots import version_from_snapshot, version_snapshot
from benefitgate.catalog.types import catalog_types
from benefitgate.catalog.version_types import TierVersion as TierVersionType
from benefitgate.catalog.version_types import (
    TierVersionChanged,
    TierVersionDiff,
    diff_type,
    version_type,
)
from benefitgate.common.changes import ChangeContext

__all__ = [
    "TierVersionList",
    "TierVersionMutation",
    "TierVersionQuery",
    "catalog_after_change",
    "catalog_with",
]


@strawberry.type
class TierVersionList:
    versions: list[TierVersionType] = strawberry.field(description="Oldest first.")


TierVersionsResult = Annotated[
    TierVersionList | ForbiddenError | NotFoundError, strawberry.union("TierVersionsResult")
]
TierVersionDiffResult = Annotated[
    TierVersionDiff | NotFoundError, strawberry.union("TierVersionDiffResult")
]
TierVersionChangeResult = Annotated[
    TierVersionChanged | ChangeError, strawberry.union("TierVersionChangeResult")
]


async def catalog_with(info: Info, ids: Sequence[int]) -> Catalog:
    """The cached catalog; for internal tools, reloaded once if it lacks a version they
    name (written a moment ago through another process). Others never force a reload."""
    catalog = await catalog_of(info.context)
    if info.context.principal.internal and not all(i in catalog.versions for i in ids):
        await info.context.shared.get(CatalogCache).invalidate()
        catalog = await catalog_of(info.context)
    return catalog


async def catalog_after_change(info: Info) -> Catalog:
    """The catalog as a committed change left it. The change's event drops every process's
    snapshot soon; this process drops its own at once, so the caller reads its write."""
    await info.context.shared.get(CatalogCache).invalidate()
    return await catalog_of(info.context)


def _result(changed: tuple[TierVersion, AuditEntry], status: VersionStatus) -> dict[str, Any]:
    version, entry = changed
    snapshot = version_snapshot(version)
    return {"tierVersion": snapshot, "status": status.value, "auditEntryId": entry.id}


async def _answer(info: Info, applied: Applied | ChangeError) -> TierVersionChangeResult:
    if not isinstance(applied, Applied):
        return applied
    types = catalog_types(await catalog_after_change(info))
    version = version_from_snapshot(applied.result["tierVersion"])
    return TierVersionChanged(
        tier_version=version_type(version, VersionStatus(applied.result["status"]), types),
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


@strawberry.type
class TierVersionQuery:
    @strawberry.field(
        description="Every version of a tier, drafts included, with its status. "
        "Internal tools only."
    )
    async def tier_versions(self, info: Info, tier: str) -> TierVersionsResult:
        if not info.context.principal.internal:
            return ForbiddenError.of("only internal tools read a tier's versions")
        catalog = await catalog_of(info.context)
        history = catalog.versions_of(tier)
        if not history:
            return NotFoundError.of("tier")
        types, now = catalog_types(catalog), info.context.now
        return TierVersionList(
            versions=[version_type(v, catalog.status(v, now), types) for v in history]
        )

    @strawberry.field(
        description="What changed from one tier version to another: benefits, limits, "
        "exclusions, outcome targets, prices and support. Published versions are open to "
        "every caller; drafts to internal tools only."
    )
    async def tier_version_diff(
        self,
        info: Info,
        from_: Annotated[strawberry.ID, strawberry.argument(name="from")],
        to: strawberry.ID,
    ) -> TierVersionDiffResult:
        ids = [parse_serial(from_), parse_serial(to)]
        catalog = await catalog_with(info, [i for i in ids if i is not None])
        found = [catalog.versions.get(i) for i in ids if i is not None]
        internal = info.context.principal.internal
        pair = [v for v in found if v and (internal or v.published_at is not None)]
        if len(pair) != 2:
            return NotFoundError.of("tier version")
        now = info.context.now
        statuses = (catalog.status(pair[0], now), catalog.status(pair[1], now))
        return diff_type(diff_versions(pair[0], pair[1]), statuses, catalog_types(catalog))


@strawberry.type
class TierVersionMutation:
    @strawberry.mutation(
        description="Draft the next version of a tier, or a new tier (`basedOn: null`). "
        "VERSION_CONFLICT when `basedOn` is not the tier's newest version. A tier has one "
        "draft at a time; drafts show in `tierVersions`, never in the ladder."
    )
    async def tier_version_draft(
        self, info: Info, draft: TierVersionDraftInput, idempotency_key: str, reason: str = ""
    ) -> TierVersionChangeResult:
        spec = draft.to_model()

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return _result(await service.create_draft(conn, change, spec), VersionStatus.DRAFT)

        arguments = {"draft": dataclasses.asdict(spec)}
        return await _answer(
            info,
            await run_change(
                info,
                operation="tierVersionDraft",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )

    @strawberry.mutation(description="Throw a draft away. Published versions stay forever.")
    async def tier_version_discard(
        self, info: Info, id: strawberry.ID, idempotency_key: str, reason: str = ""
    ) -> TierVersionChangeResult:
        version_id = parse_serial(id)
        if version_id is None:
            return NotFoundError.of("tier version")

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            discarded = await service.discard_draft(conn, change, version_id)
            return _result(discarded, VersionStatus.DISCARDED)

        return await _answer(
            info,
            await run_change(
                info,
                operation="tierVersionDiscard",
                key=idempotency_key,
                reason=reason,
                arguments={"id": version_id},
                effect=effect,
            ),
        )

    @strawberry.mutation(
        description="Publish a draft, in force from `effectiveFrom` (default now; never in "
        "the past, at most a year ahead). Subscriptions keep the version they pin until "
        "renewal or a migration. "
        "VERSION_CONFLICT when it was published meanwhile."
    )
    async def tier_version_publish(
        self,
        info: Info,
        id: strawberry.ID,
        idempotency_key: str,
        effective_from: datetime | None = None,
        reason: str = "",
    ) -> TierVersionChangeResult:
        version_id = parse_serial(id)
        if version_id is None:
            return NotFoundError.of("tier version")

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            at = effective_from or change.at
            published = await service.publish(conn, change, version_id, at)
            status = VersionStatus.SCHEDULED if at > change.at else VersionStatus.IN_FORCE
            return _result(published, status)

        arguments = {"id": version_id, "effectiveFrom": effective_from}
        return await _answer(
            info,
            await run_change(
                info,
                operation="tierVersionPublish",
                key=idempotency_key,
                reason=reason,
                arguments=arguments,
                effect=effect,
            ),
        )
