"""Provisioning accounts (internal tools only): create one under the vendor's own id, and
change its name and metadata. Reading an account is the benefit view's (`views`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry
from strawberry.scalars import JSON

from benefitgate.accounts import provisioning
from benefitgate.accounts.models import AccountProfile
from benefitgate.accounts.types import AccountProvisioned, account_record
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.scalars import parse_id
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound

__all__ = ["AccountMutation"]

AccountProvisionResult = Annotated[
    AccountProvisioned | ChangeError, strawberry.union("AccountProvisionResult")
]


def _json(p: AccountProfile) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "externalId": p.external_id,
        "name": p.name,
        "metadata": p.metadata,
        "version": p.version,
        "createdAt": p.created_at.isoformat(),
    }


def _answer(applied: Applied | ChangeError) -> AccountProvisionResult:
    if not isinstance(applied, Applied):
        return applied
    r = applied.result
    profile = AccountProfile(
        r["id"], r["externalId"], r["name"], r["metadata"], r["version"],
        datetime.fromisoformat(r["createdAt"]),
    )  # fmt: skip
    return AccountProvisioned(account=account_record(profile), replayed=applied.replayed)


def _metadata(raw: object) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidChange("metadata", "give an object of string values")
    return raw


def _ids(raw: list[strawberry.ID], what: str) -> list[Any]:
    parsed = [parse_id(i) for i in raw]
    if None in parsed:
        raise TargetNotFound(what)  # an unparsable id is as unknown as a missing one
    return parsed


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Create an account under the vendor's own id (`externalId`, unique: a "
        "second create with it is ALREADY_EXISTS naming the first), managed by `partnerIds`."
    )
    async def account_create(
        self,
        info: Info,
        name: str,
        idempotency_key: str,
        external_id: str | None = None,
        metadata: JSON | None = None,
        partner_ids: list[strawberry.ID] | None = None,
        reason: str = "",
    ) -> AccountProvisionResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            partners = _ids(partner_ids or [], "partner")
            given = _metadata(metadata)
            created = await provisioning.create(conn, change, external_id, name, given, partners)
            return _json(created)

        arguments = {"externalId": external_id, "name": name, "metadata": metadata}
        return _answer(
            await run_change(
                info,
                operation="accountCreate",
                key=idempotency_key,
                reason=reason,
                arguments={**arguments, "partnerIds": partner_ids},
                effect=effect,
            )
        )

    @strawberry.mutation(
        description="Replace the account's name, and its metadata when given (omitted, it "
        "stays), at `expectedVersion`. Those it holds already are a no-op (the same version)."
    )
    async def account_update(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: int,
        name: str,
        idempotency_key: str,
        metadata: JSON | None = None,
        reason: str = "",
    ) -> AccountProvisionResult:
        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            account_id = _ids([id], "account")[0]
            kept = None if metadata is None else _metadata(metadata)
            updated = await provisioning.update(
                conn, change, account_id, expected_version, name, kept
            )
            return _json(updated)

        return _answer(
            await run_change(
                info,
                operation="accountUpdate",
                key=idempotency_key,
                reason=reason,
                arguments={
                    "id": id,
                    "version": expected_version,
                    "name": name,
                    "metadata": metadata,
                },
                effect=effect,
            )
        )
