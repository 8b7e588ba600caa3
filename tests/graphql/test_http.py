"""Bad input over HTTP: clear GraphQL errors with the right status, never a 500."""

import logging
from uuid import uuid4

import asyncpg
import pytest

from tests.conftest import Api, MakeApi, api_key, frontend_token

SPEC = {"accept": "application/graphql-response+json"}


@pytest.fixture
async def token() -> str:
    return frontend_token(uuid4())


async def test_syntax_errors_are_400_with_the_spec_media_type(api: Api, token: str) -> None:
    response = await api.post("{ tiers { key ", auth=token, headers=SPEC)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert "Syntax Error" in response.json()["errors"][0]["message"]


async def test_legacy_json_clients_get_200_for_validation_errors(api: Api, token: str) -> None:
    response = await api.post("{ tiers { nope } }", auth=token)

    assert response.status_code == 200
    assert "Cannot query field 'nope'" in response.json()["errors"][0]["message"]
    assert "Did you mean" not in response.text  # suggestions are off outside dev mode


async def test_wrong_variable_types_are_rejected_readably(api: Api, token: str) -> None:
    response = await api.post(
        "query($id: ID!) { account(id: $id) { __typename } }",
        {"id": {"x": 1}},
        auth=token,
        headers=SPEC,
    )

    assert response.status_code == 400
    assert "Variable '$id'" in response.json()["errors"][0]["message"]


async def test_unparsable_bodies_are_400_json(api: Api, token: str) -> None:
    response = await api.client.post(
        "/graphql",
        content=b"{not json",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_oversized_bodies_are_413(api: Api, token: str) -> None:
    query = "{ tiers { key } }" + " " * 1_100_000
    response = await api.post(query, auth=token)

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_alias_and_token_limits_stay_readable(api: Api, token: str) -> None:
    aliases = "{ " + " ".join(f"a{i}: tiers {{ key }}" for i in range(11)) + " }"
    tokens = "{ " + " ".join("tiers { key }" for _ in range(300)) + " }"

    alias_errors = (await api.post(aliases, auth=token)).json()
    token_errors = (await api.post(tokens, auth=token)).json()

    assert "aliases found" in alias_errors["errors"][0]["message"]
    assert "token" in token_errors["errors"][0]["message"].lower()


async def test_query_deeper_than_the_limit_is_refused_by_name(
    make_api: MakeApi, token: str
) -> None:
    async with make_api(max_depth=3) as api:
        body = (
            await api.post("{ tiers { benefits { benefit { outcome { key } } } } }", auth=token)
        ).json()

    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


async def test_mutations_by_get_are_405(api: Api, token: str) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "mutation { x }"}, headers={"authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_unexpected_errors_are_masked_and_logged_without_secrets(
    conn: asyncpg.Connection, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    key = await api_key(conn)
    await conn.execute("alter table tiers rename to tiers_gone")  # the catalog load now fails

    with caplog.at_level(logging.ERROR, logger="benefitgate.graphql"):
        response = await api.post(
            "{ tiers { key } }", auth=key, headers={"x-request-id": "req-123"}
        )

    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "tiers_gone" not in response.text and "relation" not in response.text
    assert response.headers["x-request-id"] == "req-123"
    records = [r for r in caplog.records if r.name == "benefitgate.graphql"]
    assert records and records[0].request_id == "req-123"  # type: ignore[attr-defined]
    assert key not in caplog.text


async def test_graphiql_is_served_without_credentials(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_text_that_is_not_unicode_is_an_unparsable_body(
    api: Api, conn: asyncpg.Connection
) -> None:
    # A lone surrogate escape is valid JSON syntax but no Unicode text: it cannot reach the
    # database, and it reached its encoder as an unexpected error.
    key = await api_key(conn)
    body = (
        b'{"query": "mutation($e: [UsageEventInput!]!) { usageRecord(events: $e) '
        b'{ __typename } }", "variables": {"e": [{"eventId": "x\\ud800", "accountId": "'
        + str(uuid4()).encode()
        + b'", "metric": "m0", "value": 1, "occurredAt": "2026-01-01T00:00:00Z"}]}}'
    )
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_nul_character_in_a_variable_is_refused_with_where_it_is(
    api: Api, conn: asyncpg.Connection
) -> None:
    # Postgres text cannot hold NUL: it failed in the database driver as an unexpected error.
    key = await api_key(conn)
    response = await api.post(
        'mutation($key: String!) { usageConsume(accountId: "x", metric: "m0", amount: 1,'
        " idempotencyKey: $key) { __typename } }",
        {"key": "a\x00b"},
        auth=key,
    )

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "NUL" in error["message"] and "the request.variables.key" in error["message"]


async def test_a_backslash_before_u0000_is_ordinary_text(api: Api, token: str) -> None:
    response = await api.post(
        "query($id: ID!) { account(id: $id) { __typename } }", {"id": "\\u0000"}, auth=token
    )

    assert response.status_code == 200
    assert response.json()["data"] == {"account": {"__typename": "InvalidInputError"}}


async def test_unstorable_literals_are_validation_errors(
    api: Api, conn: asyncpg.Connection
) -> None:
    key = await api_key(conn)
    nul = await api.post(
        'mutation { usageConsume(accountId: "x", metric: "m0", amount: 1,'
        ' idempotencyKey: "a\\u0000b") { __typename } }',
        auth=key,
        headers=SPEC,
    )
    infinite = await api.post(
        'mutation { usageConsume(accountId: "x", metric: "m0", amount: 1e400,'
        ' idempotencyKey: "k") { __typename } }',
        auth=key,
        headers=SPEC,
    )

    assert nul.status_code == 400 and infinite.status_code == 400
    assert "NUL" in nul.json()["errors"][0]["message"]
    assert infinite.json()["errors"][0]["message"] == "Number 1e400 is out of range."


async def test_instants_postgres_cannot_keep_are_refused_as_variables(
    api: Api, conn: asyncpg.Connection
) -> None:
    # The first and last instants Python has were stored as -infinity and infinity, which
    # broke every later read of the account; outside years 1 to 9999 in UTC they failed.
    key = await api_key(conn)
    query = """mutation($until: DateTime) { grantCreate(accountId: "x", benefit: "b",
      source: MANUAL, idempotencyKey: "k", validUntil: $until) { __typename } }"""
    for until in (
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
    ):
        response = await api.post(query, {"until": until}, auth=key, headers=SPEC)
        assert response.status_code == 400, until
        assert "Give an instant after" in response.json()["errors"][0]["message"]
    kept = await api.post(query, {"until": "9999-12-31T23:59:59Z"}, auth=key, headers=SPEC)
    assert kept.json()["data"]["grantCreate"]["__typename"] == "NotFoundError"


async def test_dates_postgres_stores_as_infinity_are_refused(api: Api, token: str) -> None:
    # A usage series from 0001-01-01 started at -infinity and generated rows until the disk
    # was full; an impact summary to 9999-12-31 overflowed a date.
    query = """query($from: Date!, $to: Date!) { usageSeries(accountId: "x", metric: "m",
      from: $from, to: $to) { __typename } }"""
    for start, end in (("0001-01-01", "0001-01-05"), ("9999-12-20", "9999-12-31")):
        response = await api.post(query, {"from": start, "to": end}, auth=token, headers=SPEC)
        assert response.status_code == 400, start
        assert "Give a date after 0001-01-01" in response.json()["errors"][0]["message"]


async def test_a_nul_deep_in_nested_json_is_still_a_400(api: Api, token: str) -> None:
    # The walk for a NUL recursed: a document nested a thousand deep, which orjson decodes,
    # raised RecursionError, a 500.
    nested = "[" * 1000 + '"\\u0000"' + "]" * 1000
    response = await api.client.post(
        "/graphql",
        content=('{"query": "{ tiers { key } }", "variables": {"v": ' + nested + "}}").encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )

    assert response.status_code == 400
    assert "NUL" in response.json()["errors"][0]["message"]


async def test_integer_literals_past_64_bits_are_validation_errors(api: Api, token: str) -> None:
    # A JSON argument cannot hold one (jsonb stops at 64 bits), and a Float made it infinite.
    huge = "9" * 20
    response = await api.post(
        f'{{ entitlementCheck(accountId: "x", metric: "m", requested: {huge}) {{ __typename }} }}',
        auth=token,
        headers=SPEC,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == f"Number {huge} is out of range."
