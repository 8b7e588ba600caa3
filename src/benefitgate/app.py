"""The Starlette application: GraphQL, health endpoints, and the lifespan that owns the
pool, the migrations, the caches and the outbox listener."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from benefitgate import db, migrate
from benefitgate.accounts.known import KnownAccounts
from benefitgate.api.changes import Committed
from benefitgate.api.context import Context, Shared
from benefitgate.audit.rollback import Rollbacks
from benefitgate.auth.credentials import Authenticator
from benefitgate.auth.principals import Principal, Role
from benefitgate.cache.local import LocalTier
from benefitgate.cache.responses import ResponseCache
from benefitgate.cache.shared import SharedTier
from benefitgate.cache.tags import account_tag, event_tags
from benefitgate.catalog.cache import CatalogCache
from benefitgate.catalog.repository import load_catalog
from benefitgate.clock import Clock, SystemClock
from benefitgate.cloudevents.endpoint import EventsEndpoint
from benefitgate.config import Settings
from benefitgate.entitlements import grants
from benefitgate.entitlements.snapshots import EntitlementSnapshots
from benefitgate.events import retention
from benefitgate.events.hub import Hub
from benefitgate.events.listener import OutboxListener
from benefitgate.events.outbox import START, NewEvents
from benefitgate.feed.types import EventObjects
from benefitgate.gauges import Gauges
from benefitgate.glossary import service as glossary
from benefitgate.governance.models import VendorName
from benefitgate.graphql import ide
from benefitgate.graphql.cors import Cors
from benefitgate.graphql.documents import Manifest
from benefitgate.graphql.edge import Edge
from benefitgate.graphql.fast.checks import CheckPath
from benefitgate.graphql.fast.queries import QueryPath
from benefitgate.graphql.fast.render import RenderCache
from benefitgate.graphql.persisted import TrustedDocuments
from benefitgate.graphql.ratelimit import RateLimiter, RequestLimit
from benefitgate.graphql.response_cache import ResponseFront
from benefitgate.graphql.responses import http_error
from benefitgate.graphql.schema import build_schema
from benefitgate.graphql.sockets import WebSocketGuard
from benefitgate.graphql.view import GraphQLView
from benefitgate.health import refresh as health
from benefitgate.limits.shared import Buckets, SharedBuckets
from benefitgate.logs import configure_logging
from benefitgate.metering import maintenance, recorded
from benefitgate.metering.counter_reads import CounterReads
from benefitgate.metering.denials import Denials
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.rules import Window
from benefitgate.metering.writer import IngestWriter
from benefitgate.milestones import scheduled
from benefitgate.offline import jwks
from benefitgate.offline.keys import KeyRing
from benefitgate.offline.service import Signer
from benefitgate.portal import page as portal
from benefitgate.renewals import reminders
from benefitgate.replica import ReadReplica
from benefitgate.reports import service as reports
from benefitgate.scheduler import Scheduler
from benefitgate.seats import purchased as seats_purchased
from benefitgate.seats import service as seats
from benefitgate.selfserve.models import Policy
from benefitgate.subscriptions import due
from benefitgate.subscriptions import service as subscriptions
from benefitgate.subscriptions.reminders import EVENT as REMINDER
from benefitgate.suggestions import service as suggestions
from benefitgate.targets import service as targets
from benefitgate.telemetry import exposition, tracing
from benefitgate.webhooks.runtime import WebhookRuntime

__all__ = ["AppState", "create_app", "create_app_from_env"]

log = logging.getLogger(__name__)

# Events that change no entitlement: the snapshots checks read stay as they are.
# A suggestion made or dismissed changes nothing either, and checks make them: a denied
# check is upgrade evidence, and the suggestion it leads to dropped the snapshot of the
# account it was for. (An accepted one may come with a change of tier, which names the
# account in its own event.)
KEEP_SNAPSHOTS = frozenset(
    {recorded.EVENT_TYPE, reports.EVENT, REMINDER, suggestions.CREATED, suggestions.DISMISSED}
)
# Events the listener passes over while nobody follows live: no handler needs them then.
# The touch each usage write sends names the same accounts to the response cache and the
# replica; they change no snapshot and no known account (so they must be in KEEP_SNAPSHOTS).
SKIPPED_EVENTS = frozenset({recorded.EVENT_TYPE})
assert SKIPPED_EVENTS <= KEEP_SNAPSHOTS
# How long shutdown waits for pooled connections still in use before it terminates them.
POOL_CLOSE_SECONDS = 5.0
# Between readings of the gauges, for scrapes another worker process answers.
GAUGE_SECONDS = 5.0
EXPIRY_SECONDS = 1.0


@dataclass
class AppState:
    pool: asyncpg.Pool
    catalog_cache: CatalogCache
    authenticator: Authenticator
    listener: OutboxListener
    partitions: Partitions
    scheduler: Scheduler
    hub: Hub
    webhooks: WebhookRuntime
    gauges: Gauges
    denials: Denials
    shared: Shared  # what every request may find by type: see `api.context`
    front: ResponseFront | None  # the response cache, unless turned off
    replica: ReadReplica | None = None  # the standby queries read, when one is set


def create_app(
    settings: Settings,
    dsn: str,
    *,
    clock: Clock | None = None,
    on_connect: db.ConnectionHook | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The app for one process. `on_connect` lets tests observe every pooled connection;
    with `tracer_provider`, requests and their statements are traced."""
    clock = clock or SystemClock()
    schema = build_schema(
        max_depth=settings.max_depth,
        max_tokens=settings.max_tokens,
        max_aliases=settings.max_aliases,
        suggestions=settings.dev_mode,
        introspection=_introspection_roles(settings),
        cost_ceilings=settings.cost_ceilings,
    )
    # Settings that stop the app are read before anything is opened (the Redis client).
    signer = _signer(settings)
    documents = _trusted_documents(settings)
    buckets = (
        SharedBuckets(settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else Buckets()
    )
    limiter = RateLimiter(buckets, settings.rate_quotas, clock)
    holder: dict[str, AppState] = {}

    def make_context(request: Request | None, principal: Principal) -> Context:
        state = holder["state"]
        return Context(request, principal, state.pool, clock.now(), state.shared, live=state.hub)

    async def authenticate(request: Request) -> Principal:
        return await holder["state"].authenticator(request)

    async def authenticate_header(header: str | None) -> Principal:
        return await holder["state"].authenticator.from_header(header)

    def front() -> ResponseFront | None:
        state = holder.get("state")
        return None if state is None else state.front

    view = GraphQLView(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        authenticate_header=authenticate_header,
        make_context=make_context,
        documents=documents,
        limiter=limiter,
        front=front,
        checks=CheckPath(schema._schema, settings.max_tokens) if settings.fast_checks else None,
        queries=(
            QueryPath(schema._schema, schema.executor, schema.limits)
            if settings.fast_queries
            else None
        ),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.live_init_seconds),
        max_subscriptions_per_connection=settings.live_max_subscriptions,
        # Browsers may open sockets from these origins and the service's own; a page
        # elsewhere is refused with 403 before the connection is accepted.
        allowed_origins=settings.cors_origins,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            state = await _start(settings, dsn, clock, on_connect, _schema_version(schema), signer)
        except BaseException:
            await buckets.close()  # made with the app, closed with its lifespan
            raise
        holder["state"] = app.state.benefitgate = state
        background: list[asyncio.Task[None]] = []
        try:
            _freeze_startup_objects()
            background.append(
                asyncio.create_task(maintenance.run_hourly(state.pool, state.partitions, clock))
            )
            if settings.scheduler_seconds > 0:
                background.append(asyncio.create_task(state.scheduler.run()))
            background.append(asyncio.create_task(state.gauges.run(GAUGE_SECONDS)))
            # Live streams whose token expired end within this, whether events come or not.
            background.append(asyncio.create_task(state.hub.expire_every(clock, EXPIRY_SECONDS)))
            if tracer_provider is not None:
                tracing.instrument_asyncpg(tracer_provider)
            if settings.event_retention_days > 0:
                keep = timedelta(days=settings.event_retention_days)
                background.append(
                    asyncio.create_task(retention.run_hourly(state.pool, clock, keep))
                )
            background.append(asyncio.create_task(state.webhooks.dispatcher.run()))
            background.append(asyncio.create_task(state.denials.run()))
            if state.front is not None and state.front.cache.shared is not None:
                background.append(asyncio.create_task(state.front.cache.follow()))
            yield
        finally:
            state.hub.close()  # live subscribers end with SHUTTING_DOWN and resume elsewhere
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.denials.flush(last=True)  # after the last request: none is lost
            await state.scheduler.stop()
            await state.listener.stop()
            await state.webhooks.close()
            await buckets.close()
            if state.front is not None and state.front.cache.shared is not None:
                await state.front.cache.shared.close()
            await _close_pool(state.pool)
            if state.replica is not None:
                await _close_pool(state.replica.pool)
            if tracer_provider is not None:
                tracing.instrument_asyncpg(None)
                tracer_provider.force_flush()
            exposition.forget_process()

    routes: list[BaseRoute] = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        # Under the same middleware as /graphql: request ids, the body limit.
        Route("/events", EventsEndpoint(authenticate, make_context, front), methods=None),
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route(jwks.PATH, jwks.endpoint(signer.keys)),
    ]
    if settings.graphiql:
        routes.append(Mount(ide.ASSETS_PATH, ide.assets()))
    if settings.metrics and settings.metrics_port == 0:
        routes.append(Route("/metrics", _metrics))
    if settings.portal:
        routes.append(Route(portal.PATH, portal.Page(clock).serve))
        routes.append(Mount(portal.ASSETS_PATH, portal.assets()))
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    # The last added runs first: CORS answers preflights and marks every answer (a 429
    # too, so a browser can read it); then the edge, one layer for the request id, the
    # access log, the size limits, the rate limit and the WebSocket guard, which hands
    # `/graphql` to the view without the router (`graphql.edge`).
    app.add_middleware(
        Edge,
        view=view,
        limit=RequestLimit(
            identify=authenticate_header,
            limiter=limiter,
            paths=frozenset({"/graphql", "/events"}),
        ),
        socket_guard=partial(
            WebSocketGuard,
            max_bytes=settings.max_body_bytes,
            quota=settings.live_message_quota,
            clock=clock,
        ),
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        body_seconds=settings.body_seconds,
    )
    if settings.cors_origins:
        app.add_middleware(
            Cors,  # Starlette's, a refused preflight in the JSON error shape
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            # A page revalidates a GET query with its ETag (If-None-Match, 304), reads the
            # rate limit fields, and the methods a 405 allows.
            allow_headers=[
                "authorization",
                "content-type",
                "accept",
                "x-request-id",
                "if-none-match",
            ],
            allow_credentials=settings.cors_credentials,
            expose_headers=[
                "ratelimit",
                "ratelimit-policy",
                "retry-after",
                "x-request-id",
                "etag",
                "allow",
            ],
            max_age=600,
        )
    if tracer_provider is not None:  # outermost: the access log line carries the trace id
        app.add_middleware(tracing.TracingMiddleware, provider=tracer_provider)
    return app


def _signer(settings: Settings) -> Signer:
    """The entitlement snapshots' keys, read at start: a malformed key stops the service."""
    if settings.snapshot_minutes < 1:
        raise ValueError("BENEFITGATE_SNAPSHOT_MINUTES must be at least 1")
    keys = KeyRing.configured(
        settings.snapshot_key, settings.snapshot_previous_keys, settings.data_dir
    )
    return Signer(keys, timedelta(minutes=settings.snapshot_minutes))


def _roles(names: frozenset[str], setting: str) -> frozenset[Role]:
    try:
        return frozenset(Role(name) for name in names)
    except ValueError as exc:
        raise ValueError(f"{setting}: {exc}; roles are {[r.value for r in Role]}") from exc


def _introspection_roles(settings: Settings) -> frozenset[Role]:
    """Who may introspect: as configured, else everyone in development mode and every
    role but frontends otherwise (a frontend runs the documents it was built with)."""
    if settings.introspection_for is not None:
        return _roles(settings.introspection_for, "BENEFITGATE_INTROSPECTION_FOR")
    return frozenset(Role) if settings.dev_mode else frozenset(Role) - {Role.FRONTEND}


def _trusted_documents(settings: Settings) -> TrustedDocuments:
    """The manifest, loaded at start (a bad one stops the app), and who is held to it."""
    if settings.documents is None:
        return TrustedDocuments()
    restricted = _roles(settings.documents_required_for, "BENEFITGATE_DOCUMENTS_REQUIRED_FOR")
    return TrustedDocuments(Manifest.load(settings.documents), restricted)


def _position(listener: OutboxListener) -> tuple[int, int] | None:
    """The listener's cursor as (txid, id): every event up to it was handed over."""
    cursor = listener.cursor
    return None if cursor is None else (cursor.txid, cursor.id)


async def _read_replica(
    settings: Settings, on_connect: db.ConnectionHook | None
) -> ReadReplica | None:
    if not settings.read_database_url:
        return None
    # No connection at start: a standby that is down only sends queries to the primary.
    pool = await db.create_pool(
        settings.read_database_url,
        min_size=0,
        max_size=settings.pool_max,
        statement_seconds=settings.statement_seconds,
        on_connect=on_connect,
    )
    return ReadReplica(pool)


async def _counter_reads(
    settings: Settings, dsn: str, on_connect: db.ConnectionHook | None
) -> CounterReads:
    # A connection of their own: a check waiting for its counter may hold the request's
    # pooled connection, and with every pooled one so held the read could never start.
    pool = await db.create_pool(
        dsn,
        min_size=0,
        max_size=1,  # CounterReads keeps it, for one statement in flight at a time
        statement_seconds=settings.statement_seconds,
        acquire_seconds=settings.pool_acquire_seconds,
        on_connect=on_connect,
    )
    return CounterReads(pool)


async def _close_pool(pool: asyncpg.Pool) -> None:
    """Close the pool, waiting at most POOL_CLOSE_SECONDS for connections still in use.
    asyncpg's close waits for every connection to come back, so one held by a request or
    stream that outlived uvicorn's graceful period would keep the replica from exiting."""
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
    except TimeoutError:
        log.warning("pooled connections still in use at shutdown were terminated")
        pool.terminate()


# The cyclic collector's thresholds for a serving process (CPython's are 700, 10, 10).
# With the defaults, objects of requests in flight at a young collection are promoted, die
# old, and bring on full collections that scan every entitlement snapshot and cached
# entry: at 6,000 checks/s over 10,000 snapshots, 38 full collections of up to 131 ms gave
# a p99 of 52 ms. Young collections every 20,000 net allocations let request objects die
# young (a full collection then came once in a run): p99 9.6 ms (`bench/consume_check.py`).
GC_THRESHOLDS = (20_000, 50, 20)


def _freeze_startup_objects() -> None:
    """Move everything built at start-up (schema, modules) out of the collector's reach:
    full collections then scan little more than what requests allocate. Measured on the account
    view benchmark: p99 from about 40-60 ms down to about 30 ms. And collect young objects
    less often (`GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _prefix_of(dsn: str) -> str:
    """The response cache's keys: replicas of one database share them, deployments on other
    databases (under the same BENEFITGATE_REDIS_PREFIX) never do."""
    parts = urlsplit(dsn)
    where = f"{parts.hostname}:{parts.port}{parts.path}?{parts.query}"
    return "cache:" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest()


def _schema_version(schema: object) -> str:
    """Cached responses are valid for one schema only: a deployment that changes it
    starts with new keys."""
    return hashlib.blake2b(str(schema).encode(), digest_size=8).hexdigest()


def _response_cache(settings: Settings, dsn: str, clock: Clock) -> ResponseCache | None:
    if not settings.response_cache:
        return None
    shared = None
    if settings.redis_url:
        prefix = settings.redis_prefix + _prefix_of(dsn)
        shared = SharedTier(
            settings.redis_url,
            prefix,
            settings.cache_shared_ttl_seconds,
            settings.cache_confirm_seconds,
        )
    return ResponseCache(LocalTier(settings.cache_entries, settings.cache_bytes), clock, shared)


async def _start(
    settings: Settings,
    dsn: str,
    clock: Clock,
    on_connect: db.ConnectionHook | None,
    schema_version: str,
    signer: Signer,
) -> AppState:
    """Everything a process serves with, started; or, when a step fails (a setting refused,
    the database unreachable), nothing left open: what the steps before it opened is
    closed before the error goes on (a pool's connections, the webhooks' HTTP client)."""
    async with contextlib.AsyncExitStack() as opened:
        state = await _open(settings, dsn, clock, on_connect, schema_version, signer, opened)
        opened.pop_all()  # started: from now on the lifespan's shutdown closes it all
    return state


async def _open(
    settings: Settings,
    dsn: str,
    clock: Clock,
    on_connect: db.ConnectionHook | None,
    schema_version: str,
    signer: Signer,
    opened: contextlib.AsyncExitStack,
) -> AppState:
    conn = await db.connect(dsn)
    try:
        applied = await migrate.apply_migrations(conn)
    finally:
        await conn.close()
    if applied:
        log.info("migrations applied", extra={"versions": applied})
    pool = await db.create_pool(
        dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        statement_seconds=settings.statement_seconds,
        acquire_seconds=settings.pool_acquire_seconds,
        on_connect=on_connect,
    )
    opened.push_async_callback(_close_pool, pool)

    replica = await _read_replica(settings, on_connect)
    if replica is not None:
        opened.push_async_callback(_close_pool, replica.pool)
    catalog_cache = CatalogCache(load_catalog, pool)
    authenticator = Authenticator(pool, clock, settings.jwt_secret, dev_mode=settings.dev_mode)

    hub = Hub(capacity=settings.live_queue_size, start=START)
    webhooks = WebhookRuntime(pool, clock, settings)
    opened.push_async_callback(webhooks.close)

    snapshots = EntitlementSnapshots(settings.check_snapshots)
    # What ingest reads of its batches' accounts, dropped on the same events as the
    # snapshots; a batch reads what the listener has not handed over yet itself.
    known = KnownAccounts(settings.ingest_accounts, lambda: _position(listener), KEEP_SNAPSHOTS)
    denials = Denials(pool, clock)
    counter_reads = await _counter_reads(settings, dsn, on_connect)
    opened.push_async_callback(counter_reads.close)
    cache = _response_cache(settings, dsn, clock)
    if cache is not None and cache.shared is not None:
        opened.push_async_callback(cache.shared.close)

    async def on_events(new: NewEvents) -> None:
        if any(e.type.startswith("catalog.") for e in new.events):
            await catalog_cache.invalidate()
        # Every change to an account, its subscription, partners or grants names it; usage
        # changes no entitlement (checks read counters afresh), nor do reports, reminders
        # (a quarter's close names every account) and suggestions: see KEEP_SNAPSHOTS.
        changed = {
            e.account_id for e in new.events if e.account_id and e.type not in KEEP_SNAPSHOTS
        }
        snapshots.drop(changed)
        known.drop(changed)
        if any(e.type == "api_key.revoked" for e in new.events):
            authenticator.forget_keys()
        if cache is not None:
            await cache.invalidate(event_tags((e.type, e.account_id) for e in new.events))
        passed = new.reached if new.passed_over else None
        hub.publish(new.events, new.partners, clock.now(), passed)
        webhooks.dispatcher.wake()

    # A retention shorter than the backfill window stops the start (ValueError).
    partitions = Partitions(Window.of_days(settings.backfill_days, settings.usage_retention_days))
    async with pool.acquire() as conn:
        await maintenance.maintain(conn, partitions, clock.now())

    def on_touched(accounts: list[UUID] | None) -> None:
        if replica is not None:
            replica.expect_change()
        if cache is None:
            return
        if accounts is None:
            cache.invalidate_all_soon()
        else:
            cache.invalidate_soon(account_tag(a) for a in accounts)

    async def on_down() -> None:
        if replica is not None:
            replica.expect_change()  # changes go unheard until the listener is back
        if cache is not None:
            cache.listener_down()

    listener = OutboxListener(
        dsn,
        on_events,
        on_touched=on_touched if cache is not None or replica is not None else None,
        on_down=on_down,
        on_back=cache.listener_back if cache is not None else None,
        watcher=replica,
        # Only live subscribers need usage.recorded from the listener (webhooks and jobs
        # read the outbox themselves); ingest writes one per account of a batch.
        skip=lambda: () if len(hub) else SKIPPED_EVENTS,
    )
    await listener.start()
    opened.push_async_callback(listener.stop)
    # start() returns before the listener's task first runs: no batch was published yet.
    assert listener.cursor is not None
    hub.cursor = listener.cursor
    jobs = {
        "subscriptions": partial(due.apply_due, pool, catalog_cache.get),
        "milestones": partial(scheduled.award_due, pool, catalog_cache.get),
        "renewal reminders": partial(reminders.send_due, pool, catalog_cache.get),
        "suggestions": partial(suggestions.refresh_marked, pool, catalog_cache.get),
        "account health": partial(health.refresh_due, pool, catalog_cache.get),
        "impact reports": partial(
            reports.generate_due,
            pool,
            catalog_cache.get,
            settings.report_months,
            settings.report_backfill,
        ),
    }
    scheduler = Scheduler(dsn, clock, jobs, settings.scheduler_seconds)
    rollbacks = Rollbacks(
        {
            grants.KIND: grants.roll_back_grant,
            seats.KIND: seats.roll_back_seat,
            glossary.KIND: glossary.roll_back_glossary_term,
            targets.KIND: targets.roll_back_outcome_target,
            reports.KIND: reports.roll_back_schedule,
            subscriptions.KIND: seats_purchased.roll_back_subscription,
        }
    )
    shared = Shared(
        catalog_cache,
        partitions,
        IngestWriter(pool, partitions, known=known),
        rollbacks,
        RenderCache(),
        EventObjects(),
        webhooks.hooks,
        snapshots,
        denials,
        counter_reads,
        Committed(snapshots.drop),
        signer,
        VendorName(settings.vendor_name),
        Policy.of(settings),
        *([replica] if replica is not None else []),
    )
    gauges = Gauges(pool, hub, clock, settings.pool_max)
    front = None
    if cache is not None:
        front = ResponseFront(
            cache,
            schema_version,
            catalog_cache.get,
            settings.max_tokens,
        )
    return AppState(
        pool,
        catalog_cache,
        authenticator,
        listener,
        partitions,
        scheduler,
        hub,
        webhooks,
        gauges,
        denials,
        shared,
        front,
        replica,
    )


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> JSONResponse:
    state: AppState = request.app.state.benefitgate
    try:
        async with state.pool.acquire(timeout=2) as conn:
            waiting = await migrate.pending(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError, migrate.MigrationError) as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": type(exc).__name__}, status_code=503
        )
    if waiting:
        return JSONResponse(
            {"status": "unavailable", "pending_migrations": waiting}, status_code=503
        )
    ready: dict[str, object] = {"status": "ready"}
    if state.front is not None:
        ready["responseCache"] = state.front.cache.stats()
    return JSONResponse(ready)


async def _metrics(request: Request) -> Response:
    """The Prometheus exposition: this process's gauges read now, with every worker's
    values when several run."""
    state: AppState = request.app.state.benefitgate
    await state.gauges.read()
    body, content_type = exposition.render(request.headers.get("accept", ""))
    return Response(body, headers={"content-type": content_type})


def create_app_from_env() -> Starlette:
    """Entry point for `uvicorn --factory` workers; `serve` exports DATABASE_URL first."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set; start the service with `benefitgate serve`")
    provider = tracing.provider_from_env()
    return create_app(settings, settings.database_url, tracer_provider=provider)
