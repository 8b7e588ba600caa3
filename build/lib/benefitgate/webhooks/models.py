"""Webhook endpoints and delivery attempts; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from benefitgate.events.outbox import Cursor, Event

__all__ = ["ENDPOINT_DISABLED", "TEST_EVENT", "Attempt", "Endpoint", "Message"]

# The event a replica sends when it disables an endpoint that failed for too long.
ENDPOINT_DISABLED = "webhook.endpoint_disabled"
TEST_EVENT = "webhook.test"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: UUID
    partner_id: UUID | None  # None: an internal tool's endpoint
    url: str
    description: str
    event_types: tuple[str, ...] | None  # None: every type
    account_ids: tuple[UUID, ...] | None  # None: every account the owner may see
    status: str  # enabled | disabled
    disabled_reason: str | None
    cursor: Cursor
    attempts: int
    failing_since: datetime | None
    next_attempt_at: datetime | None
    version: int
    created_at: datetime

    def after_success(self) -> Endpoint:
        return replace(self, attempts=0, failing_since=None)

    def wants(self, event: Event) -> bool:
        """Whether the event passes the endpoint's filters. A partner's endpoint must also
        manage the event's account when it is sent (the dispatcher checks that)."""
        if self.event_types is not None and event.type not in self.event_types:
            return False
        if self.partner_id is not None and event.account_id is None:
            return False  # a partner hears of its accounts only, never of global events
        return self.account_ids is None or event.account_id in self.account_ids


@dataclass(frozen=True, slots=True)
class Message:
    """One webhook as sent: its id (the event's, stable across retries), type and body."""

    webhook_id: str
    event_type: str
    event_id: int | None  # None for a test send
    body: bytes


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    endpoint_id: UUID
    event_id: int | None
    webhook_id: str
    event_type: str
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: float
    error: str | None
