"""Bulk migration of subscriptions between versions of their tier, for internal tools."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_serial
from benefitgate.catalog.diff import diff_versions
from benefitgate.catalog.types import catalog_types
from benefitgate.catalog.version_resolvers import catalog_with
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.subscriptions import version_migration
from benefitgate.subscriptions.version_types import VersionMigration, migration_type

__all__ = ["VersionMigrationMutation"]

VersionMigrationResult = Annotated[
    VersionMigration | ChangeError, strawberry.union("VersionMigrationResult")
]


async def _dry_run(info: Info, from_id: int, to_id: int) -> Applied | ChangeError:
    """A preview: read in one read-only snapshot, so it writes nothing, not even its key."""
    try:
        async with (
            info.context.db.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            migration = await version_migration.preview(conn, from_id, to_id)
    except InvalidChange as exc:
        return InvalidInputError.of(exc.field, str(exc))
    except TargetNotFound as exc:
        return NotFoundError.of(exc.what)
    return Applied(version_migration.result_json(migration), replayed=False)


async def _answer(info: Info, applied: Applied | ChangeError) -> VersionMigrationResult:
    if not isinstance(applied, Applied):
        return applied
    ids = [applied.result["fromVersionId"], applied.result["toVersionId"]]
    catalog = await catalog_with(info, ids)
    source, target = (catalog.versions[i] for i in ids)
    now = info.context.now
    statuses = (catalog.status(source, now), catalog.status(target, now))
    diff = diff_versions(source, target)
    return migration_type(applied.result, diff, statuses, catalog_types(catalog), applied.replayed)


@strawberry.type
class VersionMigrationMutation:
    @strawberry.mutation(
        description="Move every live subscription on one version of a tier to another "
        "published version of it. `dryRun: true` lists who would move and what changes for "
        "them, and writes nothing (not even the idempotency key). Pass the dry run's count "
        "as `expectedCount`: VERSION_CONFLICT if the set changed since. At most 10,000 "
        "subscriptions a call."
    )
    async def subscriptions_migrate_version(
        self,
        info: Info,
        from_version_id: strawberry.ID,
        to_version_id: strawberry.ID,
        dry_run: bool,
        idempotency_key: str,
        expected_count: int | None = None,
        reason: str = "",
    ) -> VersionMigrationResult:
        if not info.context.principal.internal:
            return ForbiddenError.of("only internal tools (operator or admin keys) change this")
        from_id, to_id = parse_serial(from_version_id), parse_serial(to_version_id)
        if from_id is None or to_id is None:
            return NotFoundError.of("tier version")
        if dry_run:
            return await _answer(info, await _dry_run(info, from_id, to_id))

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            moved = await version_migration.migrate(conn, change, from_id, to_id, expected_count)
            return version_migration.result_json(moved)

        arguments = {"from": from_id, "to": to_id, "expectedCount": expected_count}
        applied = await run_change(
            info,
            operation="subscriptionsMigrateVersion",
            key=idempotency_key,
            reason=reason,
            arguments=arguments,
            effect=effect,
        )
        return await _answer(info, applied)
