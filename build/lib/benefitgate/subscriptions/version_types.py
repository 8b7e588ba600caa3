"""GraphQL types of bulk migrations between tier versions."""

from __future__ import annotations

from typing import Any

import strawberry

from benefitgate.catalog.diff import TierVersionDiff as DiffModel
from benefitgate.catalog.models import VersionStatus
from benefitgate.catalog.types import CatalogTypes, Money
from benefitgate.catalog.version_types import TierVersionDiff, diff_type, money
from benefitgate.subscriptions.types import Term

__all__ = ["MigratingSubscription", "VersionMigration", "migration_type"]


@strawberry.type(description="A subscription a migration moves, or would move in a dry run.")
class MigratingSubscription:
    subscription_id: strawberry.ID
    account_id: strawberry.ID
    account_name: str
    term: Term
    price_before: Money = strawberry.field(description="Its term's price on the old version.")
    price_after: Money = strawberry.field(description="Its term's price on the new version.")
    version: int = strawberry.field(
        description="The subscription's version after the move (now, in a dry run)."
    )
    audit_entry_id: strawberry.ID | None = strawberry.field(
        description="The entry recording its move, which `auditRollback` undoes; null in a dry run."
    )


@strawberry.type
class VersionMigration:
    dry_run: bool
    count: int
    diff: TierVersionDiff = strawberry.field(
        description="What changes for every subscription moved, its price aside."
    )
    subscriptions: list[MigratingSubscription] = strawberry.field(description="By id.")
    replayed: bool


def _subscription(row: dict[str, Any], diff: DiffModel) -> MigratingSubscription:
    price = diff.price(row["term"])
    entry = row["auditEntryId"]
    return MigratingSubscription(
        subscription_id=strawberry.ID(row["subscriptionId"]),
        account_id=strawberry.ID(row["accountId"]),
        account_name=row["accountName"],
        term=Term(row["term"]),
        price_before=money(price.before),
        price_after=money(price.after),
        version=row["version"],
        audit_entry_id=None if entry is None else strawberry.ID(str(entry)),
    )


def migration_type(
    result: dict[str, Any],
    diff: DiffModel,
    statuses: tuple[VersionStatus, VersionStatus],
    types: CatalogTypes,
    replayed: bool,
) -> VersionMigration:
    """From `version_migration.result_json` and the diff of its two versions."""
    rows = result["subscriptions"]
    return VersionMigration(
        dry_run=result["dryRun"],
        count=len(rows),
        diff=diff_type(diff, statuses, types),
        subscriptions=[_subscription(r, diff) for r in rows],
        replayed=replayed,
    )
