"""Benefit catalog entries for internal tools: add one, retire one from a date. Each change
writes its audit entry and a `catalog.*` event in the caller's transaction.

Entries are never deleted: tier versions, grants and audit entries name them. A retired
benefit stays in the versions that include it (grandfathered) and is added to no new one.
"""

from __future__ import annotations

import re
from datetime import date

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.catalog import repository
from benefitgate.catalog.drafts import check_text
from benefitgate.catalog.models import Benefit, Catalog
from benefitgate.catalog.service import record_change
from benefitgate.catalog.snapshots import benefit_snapshot
from benefitgate.common import quantities
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, expect_version
from benefitgate.common.text import quoted

__all__ = ["BENEFIT_KIND", "KINDS", "check_benefit", "create_benefit", "retire_benefit"]

BENEFIT_KIND = "benefit"
KINDS = ("feature", "limit", "credit", "support", "early_access", "education", "governance")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_benefit(b: Benefit, catalog: Catalog) -> None:
    """Raises InvalidChange naming the field of a new entry at fault."""
    if not _KEY.fullmatch(b.key):
        raise InvalidChange("key", "a key of lowercase letters, digits and _ (at most 63)")
    check_text("name", b.name, 1, 200)
    check_text("description", b.description, 0, 2000)
    if b.kind not in KINDS:
        raise InvalidChange("kind", f"one of {', '.join(KINDS)}")
    if b.outcome_key is not None and b.outcome_key not in catalog.outcomes:
        raise InvalidChange("outcome", f"unknown outcome {quoted(b.outcome_key)}")
    if b.metric_key is not None and b.metric_key not in catalog.metrics:
        raise InvalidChange("metric", f"unknown metric {quoted(b.metric_key)}")
    if b.kind == "limit" and b.metric_key is None:
        raise InvalidChange("metric", "a limit benefit names the metric it raises")
    if (b.impact_amount is None) != (b.impact_unit is None):
        raise InvalidChange("impactUnit", "give an impact's amount and unit together")
    if b.impact_amount is not None and not quantities.in_range(b.impact_amount):
        raise InvalidChange("impactAmount", quantities.OUT_OF_RANGE)
    if b.impact_unit is not None:
        check_text("impactUnit", b.impact_unit, 1, 100)


async def create_benefit(
    conn: asyncpg.Connection, change: ChangeContext, new: Benefit
) -> tuple[Benefit, AuditEntry]:
    """Add an entry to the catalog. Raises InvalidChange (a bad field, a taken key)."""
    check_benefit(new, await repository.read_catalog(conn))
    stored = await repository.insert_benefit(conn, new)
    if stored is None:
        raise InvalidChange("key", f"benefit {quoted(new.key)} exists")
    after = benefit_snapshot(stored)
    event = ("catalog.benefit_created", {"benefit": stored.key})
    entry = await record_change(
        conn, change, "benefit.created", (BENEFIT_KIND, stored.key), (None, after), event
    )
    return stored, entry


async def retire_benefit(
    conn: asyncpg.Connection,
    change: ChangeContext,
    key: str,
    expected_version: int,
    retired_on: date,
) -> tuple[Benefit, AuditEntry]:
    """Retire an entry from `retired_on` (today or later; it may move a retirement not yet
    reached). Raises TargetNotFound, VersionConflict or InvalidChange."""
    before = await repository.lock_benefit(conn, key)
    if before is None:
        raise TargetNotFound("benefit")
    expect_version(expected_version, before.version)
    today = change.at.date()
    if before.retired_on is not None and before.retired_on <= today:
        raise InvalidChange(
            "key", f"{quoted(key)} is retired since {before.retired_on.isoformat()}"
        )
    if retired_on < today:
        raise InvalidChange("retiredOn", f"not in the past: it is {today.isoformat()}")
    if retired_on <= before.introduced_on:
        raise InvalidChange("retiredOn", "retire it after it was introduced")
    after = await repository.retire_benefit(conn, key, retired_on)
    event = ("catalog.benefit_retired", {"benefit": key, "retiredOn": retired_on.isoformat()})
    states = (benefit_snapshot(before), benefit_snapshot(after))
    entry = await record_change(conn, change, "benefit.retired", (BENEFIT_KIND, key), states, event)
    return after, entry
