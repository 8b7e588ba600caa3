"""Trials of a higher tier for an active subscription. A trial ends at a set time and
then falls back to the tier version held before it, unless it was set to convert (the
scheduler applies either; see `lifecycle`). The billing period runs on unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from uuid import UUID

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.subscriptions import repository
from benefitgate.subscriptions.service import apply, lock_at_version, record_change
from benefitgate.subscriptions.transitions import MAX_TRIAL_DAYS, trial_start

__all__ = ["MAX_TRIAL_DAYS", "had_trial", "note_trial", "set_trial_conversion", "start_trial"]


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
    by default, and note the account's trial of that tier (see `had_trial`). Raises
    TargetNotFound, VersionConflict or InvalidChange (not active, a change already
    scheduled, not a higher tier, days out of range)."""
    if not 1 <= days <= MAX_TRIAL_DAYS:  # before taking the lock: the input is wrong anyway
        raise InvalidChange("days", f"a trial lasts 1 to {MAX_TRIAL_DAYS} days")
    start = partial(trial_start, tier_key=tier_key, days=days, catalog=catalog, now=change.at)
    _, entry = await apply(conn, change, account_id, expected_version, start)
    await note_trial(conn, account_id, tier_key, change.at)  # an operator may grant another
    return entry


async def had_trial(conn: asyncpg.Connection, account_id: UUID, tier_key: str) -> bool:
    """Whether the account has ever started a trial of the tier."""
    return await repository.had_trial(conn, account_id, tier_key)


async def note_trial(
    conn: asyncpg.Connection, account_id: UUID, tier_key: str, at: datetime
) -> bool:
    """Note a trial of the tier started at `at`; False when the account had one before
    (the primary key decides, so of two at once exactly one is first)."""
    return await repository.note_trial(conn, account_id, tier_key, at)


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
    before = await lock_at_version(conn, account_id, expected_version, change.at)
    if before.status != "trialing":
        raise InvalidChange("accountId", "the subscription is not in a trial")
    if before.trial_converts == convert:
        raise InvalidChange("convert", f"the trial is already set to {_OUTCOME[convert]}")
    after = await repository.save(conn, replace(before, trial_converts=convert))
    action = f"subscription.trial_set_to_{_OUTCOME[convert].replace(' ', '_')}"
    return await record_change(conn, change, action, account_id, (before, after))


_OUTCOME = {True: "convert", False: "fall back"}
