"""Documents by id (GraphQL over HTTP's `documentId`, Apollo's `persistedQuery`) over HTTP
and WebSocket, callers held to the manifest by role, and introspection by role."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.graphql.documents import Document, Manifest, document_id
from tests.conftest import Api, MakeApi, ServeLive, api_key, frontend_token
from tests.fixtures.live import raw_socket

SPEC = {"accept": "application/graphql-response+json"}
TIERS = "query Tiers {\n  tiers { key }\n}\n"
EVENTS = 'subscription Bad { events(after: "not-a-cursor") { __typename ... on Error { code } } }'
UNTRUSTED = "{ tiers { key name } }"
UNKNOWN = "0" * 64


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    documents = [Document(document_id(TIERS), "Tiers", "query", TIERS),
                 Document(document_id(EVENTS), "Bad", "subscription", EVENTS)]  # fmt: skip
    path.write_text(Manifest(documents).as_json())
    return path


Trusted = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@pytest.fixture
def trusted(make_api: MakeApi, manifest: Path) -> Trusted:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Api]:
        async with make_api(documents=manifest, **overrides) as api:
            yield api

    return start


def _bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}", **SPEC}


async def _post(api: Api, body: dict[str, Any], credential: str) -> tuple[int, dict[str, Any]]:
    response = await api.client.post("/graphql", json=body, headers=_bearer(credential))
    return response.status_code, response.json()


def _code(body: dict[str, Any]) -> str:
    assert "data" not in body, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_a_document_runs_by_its_id_in_either_convention_by_post_and_get(
    trusted: Trusted,
) -> None:
    token = frontend_token(uuid4())
    sha = document_id(TIERS)
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    async with trusted() as api:
        by_spec = await _post(api, {"documentId": f"sha256:{sha}"}, token)
        by_apollo = await _post(api, {"extensions": apollo}, token)
        by_get = await api.client.get(
            "/graphql", params={"documentId": f"sha256:{sha}"}, headers=_bearer(token)
        )
        by_get_apollo = await api.client.get(
            "/graphql", params={"extensions": json.dumps(apollo)}, headers=_bearer(token)
        )

    for status, body in (by_spec, by_apollo, (by_get.status_code, by_get.json()),
                         (by_get_apollo.status_code, by_get_apollo.json())):  # fmt: skip
        assert (status, body) == (200, {"data": {"tiers": []}})  # it ran: the database is empty


async def test_frontends_may_send_only_the_manifests_documents(
    trusted: Trusted, conn: asyncpg.Connection
) -> None:
    token = frontend_token(uuid4())
    admin = await api_key(conn)
    async with trusted() as api:
        as_text = await _post(api, {"query": TIERS}, token)
        untrusted = await _post(api, {"query": UNTRUSTED}, token)
        by_get = await api.client.get(
            "/graphql", params={"query": UNTRUSTED}, headers=_bearer(token)
        )
        admin_untrusted = await _post(api, {"query": UNTRUSTED}, admin)

    assert as_text == (200, {"data": {"tiers": []}})  # the same text is trusted
    assert untrusted[0] == 403 and _code(untrusted[1]) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert by_get.status_code == 403 and _code(by_get.json()) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert admin_untrusted[0] == 200 and "errors" not in admin_untrusted[1]


async def test_partners_are_held_to_the_manifest_when_configured(
    trusted: Trusted, conn: asyncpg.Connection
) -> None:
    partner = await api_key(conn, Role.PARTNER, await _partner(conn))
    operator = await api_key(conn, Role.OPERATOR)
    async with trusted(documents_required_for=frozenset({"frontend", "partner"})) as api:
        refused = await _post(api, {"query": UNTRUSTED}, partner)
        trusted_text = await _post(api, {"query": TIERS}, partner)
        operator_answer = await _post(api, {"query": UNTRUSTED}, operator)

    assert refused[0] == 403 and _code(refused[1]) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert trusted_text[0] == 200 and "errors" not in trusted_text[1]
    assert operator_answer[0] == 200 and "errors" not in operator_answer[1]


async def test_ids_that_are_unknown_malformed_or_not_the_text_get_typed_errors(
    trusted: Trusted, conn: asyncpg.Connection
) -> None:
    admin = await api_key(conn)
    sha = document_id(TIERS)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"documentId": f"sha256:{UNKNOWN}"}, 404, "PERSISTED_QUERY_NOT_FOUND"),
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN}}}, 404,
         "PERSISTED_QUERY_NOT_FOUND"),
        ({"documentId": sha}, 400, "BAD_REQUEST"),  # no prefix
        ({"documentId": f"sha256:{sha.upper()}"}, 400, "BAD_REQUEST"),
        ({"documentId": f"md5:{sha[:32]}"}, 400, "BAD_REQUEST"),
        ({"documentId": 7}, 400, "BAD_REQUEST"),
        ({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha}}}, 400, "BAD_REQUEST"),
        ({"extensions": {"persistedQuery": "x"}}, 400, "BAD_REQUEST"),
        ({"documentId": f"sha256:{sha}",
          "extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN}}}, 400,
         "BAD_REQUEST"),
        ({"documentId": f"sha256:{sha}", "query": UNTRUSTED}, 400,
         "PERSISTED_QUERY_HASH_MISMATCH"),
    ]  # fmt: skip
    async with trusted() as api:
        for body, status, code in cases:
            got_status, got = await _post(api, body, admin)
            assert (got_status, _code(got)) == (status, code), body


async def test_without_a_manifest_ids_are_not_supported_but_text_with_its_id_runs(
    api: Api,
) -> None:
    token = frontend_token(uuid4())
    sha = document_id(TIERS)

    alone = await _post(api, {"documentId": f"sha256:{sha}"}, token)
    with_text = await _post(
        api, {"query": TIERS, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}},
        token,
    )  # fmt: skip

    assert alone[0] == 400 and _code(alone[1]) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert with_text == (200, {"data": {"tiers": []}})


async def test_refusals_answer_plain_json_clients_in_json(trusted: Trusted) -> None:
    async with trusted() as api:
        response = await api.client.post(
            "/graphql",
            json={"documentId": f"sha256:{UNKNOWN}"},
            headers={"authorization": f"Bearer {frontend_token(uuid4())}"},
        )

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert _code(response.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_subscriptions_name_documents_by_id_and_frontends_are_held_to_the_manifest(
    serve_live: ServeLive, manifest: Path
) -> None:
    token = frontend_token(uuid4())
    sha = document_id(EVENTS)
    subscribes = [
        {"documentId": f"sha256:{sha}"},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN}}},
        {"query": "subscription { events { __typename } }"},
    ]
    async with serve_live(documents=manifest) as port, raw_socket(port) as ws:
        await ws.init(token)
        for n, payload in enumerate(subscribes, 1):
            await ws.send({"id": str(n), "type": "subscribe", "payload": payload})
        received: dict[tuple[str, str], Any] = {}
        while len(received) < 4:  # next and complete for 1, an error each for 2 and 3
            message = await ws.receive()
            received[message["id"], message["type"]] = message.get("payload")

    # The trusted document ran: the resolver refuses its cursor, as a result member.
    assert received["1", "next"]["data"]["events"]["code"] == "INVALID_INPUT"
    assert received["2", "error"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert received["3", "error"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert set(received) == {("1", "next"), ("1", "complete"), ("2", "error"), ("3", "error")}


INTROSPECT = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Tier") { name } }'


async def test_introspection_is_off_for_frontends_outside_development_mode(
    make_api: MakeApi, conn: asyncpg.Connection
) -> None:
    token = frontend_token(uuid4())
    partner = await api_key(conn, Role.PARTNER, await _partner(conn))
    async with make_api() as api:
        refused = [await _post(api, {"query": q}, token) for q in (INTROSPECT, TYPE)]
        typename = await _post(api, {"query": "{ __typename }"}, token)
        allowed = await _post(api, {"query": INTROSPECT}, partner)
    async with make_api(dev_mode=True) as api:
        in_dev = await _post(api, {"query": INTROSPECT}, token)

    for status, body in refused:
        assert status == 400 and _code(body) == "INTROSPECTION_DISABLED", body
    assert typename[1] == {"data": {"__typename": "Query"}}
    assert allowed[1]["data"]["__schema"]["queryType"]["name"] == "Query"
    assert in_dev[1]["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_roles_are_configurable(
    make_api: MakeApi, conn: asyncpg.Connection
) -> None:
    token = frontend_token(uuid4())
    admin = await api_key(conn)
    async with make_api(introspection_for=frozenset({"frontend"})) as api:
        frontend = await _post(api, {"query": INTROSPECT}, token)
        refused = await _post(api, {"query": INTROSPECT}, admin)

    assert frontend[1]["data"]["__schema"]["queryType"]["name"] == "Query"
    assert refused[0] == 400 and _code(refused[1]) == "INTROSPECTION_DISABLED"


async def test_a_misnamed_role_in_a_setting_stops_the_app(make_api: MakeApi) -> None:
    with pytest.raises(ValueError, match="BENEFITGATE_INTROSPECTION_FOR"):
        async with make_api(introspection_for=frozenset({"admins"})):
            pass


async def _partner(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval(
        "insert into partners (id, name) values (gen_random_uuid(), 'p') returning id"
    )


async def test_a_mutation_named_by_id_over_get_is_405(make_api: MakeApi, tmp_path: Path) -> None:
    mutation = "mutation Record { usageRecord(events: []) { __typename } }"
    manifest = tmp_path / "mutations.json"
    manifest.write_text(
        Manifest([Document(document_id(mutation), "Record", "mutation", mutation)]).as_json()
    )
    async with make_api(documents=manifest) as api:
        response = await api.client.get(
            "/graphql",
            params={"documentId": f"sha256:{document_id(mutation)}"},
            headers=_bearer(frontend_token(uuid4())),
        )

    assert response.status_code == 405 and response.headers["allow"] == "POST"
