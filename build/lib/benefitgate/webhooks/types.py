"""GraphQL types of webhook endpoints and their delivery log."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import strawberry

from benefitgate.api.pagination import PageInfo
from benefitgate.webhooks.models import Attempt, Endpoint

__all__ = [
    "WebhookAttempt",
    "WebhookDeliveries",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEndpointChanged",
    "WebhookEndpointCreated",
    "WebhookEndpointDeleted",
    "WebhookEndpointList",
    "WebhookEndpointStatus",
    "WebhookSecretRotated",
    "WebhookTestSent",
    "attempt_type",
    "endpoint_type",
]


@strawberry.enum
class WebhookEndpointStatus(enum.Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@strawberry.enum
class WebhookDeliveryStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.type(description="Where events are pushed, signed, and how far delivery came.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    event_types: list[str] | None = strawberry.field(description="Null: every type.")
    account_ids: list[strawberry.ID] | None = strawberry.field(
        description="Null: every account the owner may see when the event is sent."
    )
    partner_id: strawberry.ID | None = strawberry.field(
        description="The partner that owns it; null for an internal tool's endpoint."
    )
    status: WebhookEndpointStatus
    disabled_reason: str | None
    cursor: str = strawberry.field(
        description="The last event handled; pass it to `webhookReplay` to send on from it."
    )
    failing_since: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next retry is due, while the endpoint fails."
    )
    version: int
    created_at: datetime


@strawberry.type(description="The endpoint, and its signing secret: shown this once only.")
class WebhookEndpointCreated:
    endpoint: WebhookEndpoint
    secret: str | None = strawberry.field(
        description="`whsec_...`; null when this answer is a replay of the first."
    )
    replayed: bool


@strawberry.type
class WebhookEndpointChanged:
    endpoint: WebhookEndpoint


@strawberry.type
class WebhookEndpointList:
    endpoints: list[WebhookEndpoint]


@strawberry.type
class WebhookEndpointDeleted:
    id: strawberry.ID


@strawberry.type(description="A new secret, shown this once; the old one still signs a day.")
class WebhookSecretRotated:
    endpoint: WebhookEndpoint
    secret: str | None = strawberry.field(description="Null when this answer is a replay.")
    previous_secret_expires_at: datetime
    replayed: bool


@strawberry.type(description="One delivery attempt of one message.")
class WebhookAttempt:
    id: strawberry.ID
    event_id: strawberry.ID | None = strawberry.field(description="Null for a test send.")
    webhook_id: str = strawberry.field(description="The `webhook-id` header sent.")
    event_type: str
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: float
    error: str | None


@strawberry.type
class WebhookTestSent:
    attempt: WebhookAttempt


@strawberry.type
class WebhookDeliveries:
    attempts: list[WebhookAttempt]
    page_info: PageInfo


def _id(value: UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def endpoint_type(e: Endpoint) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=strawberry.ID(str(e.id)),
        url=e.url,
        description=e.description,
        event_types=None if e.event_types is None else list(e.event_types),
        account_ids=None
        if e.account_ids is None
        else [strawberry.ID(str(a)) for a in e.account_ids],
        partner_id=None if e.partner_id is None else strawberry.ID(str(e.partner_id)),
        status=WebhookEndpointStatus(e.status),
        disabled_reason=e.disabled_reason,
        cursor=e.cursor.encode(),
        failing_since=e.failing_since,
        next_attempt_at=e.next_attempt_at,
        version=e.version,
        created_at=e.created_at,
    )


def attempt_type(a: Attempt) -> WebhookAttempt:
    return WebhookAttempt(
        id=strawberry.ID(str(a.id)),
        event_id=None if a.event_id is None else strawberry.ID(str(a.event_id)),
        webhook_id=a.webhook_id,
        event_type=a.event_type,
        attempted_at=a.attempted_at,
        succeeded=a.succeeded,
        status_code=a.status_code,
        latency_ms=a.latency_ms,
        error=a.error,
    )
