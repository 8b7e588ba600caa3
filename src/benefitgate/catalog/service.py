"""Tier versions for internal tools: draft a version, discard a draft, publish one with an
effective date. Each change writes its audit entry and a `catalog.*` event (which drops
every process's cached catalog) in the caller's transaction.

Every change to a tier's versions locks the tier row first, so they happen one at a time
per tier; a tier has at most one draft, numbered after its newest version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.catalog import repository
from benefitgate.catalog.drafts import TierDraft, build_draft, check_tier
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.catalog.snapshots import version_snapshot
from benefitgate.common.changes import (
    ChangeContext,
    InvalidChange,
    TargetNotFound,
    VersionConflict,
    expect_version,
)
from benefitgate.common.isotime import WITHIN_A_YEAR
from benefitgate.common.text import quoted, trimmed
from benefitgate.events import outbox as events

__all__ = [
    "VERSION_KIND",
    "as_read",
    "create_draft",
    "discard_draft",
    "publish",
    "record_change",
    "tier_versions_by_ids",
]

VERSION_KIND = "tier_version"


async def as_read(conn: asyncpg.Connection) -> Catalog:
    """The whole catalog as `conn` reads it now, in the caller's transaction (for a change
    that needs it and has none at hand)."""
    return await repository.read_catalog(conn)


async def record_change(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    target: tuple[str, str],
    states: tuple[dict[str, Any] | None, dict[str, Any] | None],
    event: tuple[str, dict[str, Any]],
) -> AuditEntry:
    """Audit a catalog change (`target` is its kind and id) and enqueue its event, whose
    payload gains the action and the audit entry id. Catalog events concern no account:
    every reader of the feed sees them, so a draft's event carries ids only."""
    entry = await audit.record(conn, change, action, Target(*target, None), *states)
    event_type, payload = event
    await events.enqueue(
        conn, event_type, None, {"action": action, "auditEntryId": entry.id, **payload}
    )
    return entry


async def _recorded(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    states: tuple[TierVersion | None, TierVersion | None],
    event: tuple[str, dict[str, Any]],
) -> AuditEntry:
    version = states[1] or states[0]
    assert version is not None  # a change has a before or an after
    snapshots = tuple(None if s is None else version_snapshot(s) for s in states)
    return await record_change(
        conn, change, action, (VERSION_KIND, str(version.id)), (snapshots[0], snapshots[1]), event
    )


async def tier_versions_by_ids(
    conn: asyncpg.Connection, ids: Sequence[int]
) -> dict[int, TierVersion]:
    """Versions read now from the database, for changes that must not trust a cache."""
    return await repository.tier_versions(conn, ids=ids)


async def _claim_new_tier(conn: asyncpg.Connection, draft: TierDraft) -> None:
    assert draft.name is not None and draft.rank is not None  # checked by check_tier
    claim = await repository.claim_tier(conn, draft.tier_key, trimmed(draft.name), draft.rank)
    if claim == "rank_taken":
        raise InvalidChange("rank", f"another tier holds rank {draft.rank}")


async def create_draft(
    conn: asyncpg.Connection, change: ChangeContext, draft: TierDraft
) -> tuple[TierVersion, AuditEntry]:
    """A draft of the tier's next version: the draft's fields over its newest version, or a
    new tier when `based_on` is None. Raises InvalidChange (naming the field), TargetNotFound
    (no such tier), or VersionConflict when `based_on` is not the tier's newest version."""
    check_tier(draft)
    if draft.based_on is None:
        await _claim_new_tier(conn, draft)
    if not await repository.lock_tier(conn, draft.tier_key):
        raise TargetNotFound("tier")
    catalog = await repository.read_catalog(conn)
    history = catalog.versions_of(draft.tier_key)
    newest = history[-1] if history else None
    actual = newest.version if newest else 0
    if draft.based_on is None and newest is not None:
        message = f"tier {quoted(draft.tier_key)} exists, at version {actual}: base a draft on it"
        raise VersionConflict(0, actual, message)
    expect_version(draft.based_on or 0, actual)
    if newest is not None and newest.published_at is None:
        raise InvalidChange(
            "basedOn", f"version {actual} is a draft already: publish or discard it first"
        )
    built = build_draft(draft, newest, catalog, change.at)
    stored = replace(built, id=await repository.insert_version(conn, built))
    event = ("catalog.draft_created", {"tierVersionId": stored.id})
    return stored, await _recorded(conn, change, "tier_version.drafted", (None, stored), event)


async def _locked(
    conn: asyncpg.Connection, version_id: int
) -> tuple[TierVersion, TierVersion | None]:
    """The version, read after locking its tier, and the tier's newest published one."""
    tier_key = await repository.tier_of_version(conn, version_id)
    if tier_key is None or not await repository.lock_tier(conn, tier_key):
        raise TargetNotFound("tier version")
    history = await repository.tier_versions(conn, tier_key=tier_key)
    if version_id not in history:  # discarded while this waited for the lock
        raise TargetNotFound("tier version")
    published = (v for v in history.values() if v.published_at is not None)
    return history[version_id], max(published, key=lambda v: v.version, default=None)


async def discard_draft(
    conn: asyncpg.Connection, change: ChangeContext, version_id: int
) -> tuple[TierVersion, AuditEntry]:
    """Delete a draft (nothing refers to drafts), and its tier when that was all it had.
    Raises TargetNotFound, or InvalidChange for a published version."""
    draft, _ = await _locked(conn, version_id)
    if draft.published_at is not None:
        raise InvalidChange("id", "a published version is never removed")
    await repository.delete_draft(conn, version_id)
    await repository.drop_unused_tier(conn, draft.tier_key)
    event = ("catalog.draft_discarded", {"tierVersionId": version_id})
    return draft, await _recorded(conn, change, "tier_version.discarded", (draft, None), event)


async def publish(
    conn: asyncpg.Connection, change: ChangeContext, version_id: int, effective_from: datetime
) -> tuple[TierVersion, AuditEntry]:
    """Publish a draft, in force from `effective_from` (now or within a year, and not
    before the tier's newest published version). Of two publishers of one draft, one wins; the other
    gets VersionConflict. Raises TargetNotFound or InvalidChange."""
    if effective_from < change.at:
        raise InvalidChange("effectiveFrom", f"not in the past: it is {change.at.isoformat()}")
    if effective_from - change.at > WITHIN_A_YEAR:
        raise InvalidChange("effectiveFrom", "give a time within a year of now")
    draft, newest = await _locked(conn, version_id)
    current = newest.version if newest else 0
    if draft.published_at is not None:
        message = f"version {draft.version} of {quoted(draft.tier_key)} is published already"
        raise VersionConflict(draft.version - 1, current, message)
    if newest is not None and effective_from < newest.effective_from:
        raise InvalidChange(
            "effectiveFrom",
            f"version {newest.version} takes effect at {newest.effective_from.isoformat()}; "
            "a later version cannot take effect before it",
        )
    published = await repository.publish(conn, version_id, change.at, effective_from)
    assert published  # read as a draft under the tier lock, which is still held
    after = replace(draft, published_at=change.at, effective_from=effective_from)
    event = (
        "catalog.published",
        {
            "tierVersionId": version_id,
            "tier": draft.tier_key,
            "version": draft.version,
            "effectiveFrom": effective_from.isoformat(),
        },
    )
    return after, await _recorded(conn, change, "tier_version.published", (draft, after), event)
