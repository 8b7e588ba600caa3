"""Trials of a higher tier for an active subscription. A trial ends at a set time and
then falls back to the tier version held before it, unless it was set to convert (the
scheduler applies either; see `lifecycle`). The billing period runs on unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.subscriptions import repository
from benefitgate.subscriptions.service import lock_at_version, record_change

__all__ = ["MAX_TRIAL_DAYS", "set_trial_conversion", "start_trial"]

MAX_TRIAL_DAYS = 90


def _trial_tier(
    catalog: Catalog, current_id: int, tier_key: str, change: ChangeContext
) -> TierVersion:
    target = catalog.current(tier_key, change.at)
    if target is None:
        raise InvalidChange("tier", f"no tier {tier_key!r} is published now")
    if target.rank <= catalog.versions[current_id].rank:
        raise InvalidChange("tier", "a trial is of a tier above the account's")
    return target


async def start_trial(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    tier_key: str,
    days: int,
    expected_version: int,
    catalog: Catalog,
) -> AuditEntry:
    """Move an active subscription to `tier_key` for `days` days, falling back at the end
    by default. Raises TargetNotFound, VersionConflict or InvalidChange (not active, a
    change already scheduled, not a higher tier, days out of range)."""
    if not 1 <= days <= MAX_TRIAL_DAYS:
        raise InvalidChange("days", f"a trial lasts 1 to {MAX_TRIAL_DAYS} days")
    before = await lock_at_version(conn, account_id, expected_version)
    if before.status != "active":
        raise InvalidChange(
            "accountId", f"only an active subscription can start a trial, not a {before.status} one"
        )
    if before.scheduled_change_at is not None:
        raise InvalidChange("accountId", "cancel the scheduled change before starting a trial")
    target = _trial_tier(catalog, before.tier_version_id, tier_key, change)
    wanted = replace(
        before,
        tier_version_id=target.id,
        status="trialing",
        trial_ends_at=change.at + timedelta(days=days),
        trial_fallback_tier_version_id=before.tier_version_id,
        trial_converts=False,
    )
    after = await repository.save(conn, wanted)
    return await record_change(
        conn, change, "subscription.trial_started", account_id, (before, after)
    )


async def set_trial_conversion(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    convert: bool,
    expected_version: int,
) -> AuditEntry:
    """Decide what the trial does at its end: keep its tier (`convert`) or fall back.
    Raises TargetNotFound, VersionConflict, or InvalidChange outside a trial or when the
    trial is already set that way."""
    before = await lock_at_version(conn, account_id, expected_version)
    if before.status != "trialing":
        raise InvalidChange("accountId", "the subscription is not in a trial")
    if before.trial_converts == convert:
        raise InvalidChange("convert", f"the trial is already set to {_OUTCOME[convert]}")
    after = await repository.save(conn, replace(before, trial_converts=convert))
    action = f"subscription.trial_set_to_{_OUTCOME[convert].replace(' ', '_')}"
    return await record_change(conn, change, action, account_id, (before, after))


_OUTCOME = {True: "convert", False: "fall back"}
