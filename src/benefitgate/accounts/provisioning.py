"""Provisioning accounts: create one under the vendor's own id, change its name and
metadata. Each change is audited (before and after) and reported with an outbox event, in
the caller's transaction; refusals are those of `common.changes`.

An `externalId` (the billing system's customer id) names one account: a second create
with it is AlreadyExists naming the first, however many race. Metadata holds at most 50
string values, keys of 1 to 40 characters and values of at most 500, as payment APIs
bound theirs, so that it stays a label and not a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import AccountProfile
from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import (
    AlreadyExists,
    ChangeContext,
    InvalidChange,
    TargetNotFound,
    expect_version,
)
from benefitgate.common.text import is_blank, quoted, trimmed
from benefitgate.events import outbox as events
from benefitgate.partners import service as partners

__all__ = ["CREATED", "KIND", "UPDATED", "check_fields", "create", "snapshot", "update"]

CREATED = "account.created"
UPDATED = "account.updated"
KIND = "account"
MAX_NAME = 200
MAX_EXTERNAL_ID = 255
MAX_METADATA_KEYS = 50
MAX_KEY = 40
MAX_VALUE = 500
MAX_PARTNERS = 20


_NUL = "\x00"
_NO_NUL = "text cannot hold a NUL character (\\u0000)"


def check_fields(
    external_id: str | None, name: str, metadata: Mapping[str, Any]
) -> tuple[str, dict[str, str]]:
    """The name (trimmed) and metadata, if every field is within bounds; raises
    InvalidChange naming the first that is not."""
    # Postgres text cannot hold a NUL. GraphQL requests are refused one earlier, as their
    # body is read; an import's cells and metadata come here first.
    if external_id is not None and _NUL in external_id:
        raise InvalidChange("externalId", _NO_NUL)
    if _NUL in name:
        raise InvalidChange("name", _NO_NUL)
    if external_id is not None and not 0 < len(external_id) <= MAX_EXTERNAL_ID:
        raise InvalidChange("externalId", f"give 1 to {MAX_EXTERNAL_ID} characters")
    if external_id is not None and is_blank(external_id):
        # A space, or only invisible characters: no billing system's id, and one that
        # nobody could tell from another blank one when it comes back.
        raise InvalidChange("externalId", "give an id with visible characters, not blanks")
    if external_id is not None and trimmed(external_id) != external_id:
        # Refused, not trimmed: " pad " was stored as an account apart from "pad", and
        # trimming now would name a stored account by another id.
        raise InvalidChange("externalId", "give the id without blanks at either end")
    return trimmed(name), _check(name, metadata)


def _check(name: str, metadata: Mapping[str, Any]) -> dict[str, str]:
    if name and is_blank(name):  # spaces, or invisible characters only: it counts as none
        raise InvalidChange("name", "give a name with visible characters, not only blanks")
    if not 0 < len(trimmed(name)) <= MAX_NAME:
        raise InvalidChange("name", f"give a name of 1 to {MAX_NAME} characters")
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidChange("metadata", f"at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not 0 < len(key) <= MAX_KEY:
            raise InvalidChange("metadata", f"keys are 1 to {MAX_KEY} characters: {quoted(key)}")
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise InvalidChange(
                "metadata", f"values are strings of at most {MAX_VALUE} characters ({quoted(key)})"
            )
        if _NUL in key or _NUL in value:
            raise InvalidChange("metadata", f"{_NO_NUL} ({quoted(key)})")
    return dict(metadata)


def snapshot(external_id: str | None, name: str, metadata: dict[str, str]) -> dict[str, Any]:
    """An account's fields as its audit entries and events record them."""
    return {"externalId": external_id, "name": name, "metadata": metadata}


def _snapshot(p: AccountProfile) -> dict[str, Any]:
    return snapshot(p.external_id, p.name, p.metadata)


async def create(
    conn: asyncpg.Connection,
    change: ChangeContext,
    external_id: str | None,
    name: str,
    metadata: Mapping[str, Any],
    partner_ids: Sequence[UUID],
) -> AccountProfile:
    """Create the account and link its partners. Raises AlreadyExists when another account
    holds `external_id`, TargetNotFound for an unknown partner, InvalidChange for input
    out of bounds."""
    if len(partner_ids) > MAX_PARTNERS:
        raise InvalidChange("partnerIds", f"at most {MAX_PARTNERS} partners")
    name, checked = check_fields(external_id, name, metadata)
    account_id = await repository.insert(conn, uuid.uuid4(), external_id, name, checked, change.at)
    if account_id is None:
        assert external_id is not None  # only the external id is a unique key given
        existing = await repository.id_by_external_id(conn, external_id)
        raise AlreadyExists("account", "this externalId", str(existing))
    created = await repository.profile(conn, account_id)
    assert created is not None  # inserted by this transaction
    # Reported before its links: feed and webhook readers hear of the account first.
    await _report(conn, change, CREATED, None, created)
    for partner_id in dict.fromkeys(partner_ids):
        await partners.link(conn, change, partner_id, account_id)
    return created


async def update(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    expected_version: int,
    name: str,
    metadata: Mapping[str, Any] | None,
) -> AccountProfile:
    """Change the name, and the metadata unless None (then kept), of the account at
    `expected_version`. The name and metadata it holds already change nothing: the
    account is returned as it is, with no new version, entry or event, as other setters
    do. Raises TargetNotFound, VersionConflict (a stale version, even then) or
    InvalidChange."""
    before = await repository.profile(conn, account_id, lock=True)
    if before is None:
        raise TargetNotFound("account")
    expect_version(expected_version, before.version)
    wanted = _check(name, before.metadata if metadata is None else metadata)
    if (trimmed(name), wanted) == (before.name, before.metadata):
        return before
    after = await repository.update(conn, account_id, trimmed(name), wanted)
    await _report(conn, change, UPDATED, before, after)
    return after


async def _report(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    before: AccountProfile | None,
    after: AccountProfile,
) -> None:
    snapshot = _snapshot(after)
    target = Target(KIND, str(after.id), after.id)
    old = None if before is None else _snapshot(before)
    entry = await audit.record(conn, change, action, target, old, snapshot, None)
    payload = {**snapshot, "version": after.version, "auditEntryId": entry.id}
    await events.enqueue(conn, action, after.id, payload)
