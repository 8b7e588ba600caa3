"""`/metrics` scraped over real HTTP and parsed as Prometheus parses it: the values move
with what the service does (operations, errors, statements, pool, ingest, the outbox
listener, live subscribers, the scheduler, webhooks)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import asyncpg
import httpx
from prometheus_client import REGISTRY

from benefitgate.app import create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.events.outbox import START
from benefitgate.scheduler import Scheduler
from benefitgate.telemetry import metrics
from tests.conftest import Api, ServeLive, api_key
from tests.fixtures import factories
from tests.fixtures.live import free_port, serve_in_process, subscribe, ws_client
from tests.fixtures.metering_api import RECORD, event
from tests.fixtures.metrics import Scrape, moved, scrape
from tests.fixtures.seats_api import ASSIGN

TIERS = "query Tiers { tiers { key } }"
ACCOUNT = "query Account($id: ID!) { account(id: $id) { __typename ... on Error { code } } }"
OPERATION = "benefitgate_graphql_operation_duration_seconds_count"


async def _post(
    port: int, query: str, variables: Mapping[str, object], auth: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        return await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {auth}"},
        )


async def test_operations_errors_statements_and_ingest_move_the_scraped_values(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with serve_live(pool_max=3) as port:
        url = f"http://127.0.0.1:{port}/metrics"
        before = await scrape(url)
        for _ in range(3):
            assert (await _post(port, TIERS, {}, key)).status_code == 200
        missing = await _post(port, ACCOUNT, {"id": str(uuid.uuid4())}, key)
        assert missing.json()["data"]["account"]["code"] == "NOT_FOUND"
        assert (await _post(port, "query Broken { nope }", {}, key)).status_code == 200
        assert (await _post(port, TIERS, {}, "not-a-key")).status_code == 401
        events = [event(account, "e1"), event(account, "e2", metric="nope")]
        recorded = await _post(port, RECORD, {"events": events}, key)
        assert recorded.json()["data"]["usageRecord"]["accepted"] == 1
        after = await scrape(url)
        idle = await _when_idle(url)

    assert after.families["benefitgate_graphql_operation_duration_seconds"] == "histogram"
    assert moved(before, after, OPERATION, operation="Tiers", type="query", outcome="success") == 3
    assert moved(before, after, OPERATION, operation="Account", type="query", outcome="success")
    broken = {"operation": "Broken", "type": "query", "outcome": "request_error"}
    assert moved(before, after, OPERATION, **broken) == 1
    assert moved(before, after, OPERATION, operation="Record", type="mutation", outcome="success")
    errors = "benefitgate_errors_total"
    assert moved(before, after, errors, code="NOT_FOUND") == 1
    assert moved(before, after, errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert moved(before, after, errors, code="UNAUTHENTICATED") == 1
    http = "benefitgate_http_requests_total"
    assert moved(before, after, http, route="/graphql", status="401") == 1
    assert moved(before, after, http, route="/graphql", status="200") == 6
    usage = "benefitgate_usage_events_total"
    assert moved(before, after, usage, status="accepted", reason="") == 1
    assert moved(before, after, usage, status="rejected", reason="unknown_metric") == 1
    statements = "benefitgate_db_statement_duration_seconds_count"
    assert moved(before, after, statements, outcome="ok") >= 5
    assert moved(before, after, "benefitgate_db_pool_acquire_duration_seconds_count") >= 5
    assert after.value("benefitgate_db_pool_max_connections") == 3
    # Every connection taken went back: once background work (the webhook dispatcher woken
    # by the usage event, the denial flusher) is done, none is in use and nobody waits.
    assert idle.value("benefitgate_db_pool_connections", state="in_use") == 0
    assert idle.value("benefitgate_db_pool_connections", state="idle") >= 1
    assert idle.value("benefitgate_db_pool_waiting") == 0
    assert moved(before, after, "benefitgate_cache_lookups_total",
                  cache="catalog", tier="process", result="hit") >= 1  # fmt: skip


async def _when_idle(url: str) -> Scrape:
    """The first scrape (within five seconds) that finds no pool connection in use."""
    for _ in range(50):
        found = await scrape(url)
        if found.value("benefitgate_db_pool_connections", state="in_use") == 0:
            break
        await asyncio.sleep(0.1)
    return found


async def test_the_pool_gauges_count_connections_in_use_and_tasks_waiting(
    dsn: str, settings: Settings, clock: FixedClock
) -> None:
    app = create_app(replace(settings, pool_max=2), dsn, clock=clock)
    async with serve_in_process(app) as port:
        pool = app.state.benefitgate.pool
        held = [await pool.acquire(), await pool.acquire()]
        waiter = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        # The scrape reads the gauges, then waits (2 s at most) for a connection of its own.
        during = await scrape(f"http://127.0.0.1:{port}/metrics")
        for conn in held:
            await pool.release(conn)
        await pool.release(await waiter)

    assert during.value("benefitgate_db_pool_connections", state="in_use") == 2
    assert during.value("benefitgate_db_pool_connections", state="idle") == 0
    assert during.value("benefitgate_db_pool_waiting") == 1


async def test_the_listener_counts_events_and_their_lag_and_live_subscribers_are_counted(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with serve_live() as port:
        url = f"http://127.0.0.1:{port}/metrics"
        before = await scrape(url)
        async with ws_client(port, key) as session:
            # From the start of the outbox: the event arrives however late the subscription
            # registers with the hub.
            stream = subscribe(session, accounts=[str(account)], after=START.encode())
            async with contextlib.aclosing(stream):
                first = asyncio.ensure_future(anext(stream))
                for _ in range(100):  # until the subscription has registered
                    during = await scrape(url)
                    if during.value("benefitgate_live_subscribers"):
                        break
                    await asyncio.sleep(0.05)
                variables = {"id": str(account), "user": "ada", "key": "k1"}
                assert (await _post(port, ASSIGN, variables, key)).status_code == 200
                assert (await asyncio.wait_for(first, 10))["type"] == "seats.changed"
        for _ in range(100):  # the server ends the subscription as the socket closes
            after = await scrape(url)
            if not after.value("benefitgate_live_subscribers"):
                break
            await asyncio.sleep(0.05)

    assert during.value("benefitgate_live_subscribers") == 1
    assert during.value("benefitgate_live_queued_events") == 0
    assert after.value("benefitgate_live_subscribers") == 0
    received = "benefitgate_outbox_events_received_total"
    assert moved(before, after, received) >= 1
    assert moved(before, after, "benefitgate_outbox_listener_lag_seconds_count") >= 1


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_scheduler_reports_its_lead_and_each_jobs_runs(dsn: str) -> None:
    async def applies_two(now: datetime) -> int:
        return 2

    async def fails(now: datetime) -> int:
        raise RuntimeError("boom")

    clock = FixedClock(factories.NOW)
    jobs = {"applies two": applies_two, "fails": fails}
    leader, follower = Scheduler(dsn, clock, jobs, 1), Scheduler(dsn, clock, jobs, 1)
    runs = "benefitgate_scheduler_job_duration_seconds_count"
    ok, failed = (
        _sample(runs, job="applies two", outcome="ok"),
        _sample(runs, job="fails", outcome="error"),
    )
    items = _sample("benefitgate_scheduler_job_items_total", job="applies two")
    try:
        assert await leader.tick()
        leading = _sample("benefitgate_scheduler_leader")
        assert not await follower.tick()
    finally:
        await follower.stop()
        await leader.stop()

    assert leading == 1
    assert _sample("benefitgate_scheduler_leader") == 0
    assert _sample("benefitgate_scheduler_job_items_total", job="applies two") == items + 2
    assert _sample(runs, job="applies two", outcome="ok") == ok + 1
    assert _sample(runs, job="fails", outcome="error") == failed + 1


def test_operation_names_from_clients_are_bounded_and_cleaned() -> None:
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("Tiers") == "Tiers"
    assert metrics.operation_label("not a name") == "other"
    assert metrics.operation_label("x" * 65) == "other"
    for n in range(300):
        metrics.operation_label(f"Op{n}")
    assert metrics.operation_label("NeverSeenBefore") == "other"
    assert metrics.operation_label("Tiers") == "Tiers"  # names already seen keep their own


async def test_a_metrics_port_takes_metrics_off_the_public_port(serve_live: ServeLive) -> None:
    async with serve_live(metrics_port=free_port()) as port, httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 404


async def test_openmetrics_is_chosen_whatever_the_case_of_the_accept_header(api: Api) -> None:
    """Media types and parameter names are case-insensitive (RFC 9110, 8.3.1):
    prometheus-client compares them as sent, so an upper-case Accept got the text format."""
    asked = [
        "application/openmetrics-text; version=1.0.0",
        "APPLICATION/OPENMETRICS-TEXT; VERSION=1.0.0",
        "Application/OpenMetrics-Text;Version=1.0.0, text/plain;q=0.5",
    ]
    for accept in asked:
        response = await api.client.get("/metrics", headers={"accept": accept})

        assert response.status_code == 200, response.text
        media = response.headers["content-type"]
        assert media.startswith("application/openmetrics-text; version=1.0.0"), (accept, media)
