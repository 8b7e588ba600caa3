"""Webhook endpoints and their delivery log: internal tools manage any endpoint, a partner
its own; frontends none. Every change goes through the mutation edge."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
import strawberry

from benefitgate.api.changes import Applied, ChangeError, change_of, run_change, run_write
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.pagination import (
    PageInfo,
    check_first,
    decode_number_cursor,
    encode_number_cursor,
)
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Principal, Role
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.events.outbox import Cursor, InvalidCursor
from benefitgate.webhooks import repository, service
from benefitgate.webhooks.models import TEST_EVENT, Attempt, Endpoint, Message
from benefitgate.webhooks.service import ALL, EndpointSpec, Owner, Webhooks
from benefitgate.webhooks.types import (
    WebhookDeliveries,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointChanged,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointList,
    WebhookSecretRotated,
    WebhookTestSent,
    attempt_type,
    endpoint_type,
)

__all__ = ["WebhookMutation", "WebhookQuery"]

EventTypes = Annotated[
    list[str] | None,
    strawberry.argument(
        description=f"1 to {service.MAX_EVENT_TYPES} of the types `Event.type` lists, any "
        "other is `INVALID_INPUT`; null: every type."
    ),
]

CreatedResult = Annotated[
    WebhookEndpointCreated | ChangeError, strawberry.union("WebhookEndpointCreateResult")
]
ChangedResult = Annotated[
    WebhookEndpointChanged | ChangeError, strawberry.union("WebhookEndpointChangeResult")
]
DeletedResult = Annotated[
    WebhookEndpointDeleted | ChangeError, strawberry.union("WebhookEndpointDeleteResult")
]
RotatedResult = Annotated[
    WebhookSecretRotated | ChangeError, strawberry.union("WebhookSecretRotateResult")
]
TestSentResult = Annotated[WebhookTestSent | ChangeError, strawberry.union("WebhookTestSendResult")]
EndpointsResult = Annotated[
    WebhookEndpointList | ForbiddenError, strawberry.union("WebhookEndpointsResult")
]
DeliveriesResult = Annotated[
    WebhookDeliveries | ForbiddenError | NotFoundError | InvalidInputError,
    strawberry.union("WebhookDeliveriesResult"),
]


def _owner(principal: Principal) -> Owner | None:
    """Whose endpoints the caller manages: any (internal tools) or its partner's; None for
    a frontend, which manages none."""
    if principal.internal:
        return ALL
    if principal.role is Role.PARTNER:
        return principal.partner_id
    return None


def _forbidden() -> ForbiddenError:
    return ForbiddenError.of("only partners and internal tools manage webhook endpoints")


def _spec(
    url: str,
    description: str,
    event_types: list[str] | None,
    account_ids: list[strawberry.ID] | None,
) -> EndpointSpec:
    parsed = None if account_ids is None else [parse_id(a) for a in account_ids]
    if parsed is not None and None in parsed:
        raise TargetNotFound("account")  # an unparsable id is as unknown as a missing one
    accounts = None if parsed is None else [a for a in parsed if a is not None]
    return EndpointSpec(url, description, event_types, accounts)


def _id(raw: strawberry.ID) -> UUID:
    parsed = parse_id(raw)
    if parsed is None:
        raise TargetNotFound("webhook endpoint")
    return parsed


async def _endpoint(info: Info, endpoint_id: UUID) -> WebhookEndpoint | None:
    """The endpoint as it is now; None when it was deleted since (a replayed answer)."""
    async with info.context.db.acquire() as conn:
        found = await repository.endpoint(conn, endpoint_id)
    return None if found is None else endpoint_type(found)


def _changed(result: Endpoint | ChangeError) -> ChangedResult:
    return (
        WebhookEndpointChanged(endpoint=endpoint_type(result))
        if isinstance(result, Endpoint)
        else result
    )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register an endpoint for the events committed from now on, signed with "
        "a secret shown in this answer only. `https` only; a partner's endpoint hears of "
        "the accounts the partner manages when each event is sent."
    )
    async def webhook_endpoint_create(
        self,
        info: Info,
        url: str,
        idempotency_key: str,
        event_types: EventTypes = None,
        account_ids: list[strawberry.ID] | None = None,
        description: str = "",
    ) -> CreatedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        partner = owner if isinstance(owner, UUID) else None
        hooks = info.context.shared.get(Webhooks)
        shown: list[str] = []  # the secret, when this request made it: never stored in clear

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            spec = _spec(url, description, event_types, account_ids)
            endpoint, secret = await service.create(conn, hooks, partner, spec, change)
            shown.append(secret)
            return {"endpointId": str(endpoint.id)}

        arguments = {"url": url, "eventTypes": event_types, "accountIds": account_ids}
        applied = await run_change(
            info,
            operation="webhookEndpointCreate",
            key=idempotency_key,
            reason=None,
            arguments={**arguments, "description": description},
            effect=effect,
            internal_only=False,
        )
        if not isinstance(applied, Applied):
            return applied
        hooks.wake()
        endpoint = await _endpoint(info, UUID(applied.result["endpointId"]))
        if endpoint is None:
            return NotFoundError.of("webhook endpoint")
        secret = shown[0] if shown and not applied.replayed else None
        return WebhookEndpointCreated(endpoint=endpoint, secret=secret, replayed=applied.replayed)

    @strawberry.mutation(description="Change an endpoint's URL, filters or description.")
    async def webhook_endpoint_update(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: int,
        url: str,
        event_types: EventTypes = None,
        account_ids: list[strawberry.ID] | None = None,
        description: str = "",
    ) -> ChangedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        hooks = info.context.shared.get(Webhooks)

        async def effect(conn: asyncpg.Connection) -> Endpoint:
            spec = _spec(url, description, event_types, account_ids)
            return await service.update(
                conn, hooks, _id(id), owner, expected_version, spec, change_of(info)
            )

        return _changed(await run_write(info, effect))

    @strawberry.mutation(description="Stop delivering to an endpoint; events wait for it.")
    async def webhook_endpoint_disable(self, info: Info, id: strawberry.ID) -> ChangedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        reason = f"disabled by {info.context.principal.subject}"

        async def effect(conn: asyncpg.Connection) -> Endpoint:
            found = await service.owned(conn, _id(id), owner)
            if found.status == "disabled":
                return found
            return await service.disable(conn, found, reason, change_of(info))

        return _changed(await run_write(info, effect))

    @strawberry.mutation(
        description="Deliver again, from the endpoint's cursor: nothing it missed is lost "
        "while the events are retained."
    )
    async def webhook_endpoint_enable(self, info: Info, id: strawberry.ID) -> ChangedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()

        async def effect(conn: asyncpg.Connection) -> Endpoint:
            return await service.enable(conn, _id(id), owner, change_of(info))

        result = await run_write(info, effect)
        info.context.shared.get(Webhooks).wake()
        return _changed(result)

    @strawberry.mutation(description="Delete an endpoint and its delivery log.")
    async def webhook_endpoint_delete(self, info: Info, id: strawberry.ID) -> DeletedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()

        async def effect(conn: asyncpg.Connection) -> UUID:
            endpoint_id = _id(id)
            await service.delete(conn, endpoint_id, owner, change_of(info))
            return endpoint_id

        result = await run_write(info, effect)
        if not isinstance(result, UUID):
            return result
        return WebhookEndpointDeleted(id=strawberry.ID(str(result)))

    @strawberry.mutation(
        description="A new signing secret, shown in this answer only. The old one signs "
        "beside it for 24 hours, so receivers can switch without losing a message. While "
        "an earlier rotated-out secret still signs, rotating again is refused. With "
        "`expirePreviousNow` only the new secret signs, at once: for a secret that leaked."
    )
    async def webhook_secret_rotate(
        self,
        info: Info,
        id: strawberry.ID,
        idempotency_key: str,
        expire_previous_now: bool = False,
    ) -> RotatedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        hooks = info.context.shared.get(Webhooks)
        shown: list[str] = []

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            endpoint, secret, until = await service.rotate_secret(
                conn, hooks, _id(id), owner, change, expire_previous_now
            )
            shown.append(secret)
            return {"endpointId": str(endpoint.id), "until": until.isoformat()}

        applied = await run_change(
            info,
            operation="webhookSecretRotate",
            key=idempotency_key,
            reason=None,
            arguments={"id": id, "expirePreviousNow": expire_previous_now},
            effect=effect,
            internal_only=False,
        )
        if not isinstance(applied, Applied):
            return applied
        endpoint = await _endpoint(info, UUID(applied.result["endpointId"]))
        if endpoint is None:
            return NotFoundError.of("webhook endpoint")
        return WebhookSecretRotated(
            endpoint=endpoint,
            secret=shown[0] if shown and not applied.replayed else None,
            previous_secret_expires_at=datetime.fromisoformat(applied.result["until"]),
            replayed=applied.replayed,
        )

    @strawberry.mutation(
        description="Send again every event after `after` (a cursor of the feed or of a "
        "delivered webhook), in order, then go on with new ones."
    )
    async def webhook_replay(
        self, info: Info, endpoint_id: strawberry.ID, after: str
    ) -> ChangedResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()

        async def effect(conn: asyncpg.Connection) -> Endpoint:
            try:
                cursor = Cursor.decode(after)
            except InvalidCursor as exc:
                raise InvalidChange("after", "after is not a cursor this API produced") from exc
            return await service.replay(conn, _id(endpoint_id), owner, cursor, change_of(info))

        result = await run_write(info, effect)
        info.context.shared.get(Webhooks).wake()
        return _changed(result)

    @strawberry.mutation(
        description="Send a `webhook.test` message to the endpoint now, signed as any other, "
        "and answer with the attempt; it is logged and moves nothing."
    )
    async def webhook_test_send(self, info: Info, endpoint_id: strawberry.ID) -> TestSentResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        hooks = info.context.shared.get(Webhooks)
        now = info.context.now

        async def load(conn: asyncpg.Connection) -> tuple[Endpoint, list[str]]:
            found = await service.owned(conn, _id(endpoint_id), owner)
            signing = await service.signing_secrets(conn, hooks.box, found.id, now)
            if signing is None:
                raise InvalidChange("endpointId", "the endpoint's secret cannot be opened")
            return found, signing

        loaded = await run_write(info, load)
        if not isinstance(loaded, tuple):
            return loaded
        endpoint, signing = loaded
        message = _test_message(endpoint, now)
        result = await hooks.sender.send(endpoint.url, message, signing, now)
        attempt = Attempt(
            0, endpoint.id, None, message.webhook_id, TEST_EVENT, now, result.succeeded,
            result.status_code, result.latency_ms, result.error,
        )  # fmt: skip

        async def log(conn: asyncpg.Connection) -> None:
            await repository.log_attempt(conn, attempt)

        logged = await run_write(info, log)
        if logged is not None:
            return logged
        return WebhookTestSent(attempt=attempt_type(attempt))


def _test_message(endpoint: Endpoint, now: datetime) -> Message:
    body = {
        "type": TEST_EVENT,
        "timestamp": now.isoformat(),
        "data": {"endpointId": str(endpoint.id)},
    }
    return Message(f"test_{uuid.uuid4().hex}", TEST_EVENT, None, orjson.dumps(body))


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The endpoints the caller manages, oldest first.")
    async def webhook_endpoints(self, info: Info) -> EndpointsResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        async with info.context.db.acquire() as conn:
            found = await repository.endpoints(conn, owner if isinstance(owner, UUID) else None)
        return WebhookEndpointList(endpoints=[endpoint_type(e) for e in found])

    @strawberry.field(description="An endpoint's delivery attempts, newest first.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> DeliveriesResult:
        owner = _owner(info.context.principal)
        if owner is None:
            return _forbidden()
        invalid = check_first(first)
        if invalid is not None:
            return invalid
        before = None if after is None else decode_number_cursor(after)
        if isinstance(before, InvalidInputError):
            return before
        parsed = parse_id(endpoint_id)
        succeeded = None if status is None else status is WebhookDeliveryStatus.SUCCEEDED
        async with info.context.db.acquire() as conn:
            found = None if parsed is None else await repository.endpoint(conn, parsed)
            if found is None or not (owner is ALL or found.partner_id == owner):
                return NotFoundError.of("webhook endpoint")
            page = await repository.attempts_page(conn, found.id, succeeded, before, first + 1)
        shown = page[:first]
        end = encode_number_cursor(shown[-1].id) if shown else None
        return WebhookDeliveries(
            attempts=[attempt_type(a) for a in shown],
            page_info=PageInfo(has_next_page=len(page) > first, end_cursor=end),
        )
