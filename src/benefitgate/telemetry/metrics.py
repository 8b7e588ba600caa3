"""Every Prometheus metric the service exposes, defined once, and the small functions
other packages call to record into them.

Names follow Prometheus conventions: a `benefitgate_` prefix, the unit in the name
(`_seconds`), `_total` on counters. Labels take values from small fixed sets; the one
that comes from clients (the GraphQL operation name) is cleaned and bounded by
`operation_label`. Gauges state how several worker processes add up
(`multiprocess_mode`): live subscribers and pool connections add up over the live
processes; values every process reads alike from the database take the largest.

A package that counts something new (a cache, a rate limit) adds its metric here, so the
whole surface stays on one page; `cache_lookup` is the seam response caches call.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CACHE_LOOKUPS",
    "DB_POOL_ACQUIRE_SECONDS",
    "DB_POOL_CONNECTIONS",
    "DB_POOL_MAX_CONNECTIONS",
    "DB_POOL_WAITING",
    "DB_STATEMENT_SECONDS",
    "ERRORS",
    "GRAPHQL_OPERATION_SECONDS",
    "HTTP_REQUESTS",
    "LIVE_CLOSED",
    "LIVE_QUEUED_EVENTS",
    "LIVE_QUEUE_MAX_DEPTH",
    "LIVE_SUBSCRIBERS",
    "OUTBOX_EVENTS",
    "OUTBOX_LISTENER_LAG_SECONDS",
    "OUTBOX_LISTENER_RECONNECTS",
    "REPLICA_READS",
    "SCHEDULER_JOB_ITEMS",
    "SCHEDULER_JOB_SECONDS",
    "SCHEDULER_LEADER",
    "USAGE_EVENTS",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_DELIVERY_SECONDS",
    "WEBHOOK_ENDPOINTS_BEHIND",
    "WEBHOOK_OLDEST_PENDING_SECONDS",
    "cache_lookup",
    "child",
    "error",
    "operation_label",
]

# Request latencies: 1 ms to 10 s.
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Statements and pool waits: 100 µs to 10 s.
_DATABASE = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0, 10.0)
# Background work (jobs, event lag): 1 ms to 5 min.
_BACKGROUND = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

# Requests.
GRAPHQL_OPERATION_SECONDS = Histogram(
    "benefitgate_graphql_operation_duration_seconds",
    "GraphQL queries and mutations over HTTP, from parsing to the result; `_count` is the "
    "number of operations. outcome: success (no error entry), request_error (never "
    "executed: syntax, validation, limits) or error (an unexpected error in a field).",
    ["operation", "type", "outcome"],
    buckets=_LATENCY,
)
HTTP_REQUESTS = Counter(
    "benefitgate_http_requests_total",
    "HTTP requests by route and status code (WebSocket upgrades are not counted).",
    ["route", "status"],
)
ERRORS = Counter(
    "benefitgate_errors_total",
    "Errors answered, by stable code: typed GraphQL errors (NOT_FOUND, QUOTA_EXCEEDED...), "
    "request errors (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED), HTTP refusals "
    "(UNAUTHENTICATED, BAD_REQUEST, PAYLOAD_TOO_LARGE), UNAVAILABLE for a lost database and "
    "INTERNAL for other unexpected ones.",
    ["code"],
)

# The database.
DB_POOL_CONNECTIONS = Gauge(
    "benefitgate_db_pool_connections",
    "Pooled connections open, by state (in_use, idle).",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_MAX_CONNECTIONS = Gauge(
    "benefitgate_db_pool_max_connections",
    "The most connections the pools may open (BENEFITGATE_POOL_MAX per process).",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "benefitgate_db_pool_waiting",
    "Tasks waiting for a pooled connection.",
    multiprocess_mode="livesum",
)
DB_POOL_ACQUIRE_SECONDS = Histogram(
    "benefitgate_db_pool_acquire_duration_seconds",
    "Time to get a pooled connection.",
    buckets=_DATABASE,
)
DB_STATEMENT_SECONDS = Histogram(
    "benefitgate_db_statement_duration_seconds",
    "Statements on pooled connections, by outcome (ok, error).",
    ["outcome"],
    buckets=_DATABASE,
)

# The outbox and live events.
OUTBOX_EVENTS = Counter(
    "benefitgate_outbox_events_received_total",
    "Outbox events the listener handed to this process (cache invalidation, live fan-out).",
)
OUTBOX_LISTENER_LAG_SECONDS = Histogram(
    "benefitgate_outbox_listener_lag_seconds",
    "From the start of a transaction that wrote events to the listener handing them over"
    " (once per transaction).",
    buckets=_BACKGROUND,
)
OUTBOX_LISTENER_RECONNECTS = Counter(
    "benefitgate_outbox_listener_reconnects_total",
    "Times the listener connected again after losing its connection or a handler failing.",
)
REPLICA_READS = Counter(
    "benefitgate_replica_reads_total",
    "Queries by where they read: on the read replica (replica), or on the primary because "
    "the replica was behind, unavailable, or a change was pending the listener's next look.",
    ["route"],
)
LIVE_SUBSCRIBERS = Gauge(
    "benefitgate_live_subscribers",
    "Live subscriptions (WebSocket operations) registered with the hubs.",
    multiprocess_mode="livesum",
)
LIVE_QUEUED_EVENTS = Gauge(
    "benefitgate_live_queued_events",
    "Events queued for live subscribers, not yet written to their sockets.",
    multiprocess_mode="livesum",
)
LIVE_QUEUE_MAX_DEPTH = Gauge(
    "benefitgate_live_queue_max_depth",
    "The longest queue of one live subscriber (closed at BENEFITGATE_LIVE_QUEUE_SIZE).",
    multiprocess_mode="livemax",
)
LIVE_CLOSED = Counter(
    "benefitgate_live_subscribers_closed_total",
    "Live subscriptions the service ended, by reason (SLOW_CONSUMER, SHUTTING_DOWN...).",
    ["reason"],
)

# Webhooks.
WEBHOOK_DELIVERIES = Counter(
    "benefitgate_webhook_deliveries_total",
    "Webhook sends, by outcome (success, failure: any status but 2xx, timeout, refusal).",
    ["outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "benefitgate_webhook_delivery_duration_seconds",
    "Time for a receiver to answer a webhook.",
    buckets=_LATENCY,
)
WEBHOOK_ENDPOINTS_BEHIND = Gauge(
    "benefitgate_webhook_endpoints_behind",
    "Enabled webhook endpoints with events after their cursor (the backlog).",
    multiprocess_mode="livemax",
)
WEBHOOK_OLDEST_PENDING_SECONDS = Gauge(
    "benefitgate_webhook_oldest_pending_seconds",
    "Age of the oldest event an enabled endpoint has not had yet; 0 without a backlog.",
    multiprocess_mode="livemax",
)

# The scheduler.
SCHEDULER_LEADER = Gauge(
    "benefitgate_scheduler_leader",
    "1 in the process that holds the scheduler's lock; summed over a fleet it is 1.",
    multiprocess_mode="livesum",
)
SCHEDULER_JOB_SECONDS = Histogram(
    "benefitgate_scheduler_job_duration_seconds",
    "Scheduled job runs, by job and outcome (ok, error).",
    ["job", "outcome"],
    buckets=_BACKGROUND,
)
SCHEDULER_JOB_ITEMS = Counter(
    "benefitgate_scheduler_job_items_total",
    "What scheduled jobs applied (renewals, awards, reminders...), by job.",
    ["job"],
)

# Usage ingest.
USAGE_EVENTS = Counter(
    "benefitgate_usage_events_total",
    "Usage events received, by status (accepted, duplicate, rejected) and the rejection's "
    "reason (empty otherwise).",
    ["status", "reason"],
)

# Caches.
CACHE_LOOKUPS = Counter(
    "benefitgate_cache_lookups_total",
    "Cache lookups by cache, tier (process, shared) and result (hit, miss).",
    ["cache", "tier", "result"],
)


_children: dict[tuple[object, ...], Any] = {}


def child(metric: Counter | Histogram, *values: str) -> Any:
    """`metric.labels(*values)`, found again in one dict lookup: prometheus_client checks
    and converts the values on every call, a few microseconds on each request's path. The
    values must come from bounded sets, as every label value must."""
    key = (metric, *values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return found


def cache_lookup(cache: str, tier: str, hit: bool) -> None:
    """Count one lookup; `cache` and `tier` must come from a fixed set of names."""
    child(CACHE_LOOKUPS, cache, tier, "hit" if hit else "miss").inc()


def error(code: str) -> None:
    """Count one error answered with `code` (a stable code, never free text)."""
    child(ERRORS, code).inc()


# Operation names come from clients: only names of this shape, and at most _MAX_OPERATIONS
# of them per process, become label values; the rest are counted as "other", so that a
# client cannot grow the metrics without bound.
_OPERATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATIONS = 200
_operations: set[str] = set()
_operations_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """The label value for a GraphQL operation name: the name, "anonymous" or "other"."""
    if not name:
        return "anonymous"
    if name in _operations:
        return name
    if not _OPERATION.match(name):
        return "other"
    with _operations_lock:
        if len(_operations) >= _MAX_OPERATIONS:
            return "other"
        _operations.add(name)
    return name
