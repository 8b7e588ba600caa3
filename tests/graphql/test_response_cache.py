"""The response cache end to end, on one process: what a hit costs (nothing from the
database), what invalidates an entry (the events of committed changes, usage writes, the
caller's own writes before they answer), the race it refuses to store, answers that expire
with time, errors never kept, a listener that reconnects, and HTTP caching on GET."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from benefitgate.app import AppState, create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.events import outbox as events
from benefitgate.events import touch
from benefitgate.events.listener import LISTENER_NAME
from benefitgate.metering.models import UsageEvent
from tests.conftest import api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.entitlements_api import CREATE as GRANT
from tests.fixtures.entitlements_api import create_vars
from tests.fixtures.metering_api import RECORD, event, record_directly
from tests.fixtures.seats_api import ASSIGN, seat
from tests.fixtures.statements import StatementLog

VIEW = """query($id: ID!) { account(id: $id) { __typename
  ... on Account { id name entitlements { benefit { key } } usage { metric { key } used } }
  ... on Error { code } } }"""
VIEW_FIELDS = "id name entitlements { benefit { key } } usage { metric { key } used }"
SEATS_AFTER = VIEW.replace(VIEW_FIELDS, VIEW_FIELDS + " seats { assigned }")
TIERS = "{ tiers { key name } }"
# A minute past the factories' instants: at exactly whole days before the period's end, a
# renewal's days left are about to drop, and nothing would be stored.
START = factories.NOW + timedelta(minutes=1)


class Served:
    """The app with its state, a client, and a log of every statement its pool runs."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient, log: StatementLog) -> None:
        self.app, self.client, self.log = app, client, log

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.benefitgate
        return state

    async def post(self, query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        await self.stored()
        return body

    async def stored(self) -> None:
        """Wait for the store that follows a response sent (it runs after sending)."""
        front = self.state.front
        for _ in range(5_000):
            if front is None or not front.storing:
                return
            await asyncio.sleep(0.001)

    async def hit(self, query: str, variables: dict[str, Any], key: str) -> bool:
        """Whether the cache answered (the catalog's reads touch no statement either way)."""
        assert self.state.front is not None
        before = self.state.front.cache.local.hits
        body = await self.post(query, variables, key)
        assert "errors" not in body, body
        return self.state.front.cache.local.hits > before

    async def statements_of(self, query: str, variables: dict[str, Any], key: str) -> int:
        before = len(self.log.statements)
        body = await self.post(query, variables, key)
        assert "errors" not in body, body
        return len(self.log.statements) - before


@contextlib.asynccontextmanager
async def served(
    dsn: str, settings: Settings, clock: FixedClock, cache: bool = True
) -> AsyncIterator[Served]:
    log = StatementLog()
    settings = replace(settings, response_cache=True) if cache else settings
    app = create_app(settings, dsn, clock=clock, on_connect=log.attach)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Served(app, client, log)


async def _setup(conn: asyncpg.Connection) -> tuple[UUID, str]:
    cat = await factories.catalog(conn)
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ('m0_more', 'More m0', 'limit', 'm0', '2025-01-01')"""
    )
    return await factories.account(conn, cat["versions"]["basic"]), await api_key(conn)


async def _until(check: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)


async def test_a_repeated_view_is_answered_without_the_database(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    labels = {"cache": "response", "tier": "process", "result": "hit"}
    hits_before = REGISTRY.get_sample_value("benefitgate_cache_lookups_total", labels) or 0
    async with served(dsn, settings, FixedClock(START)) as app:
        first = await app.post(VIEW, {"id": str(account_id)}, key)
        assert await app.statements_of(VIEW, {"id": str(account_id)}, key) == 0
        assert await app.post(VIEW, {"id": str(account_id)}, key) == first
        assert not await app.hit(TIERS, {}, key)
        assert await app.hit(TIERS, {}, key)
        # Variables are canonical, and the caller's scope is part of the key.
        frontend = frontend_token(account_id)
        assert await app.statements_of(VIEW, {"id": str(account_id)}, frontend) > 0
        assert await app.post(VIEW, {"id": str(account_id)}, frontend) == first
        stats = (await app.client.get("/readyz")).json()["responseCache"]
        assert stats["entries"] == 3 and stats["hits"] == 4 and stats["bytes"] > 0
        hits = REGISTRY.get_sample_value("benefitgate_cache_lookups_total", labels)
        assert hits == hits_before + 4


async def test_another_callers_entry_is_never_served(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    basic = await conn.fetchval("select id from tier_versions where tier_key = 'basic'")
    other = await factories.account(conn, basic)
    async with served(dsn, settings, FixedClock(START)) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        await app.post(VIEW, {"id": str(account_id)}, frontend_token(account_id))
        stranger = await app.post(VIEW, {"id": str(account_id)}, frontend_token(other))
        assert stranger["data"]["account"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


async def test_the_callers_own_write_is_read_back_at_once(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        before = await app.post(VIEW, {"id": str(account_id)}, key)
        assert [e["benefit"]["key"] for e in before["data"]["account"]["entitlements"]] == ["b0"]
        granted = await app.post(GRANT, create_vars(account_id), key)
        assert granted["data"]["grantCreate"]["__typename"] == "GrantChanged"
        # No wait: the write invalidated before it answered.
        after = await app.post(VIEW, {"id": str(account_id)}, key)
        assert [e["benefit"]["key"] for e in after["data"]["account"]["entitlements"]] == [
            "b0",
            "b2",
        ]


async def test_usage_recorded_is_read_back_at_once(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        recorded = await app.post(RECORD, {"events": [event(account_id, "e1", 7)]}, key)
        assert "errors" not in recorded, recorded
        after = await app.post(VIEW, {"id": str(account_id)}, key)
        used = {u["metric"]["key"]: u["used"] for u in after["data"]["account"]["usage"]}
        assert used["m0"] == 7


async def test_seat_activity_is_read_back_at_once(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    """Activity writes no event: it touches its account, or the cached holders keep
    answering no activity."""
    account_id, key = await _setup(conn)
    holders = """query($id: ID!) { account(id: $id) { ... on Account {
      seats { holders { user lastActiveAt } } } } }"""
    activity = """mutation($id: ID!) { seatActivity(accountId: $id, users: ["ada"]) {
      __typename ... on SeatActivityRecorded { marked } } }"""
    async with served(dsn, settings, FixedClock(START)) as app:
        assigned = await app.post(ASSIGN, seat(account_id, "ada"), key)
        assert assigned["data"]["seatAssign"]["held"], assigned
        before = await app.post(holders, {"id": str(account_id)}, key)
        assert before["data"]["account"]["seats"]["holders"] == [
            {"user": "ada", "lastActiveAt": None}
        ]
        # The assignment's event, heard after it answered, may refuse the first store.
        await _until(lambda: app.hit(holders, {"id": str(account_id)}, key))
        assert await app.hit(holders, {"id": str(account_id)}, key)
        marked = await app.post(activity, {"id": str(account_id)}, key)
        assert marked["data"]["seatActivity"] == {
            "__typename": "SeatActivityRecorded",
            "marked": 1,
        }
        after = await app.post(holders, {"id": str(account_id)}, key)
        [holder] = after["data"]["account"]["seats"]["holders"]
        assert holder["lastActiveAt"] is not None


async def test_a_usage_write_on_many_accounts_elsewhere_drops_only_their_views(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    """Another process's ingest batch over more accounts than a notification names drops
    those accounts' responses, and keeps the others'."""
    account_id, key = await _setup(conn)
    tier = await conn.fetchval("select tier_version_id from subscriptions limit 1")
    others = [await factories.account(conn, tier) for _ in range(touch.MAX_IDS + 1)]
    async with served(dsn, settings, FixedClock(START)) as app:
        for account in (account_id, others[-1]):
            await app.post(VIEW, {"id": str(account)}, key)
        await record_directly(dsn, [UsageEvent(f"e{i}", a, "m0", 2, factories.NOW)
                                    for i, a in enumerate(others)])  # fmt: skip

        async def used() -> bool:
            body = await app.post(VIEW, {"id": str(others[-1])}, key)
            usage = body["data"]["account"]["usage"]
            return bool({u["metric"]["key"]: u["used"] for u in usage}["m0"] == 2)

        await _until(used)
        assert await used()
        assert await app.hit(VIEW, {"id": str(account_id)}, key)


async def test_an_external_id_not_found_is_found_once_an_account_takes_it(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    _, key = await _setup(conn)
    by_external = """query($ext: String!) { account(externalId: $ext) { __typename
      ... on Account { name } ... on Error { code } } }"""
    create = """mutation($ext: String!) { accountCreate(externalId: $ext, name: "Newco",
      idempotencyKey: "c1") { __typename } }"""
    async with served(dsn, settings, FixedClock(START)) as app:
        missing = await app.post(by_external, {"ext": "cus_1"}, key)
        assert missing["data"]["account"]["code"] == "NOT_FOUND"
        assert await app.hit(by_external, {"ext": "cus_1"}, key)
        created = await app.post(create, {"ext": "cus_1"}, key)
        assert created["data"]["accountCreate"]["__typename"] == "AccountProvisioned"
        found = await app.post(by_external, {"ext": "cus_1"}, key)
        assert found["data"]["account"] == {"__typename": "Account", "name": "Newco"}


async def test_a_change_committed_by_another_process_invalidates_through_its_event(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        async with conn.transaction():
            await conn.execute("update accounts set name = 'Renamed' where id = $1", account_id)
            await events.enqueue(conn, "account.updated", account_id, {})

        async def renamed() -> bool:
            body = await app.post(VIEW, {"id": str(account_id)}, key)
            return bool(body["data"]["account"]["name"] == "Renamed")

        await _until(renamed)
        assert await renamed()
        # The catalog's events drop every response.
        assert not await app.hit(TIERS, {}, key)
        await conn.execute("update tiers set name = 'Basic Plus' where key = 'basic'")
        await events.enqueue(conn, "catalog.published", None, {})

        async def catalog_renamed() -> bool:
            body = await app.post(TIERS, {}, key)
            return "Basic Plus" in [t["name"] for t in body["data"]["tiers"]]

        await _until(catalog_renamed)
        assert await catalog_renamed()


async def test_a_read_older_than_an_invalidation_is_not_stored(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    """The deliberate race: the request reads the account, then waits on a lock while a
    rename commits (through the API, which invalidates before it answers); the request's
    answer, with the old name, must not be kept. (The account is read with its grants and
    counters in one statement; the seats come after, in a statement of their own.)"""
    account_id, key = await _setup(conn)
    rename = """mutation($id: ID!, $key: String!) { accountUpdate(id: $id, expectedVersion: 1,
      name: "New", idempotencyKey: $key) { __typename } }"""
    async with served(dsn, settings, FixedClock(START)) as app:
        assert app.state.front is not None
        cache = app.state.front.cache
        blocker = await asyncpg.connect(dsn)
        try:
            blocking = blocker.transaction()
            await blocking.start()
            await blocker.execute("lock table seat_assignments in access exclusive mode")
            request = asyncio.create_task(app.post(SEATS_AFTER, {"id": str(account_id)}, key))

            async def waiting() -> bool:
                return bool(
                    await conn.fetchval(
                        "select count(*) from pg_locks where not granted and relation = "
                        "'seat_assignments'::regclass"
                    )
                )

            await _until(waiting)
            assert await waiting(), "the request is blocked after reading the account"
            before = cache.sequence
            renamed = await app.post(rename, {"id": str(account_id), "key": "r1"}, key)
            assert renamed["data"]["accountUpdate"]["__typename"] == "AccountProvisioned"
            assert cache.sequence > before  # invalidated while the read was under way
            await blocking.rollback()
            stale = await request
        finally:
            await blocker.close()
        assert stale["data"]["account"]["name"] == "Acme"  # it did read before the rename
        assert cache.refused == 1
        fresh = await app.post(SEATS_AFTER, {"id": str(account_id)}, key)
        assert fresh["data"]["account"]["name"] == "New"


async def test_a_view_is_kept_only_until_its_grant_ends(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    await factories.grant(conn, account_id, "b2", valid_until=START + timedelta(hours=1))
    clock = FixedClock(START)
    async with served(dsn, settings, clock) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        clock.advance(timedelta(minutes=59))
        assert await app.statements_of(VIEW, {"id": str(account_id)}, key) == 0
        clock.advance(timedelta(minutes=1))
        assert await app.statements_of(VIEW, {"id": str(account_id)}, key) > 0
        body = await app.post(VIEW, {"id": str(account_id)}, key)
        assert [e["benefit"]["key"] for e in body["data"]["account"]["entitlements"]] == ["b0"]


async def test_a_miss_is_read_and_kept_with_the_views_one_statement(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    """When its grants end or start comes from the grants the view read: keeping the
    answer takes no statement (nor pool checkout) of its own."""
    account_id, key = await _setup(conn)
    await factories.grant(conn, account_id, "b2", valid_until=START + timedelta(hours=1))
    variables = {"id": str(account_id)}
    async with served(dsn, settings, FixedClock(START)) as app:
        await app.post(VIEW, variables, key)  # the catalog, the key and the row types read
        frontend = frontend_token(account_id)  # a scope of its own: a miss
        assert await app.statements_of(VIEW, variables, frontend) == 1
        assert await app.statements_of(VIEW, variables, frontend) == 0


async def test_a_grant_starting_later_ends_the_entry_when_it_starts(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    grant_id = await factories.grant(conn, account_id, "b2")
    await conn.execute(
        "update grants set valid_from = $2 where id = $1", grant_id, START + timedelta(hours=2)
    )
    clock = FixedClock(START)
    async with served(dsn, settings, clock) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        clock.advance(timedelta(hours=2))
        body = await app.post(VIEW, {"id": str(account_id)}, key)
        assert [e["benefit"]["key"] for e in body["data"]["account"]["entitlements"]] == [
            "b0",
            "b2",
        ]


async def test_a_moving_projection_or_a_renewal_countdown_is_not_kept_past_its_change(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    await factories.usage(conn, account_id, "m0", 10)
    projected = """query($id: ID!) { account(id: $id) { ... on Account {
        usage { projected } } } }"""
    renewal = """query($id: ID!) { account(id: $id) { ... on Account {
        renewal { daysLeft } } } }"""
    # 01:00 UTC on 16 November, the period ending on 5 December at noon: 19 calendar days,
    # dropping to 18 at midnight.
    clock = FixedClock(factories.NOW + timedelta(hours=13))
    async with served(dsn, settings, clock) as app:
        await app.post(projected, {"id": str(account_id)}, key)
        assert not await app.hit(projected, {"id": str(account_id)}, key)
        first = await app.post(renewal, {"id": str(account_id)}, key)
        assert first["data"]["account"]["renewal"]["daysLeft"] == 19
        clock.advance(timedelta(hours=22, minutes=59, seconds=59))  # 23:59:59, still 19
        assert await app.hit(renewal, {"id": str(account_id)}, key)
        clock.advance(timedelta(seconds=1))  # midnight
        assert not await app.hit(renewal, {"id": str(account_id)}, key)
        later = await app.post(renewal, {"id": str(account_id)}, key)
        assert later["data"]["account"]["renewal"]["daysLeft"] == 18


async def test_an_answer_with_errors_is_never_kept(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        await conn.execute("alter table grants rename to grants_away")
        failed = await app.post(VIEW, {"id": str(account_id)}, key)
        assert failed["errors"][0]["message"] == "Unexpected error."
        await conn.execute("alter table grants_away rename to grants")
        body = await app.post(VIEW, {"id": str(account_id)}, key)
        assert "errors" not in body and body["data"]["account"]["name"] == "Acme"


async def test_a_listener_that_reconnects_drops_the_local_tier(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        assert app.state.front is not None
        cache = app.state.front.cache
        assert len(cache.local) == 1
        # The name from the database, not the DSN: the embedded server's DSN ends in a query.
        database = await conn.fetchval("select current_database()")
        terminated = await conn.fetchval(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity"
            " where datname = $1 and application_name = $2",
            database,
            LISTENER_NAME,
        )
        assert terminated == 1

        async def emptied() -> bool:
            return len(cache.local) == 0 and cache.local_usable

        await _until(emptied)
        assert await emptied()
        assert await app.statements_of(VIEW, {"id": str(account_id)}, key) > 0


async def test_get_queries_carry_an_etag_and_answer_304_when_unchanged(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        params = {"query": VIEW, "variables": f'{{"id": "{account_id}"}}'}
        auth = {"authorization": f"Bearer {key}"}
        first = await app.client.get("/graphql", params=params, headers=auth)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert first.headers["cache-control"].startswith("private")
        assert first.headers["vary"] == "Authorization, Accept"
        again = await app.client.get("/graphql", params=params, headers=auth)
        assert again.headers["etag"] == etag and again.content == first.content
        unchanged = await app.client.get(
            "/graphql", params=params, headers={**auth, "if-none-match": etag}
        )
        assert unchanged.status_code == 304 and unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        await app.post(GRANT, create_vars(account_id), key)
        changed = await app.client.get(
            "/graphql", params=params, headers={**auth, "if-none-match": etag}
        )
        assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_the_cache_can_be_turned_off(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START), cache=False) as app:
        await app.post(VIEW, {"id": str(account_id)}, key)
        assert await app.statements_of(VIEW, {"id": str(account_id)}, key) > 0
        assert app.state.front is None


async def test_head_answers_as_get_with_its_etag(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        params = {"query": VIEW, "variables": f'{{"id": "{account_id}"}}'}
        auth = {"authorization": f"Bearer {key}"}
        got = await app.client.get("/graphql", params=params, headers=auth)
        head = await app.client.head("/graphql", params=params, headers=auth)
        held = await app.client.head(
            "/graphql", params=params, headers={**auth, "if-none-match": got.headers["etag"]}
        )
    assert got.status_code == 200
    # It was 405 with `Allow: POST`, although GET reads the same resource.
    assert (head.status_code, head.headers.get("etag")) == (200, got.headers["etag"])
    assert head.headers["content-type"] == got.headers["content-type"]
    assert (held.status_code, held.headers.get("etag")) == (304, got.headers["etag"])


async def test_a_post_the_view_would_refuse_is_refused_on_a_hit_too(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        variables = {"id": str(account_id)}
        await app.post(VIEW, variables, key)
        assert await app.hit(VIEW, variables, key)
        # "json" somewhere in the header was enough for the cache, not for the view.
        odd = await app.client.post(
            "/graphql",
            content=json.dumps({"query": VIEW, "variables": variables}).encode(),
            headers={"authorization": f"Bearer {key}", "content-type": "text/plain; note=json"},
        )
    assert odd.status_code == 415, odd.text
    assert odd.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_hit_is_refused_what_a_miss_would_be_refused(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    async with served(dsn, settings, FixedClock(START)) as app:
        variables = {"id": str(account_id)}
        await app.post(VIEW, variables, key)
        assert await app.hit(VIEW, variables, key)
        # The cache read only `query`, `operationName` and `variables`: each of these was
        # answered 200 from it, and refused when it missed.
        sent: list[dict[str, Any]] = [
            {"documentId": "sha256:" + "0" * 64},  # not the text's id
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            {"documentId": "abc"},
            {"extensions": 5},
        ]
        answers = [
            await app.client.post(
                "/graphql",
                json={"query": VIEW, "variables": variables, **extra},
                headers={"authorization": f"Bearer {key}"},
            )
            for extra in sent
        ]
        by_get = await app.client.get(
            "/graphql",
            params={"query": VIEW, "variables": json.dumps(variables), "extensions": "[]"},
            headers={"authorization": f"Bearer {key}"},
        )
    codes = [a.json()["errors"][0]["extensions"]["code"] for a in [*answers, by_get]]
    assert codes == [
        "PERSISTED_QUERY_HASH_MISMATCH",
        "PERSISTED_QUERY_HASH_MISMATCH",
        "BAD_REQUEST",
        "BAD_REQUEST",
        "BAD_REQUEST",
    ]
    assert [a.status_code for a in [*answers, by_get]] == [400] * 5


async def test_each_media_type_of_a_get_answer_has_its_own_etag(
    conn: asyncpg.Connection, dsn: str, settings: Settings
) -> None:
    account_id, key = await _setup(conn)
    json_only = {"authorization": f"Bearer {key}", "accept": "application/json"}
    spec = {**json_only, "accept": "application/graphql-response+json"}
    async with served(dsn, settings, FixedClock(START)) as app:
        params = {"query": VIEW, "variables": f'{{"id": "{account_id}"}}'}
        plain = await app.client.get("/graphql", params=params, headers=json_only)  # a miss
        other = await app.client.get("/graphql", params=params, headers=spec)  # a hit
        # With one ETag for both, the JSON answer's validator got 304 for the other type.
        crossed = await app.client.get(
            "/graphql", params=params, headers={**spec, "if-none-match": plain.headers["etag"]}
        )
        held = await app.client.get(
            "/graphql", params=params, headers={**spec, "if-none-match": other.headers["etag"]}
        )
    assert plain.content == other.content
    assert plain.headers["etag"] != other.headers["etag"]
    assert plain.headers["vary"] == other.headers["vary"] == "Authorization, Accept"
    assert crossed.status_code == 200
    assert crossed.headers["content-type"].startswith("application/graphql-response+json")
    assert (held.status_code, held.headers["etag"]) == (304, other.headers["etag"])
