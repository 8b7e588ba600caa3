"""Requests read before (`graphql.known`): a body read once is not read again, and what
was kept for one caller never answers another as it should not."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from starlette.requests import Request
from starlette.routing import Route

from benefitgate.auth.principals import Role
from benefitgate.graphql.documents import Document, Manifest, document_id
from benefitgate.graphql.known import ENTRY_OVERHEAD, MAX_BODY, KnownRequests, Params
from benefitgate.graphql.view import GraphQLView
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.metering_api import CHECK

TIERS = "query Tiers {\n  tiers { key }\n}\n"
UNTRUSTED = "{ tiers { key name } }"


def _view(api: Api) -> GraphQLView:
    assert api.app is not None
    route = next(r for r in api.app.routes if isinstance(r, Route) and r.path == "/graphql")
    assert isinstance(route.app, GraphQLView)
    return route.app


def _count_readings(view: GraphQLView) -> list[int]:
    readings = [0]
    read = view._parameters

    async def counted(*args: Any) -> Params | None:
        readings[0] += 1
        return await read(*args)

    view._parameters = counted  # type: ignore[method-assign,assignment]
    return readings


async def _post(api: Api, body: bytes, credential: str, **headers: str) -> tuple[int, Any]:
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"authorization": f"Bearer {credential}", "content-type": "application/json",
                 **headers},
    )  # fmt: skip
    return response.status_code, response.json()


def _code(answer: Any) -> str:
    code: str = answer["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize("cache", [True, False])
async def test_a_check_body_is_read_once_and_each_caller_is_judged_on_its_own(
    make_api: MakeApi, conn: asyncpg.Connection, cache: bool
) -> None:
    cat = await factories.catalog(conn)
    mine = await factories.account(conn, cat["versions"]["basic"])
    other = await factories.account(conn, cat["versions"]["basic"])
    body = json.dumps({"query": CHECK, "variables": {"id": str(mine), "feature": "b0"}}).encode()
    async with make_api(response_cache=cache) as api:
        readings = _count_readings(_view(api))
        answers = [await _post(api, body, frontend_token(mine)) for _ in range(3)]
        stranger = await _post(api, body, frontend_token(other))
        admin = await _post(api, body, await api_key(conn))

    assert readings[0] == 2  # once for frontends, once for admins
    allowed = {"data": {"entitlementCheck": {
        "__typename": "EntitlementCheck", "allowed": True, "reason": None, "remaining": None,
        "tier": None}}}  # fmt: skip
    assert answers == [(200, allowed)] * 3
    assert stranger[0] == 200 and stranger[1]["data"]["entitlementCheck"]["code"] == "NOT_FOUND"
    assert admin == (200, allowed)


async def test_bytes_kept_for_one_role_are_held_to_anothers_rule(
    make_api: MakeApi, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(Manifest([Document(document_id(TIERS), "Tiers", "query", TIERS)]).as_json())
    untrusted = json.dumps({"query": UNTRUSTED}).encode()
    token, admin = frontend_token(uuid4()), await api_key(conn)
    async with make_api(documents=manifest, response_cache=True) as api:
        view = _view(api)
        readings = _count_readings(view)
        by_admin = [await _post(api, untrusted, admin) for _ in range(2)]
        by_frontend = [await _post(api, untrusted, token) for _ in range(2)]
        kept = len(view.known)

    assert by_admin == [(200, {"data": {"tiers": []}})] * 2
    assert [status for status, _ in by_frontend] == [403, 403]
    assert {_code(answer) for _, answer in by_frontend} == {"PERSISTED_QUERY_NOT_IN_LIST"}
    assert readings[0] == 3  # the admin's once; each refusal again
    assert kept == 1  # a refusal is never kept


async def test_a_kept_body_sent_as_another_media_type_or_method_is_read_afresh(
    make_api: MakeApi, conn: asyncpg.Connection
) -> None:
    admin = await api_key(conn)
    body = json.dumps({"query": TIERS}).encode()
    async with make_api(response_cache=True) as api:
        first = await _post(api, body, admin)
        as_text = await _post(api, body, admin, **{"content-type": "text/plain"})
        by_get = await api.client.get(
            "/graphql", params={"query": TIERS}, headers={"authorization": f"Bearer {admin}"}
        )
        by_get_refused = await api.client.get(
            "/graphql", params={"query": TIERS, "extensions": "[]"},
            headers={"authorization": f"Bearer {admin}"},
        )  # fmt: skip

    assert first == (200, {"data": {"tiers": []}})
    assert as_text[0] == 415 and _code(as_text[1]) == "UNSUPPORTED_MEDIA_TYPE"
    assert by_get.status_code == 200 and by_get.json() == {"data": {"tiers": []}}
    assert by_get_refused.status_code == 400


def _request(body: bytes) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "query_string": b"", "path": "/graphql",
             "headers": [(b"content-type", b"application/json")]}  # fmt: skip
    return Request(scope, receive)


async def test_kept_readings_are_bounded_in_bytes_and_large_bodies_are_not_kept() -> None:
    known = KnownRequests(max_bytes=10 * (MAX_BODY + ENTRY_OVERHEAD))
    reads = [0]

    async def read() -> Params:
        reads[0] += 1
        return "{ tiers { key } }", None, None

    bodies = [str(n).encode().ljust(MAX_BODY, b" ") for n in range(30)]
    for body in bodies:
        assert await known.read(_request(body), Role.ADMIN, read) is not None
    assert len(known) == 10 and reads[0] == 30
    await known.read(_request(bodies[-1]), Role.ADMIN, read)  # the latest are kept
    assert reads[0] == 30
    await known.read(_request(bodies[0]), Role.ADMIN, read)  # the first went out first
    assert reads[0] == 31

    large = b" " * (MAX_BODY + 1)
    for _ in range(2):
        assert await known.read(_request(large), Role.ADMIN, read) is not None
    assert reads[0] == 33


async def test_readings_of_one_document_share_its_text() -> None:
    """A reading is kept per body: thousands of checks of one document with other
    variables keep one copy of its text, not one each."""
    known = KnownRequests()

    async def read() -> Params:
        return "".join(["{ tiers ", "{ key } }"]), None, None  # a new string each time

    first = await known.read(_request(b'{"n": 1}'), Role.ADMIN, read)
    second = await known.read(_request(b'{"n": 2}'), Role.ADMIN, read)
    assert first is not None and second is not None
    assert first is not second and first.query is second.query


async def test_an_entry_is_charged_its_documents_text_unless_another_holds_it() -> None:
    """A kept reading holds its body and its document's text: readings of distinct large
    documents fill the budget sooner than readings of one, whose text only the first is
    charged for."""
    text = "{ tiers { key } }" + " " * 3000
    budget = 4 * (100 + ENTRY_OVERHEAD + len(text) + 1)
    distinct, shared = KnownRequests(max_bytes=budget), KnownRequests(max_bytes=budget)

    def reading(query: str) -> Callable[[], Awaitable[Params]]:
        async def read() -> Params:
            return query, None, None

        return read

    for n in range(8):
        body = str(n).encode().ljust(100)
        await distinct.read(_request(body), Role.ADMIN, reading(text + str(n)))
        await shared.read(_request(body), Role.ADMIN, reading(text))
    assert (len(distinct), len(shared)) == (4, 8)
