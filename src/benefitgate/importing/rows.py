"""What each row of an import file becomes: a new account, or a subscription for the
account of an externalId; a RowError naming the column when it cannot."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import orjson

from benefitgate.accounts.bulk import NewAccount, checked
from benefitgate.accounts.models import Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import InvalidChange
from benefitgate.importing.csvfile import Row, RowError
from benefitgate.subscriptions.provisioning import new_subscription

__all__ = [
    "ACCOUNT_COLUMNS",
    "OPTIONAL_ACCOUNT_COLUMNS",
    "OPTIONAL_SUBSCRIPTION_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "account_of",
    "subscription_of",
]

ACCOUNT_COLUMNS = ("external_id", "name")
OPTIONAL_ACCOUNT_COLUMNS = ("metadata", "partner_ids")
SUBSCRIPTION_COLUMNS = ("external_id", "tier", "term", "seats")
OPTIONAL_SUBSCRIPTION_COLUMNS = ("starts_at", "trial_days")

# The API's field names, as InvalidChange gives them, back to the file's column names.
_COLUMN = {"externalId": "external_id", "trialDays": "trial_days", "startsAt": "starts_at"}


def account_of(row: Row) -> NewAccount | RowError:
    v = row.values
    try:
        metadata = orjson.loads(v["metadata"]) if v.get("metadata") else {}
    except orjson.JSONDecodeError:
        return RowError(row.line, "metadata", "not a JSON object")
    if not isinstance(metadata, dict):
        return RowError(row.line, "metadata", "not a JSON object")
    partners = _partners(v.get("partner_ids", ""))
    if partners is None:
        return RowError(row.line, "partner_ids", "give partner ids separated by ';', none empty")
    try:
        return checked(NewAccount(uuid.uuid4(), v["external_id"], v["name"], metadata, partners))
    except InvalidChange as exc:
        return RowError(row.line, _COLUMN.get(exc.field, exc.field), str(exc))


def _partners(cell: str) -> tuple[UUID, ...] | None:
    """The partner ids of a cell, none for a blank one; None if an item is not an id. An
    empty item (`;;`, `a;`) is not skipped: it was, so `;;` meant no partners while `nope`
    was refused, and a lost id read as a row without it."""
    if not cell.strip():
        return ()
    try:
        return tuple(UUID(item) for item in cell.split(";"))
    except ValueError:
        return None


def subscription_of(
    row: Row, catalog: Catalog, now: datetime
) -> tuple[str, Subscription] | RowError:
    v = row.values
    try:
        seats = int(v["seats"])
    except ValueError:
        return RowError(row.line, "seats", "not a whole number")
    try:
        trial_days = int(v.get("trial_days") or 0)
    except ValueError:
        return RowError(row.line, "trial_days", "not a whole number")
    try:
        starts = datetime.fromisoformat(v["starts_at"]) if v.get("starts_at") else now
    except ValueError:
        return RowError(row.line, "starts_at", "not an ISO 8601 instant")
    if starts.tzinfo is None:
        return RowError(row.line, "starts_at", "give a time zone offset (or Z)")
    starts = starts.astimezone(UTC)  # the offset written says nothing about the period
    try:
        sub = new_subscription(v["tier"], v["term"], seats, starts, trial_days, catalog, now)
    except InvalidChange as exc:
        return RowError(row.line, _COLUMN.get(exc.field, exc.field), str(exc))
    return v["external_id"], sub
