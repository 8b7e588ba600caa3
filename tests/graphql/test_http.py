"""Bad input over HTTP: clear GraphQL errors with the right status, never a 500."""

import json
import logging
import re
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from benefitgate.logs import request_id
from benefitgate.telemetry import metrics
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


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("text/plain; note=json", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("TEXT/Plain; Charset=UTF-8", "text/plain"),
    ],
)
async def test_a_body_of_another_media_type_is_415_naming_what_is_read(
    api: Api, token: str, content_type: str, named: str
) -> None:
    """Refused 400 "Unsupported content type" before: 415 says what it is (RFC 9110,
    15.5.16), with the code POST /events gives it, and which type is read instead."""
    headers = {"authorization": f"Bearer {token}", "content-type": content_type, **SPEC}
    response = await api.client.post(
        "/graphql", content=json.dumps({"query": "{ tiers { key } }"}), headers=headers
    )

    assert response.status_code == 415, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["message"] == f"send the request as application/json, not {named}"


async def test_a_body_without_a_content_type_is_415_saying_it_has_none(
    api: Api, token: str
) -> None:
    """The message read "send the request as application/json, not no Content-Type"."""
    response = await api.client.post(
        "/graphql",
        content=json.dumps({"query": "{ tiers { key } }"}),
        headers={"authorization": f"Bearer {token}", **SPEC},
    )

    assert response.status_code == 415, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["message"] == "send the request as application/json: it has no Content-Type"


# Media types and parameter names are case-insensitive (RFC 9110, 8.3.1), and so is the
# charset's value (RFC 9110, 8.3.2): "APPLICATION/JSON" was refused 415.
@pytest.mark.parametrize(
    "content_type",
    [
        "APPLICATION/JSON",
        "Application/Json",
        "application/JSON; CHARSET=UTF-8",
        "Application/Json; Charset=Utf-8",
    ],
)
async def test_a_json_body_is_read_whatever_the_case_of_its_content_type(
    make_api: MakeApi, token: str, content_type: str
) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": content_type, **SPEC}
    body = json.dumps({"query": "{ tiers { key } }"})
    async with make_api(response_cache=True) as api:
        # The second time, a request read before is answered from its bytes; the third,
        # from the response cache in front of the view.
        for _ in range(3):
            response = await api.client.post("/graphql", content=body, headers=headers)

            assert response.status_code == 200, response.text
            assert isinstance(response.json()["data"]["tiers"], list), response.text


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json; charset=latin-1", 415),
        ("application/json; charset=utf-16", 415),
        ("application/json; charset=UTF-8", 200),
        ('application/json; charset="utf8"', 200),
        ("APPLICATION/JSON; CHARSET=LATIN-1", 415),
    ],
)
async def test_a_body_in_another_charset_than_utf8_is_415_naming_it(
    api: Api, token: str, content_type: str, status: int
) -> None:
    """Read as UTF-8 before, whatever charset it declared: the é of a latin-1 body was then
    not the text its client sent."""
    headers = {"authorization": f"Bearer {token}", "content-type": content_type, **SPEC}
    body = json.dumps({"query": "{ tiers { key } }"})

    for _ in range(2):  # the second time, a request read before is answered from its bytes
        response = await api.client.post("/graphql", content=body, headers=headers)

        assert response.status_code == status, response.text
        if status == 415:
            error = response.json()["errors"][0]
            assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
            charset = content_type[content_type.lower().index("charset=") + len("charset=") :]
            assert error["message"] == f"send the request in UTF-8, not {charset!r}"


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


async def test_a_browser_get_that_names_a_document_runs_it_instead_of_the_page(
    api: Api, token: str
) -> None:
    # Apollo's persisted query by GET names its document in `extensions` only, and one by
    # id in `documentId`: with a browser's Accept, or `*/*`, they got GraphiQL's page.
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8",
               "authorization": f"Bearer {token}"}  # fmt: skip
    apollo = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})
    by_id = {"documentId": "sha256:" + "0" * 64}
    for params, accept in (
        ({"extensions": apollo}, browser),
        (by_id, {**browser, "accept": "*/*"}),
    ):
        response = await api.client.get("/graphql", params=params, headers=accept)

        assert response.status_code == 400, response.text
        code = response.json()["errors"][0]["extensions"]["code"]
        assert code == "PERSISTED_QUERY_NOT_SUPPORTED"  # no manifest here: read, not paged


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "responseCache" not in ready.json()  # off in tests unless asked for


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


async def test_json_that_is_not_an_object_is_a_400_not_a_crash(api: Api, token: str) -> None:
    # Valid JSON of another type reached code that read fields from it: AttributeError, a 500
    # and a dropped connection.
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    for body, kind in (
        ("[]", "an array"),
        ("7", "a number"),
        ('"q"', "a string"),
        ("null", "null"),
    ):
        response = await api.client.post("/graphql", content=body.encode(), headers=headers)
        assert response.status_code == 400, body
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert error["message"] == f"expected a JSON object, not {kind}"


async def test_request_parameters_of_the_wrong_type_are_400(api: Api, token: str) -> None:
    headers = {"authorization": f"Bearer {token}"}
    query = "{ tiers { key } }"
    for params, name in (
        ({"query": 1}, "query"),
        ({"query": query, "variables": [1]}, "variables"),
        ({"query": query, "operationName": 1}, "operationName"),
        ({"query": query, "extensions": "x"}, "extensions"),
    ):
        response = await api.client.post("/graphql", json=params, headers=headers)
        assert response.status_code == 400, params
        assert f"`{name}`" in response.json()["errors"][0]["message"]
    by_get = await api.client.get(
        "/graphql", params={"query": query, "variables": "[1]"}, headers=headers
    )
    assert by_get.status_code == 400
    message = by_get.json()["errors"][0]["message"]
    assert message == "the `variables` parameter: expected a JSON object, not an array"


async def test_a_get_parameter_that_is_not_json_is_named_in_its_refusal(
    api: Api, token: str
) -> None:
    # Strawberry's message said "Unable to parse request body as JSON", of a GET.
    headers = {"authorization": f"Bearer {token}"}
    sent = [
        ({"variables": "{nope"}, "the `variables` parameter is not JSON"),
        ({"extensions": "{"}, "the `extensions` parameter is not JSON"),
        ({"variables": '{"a": "x\\u0000"}'},
         "the `variables` parameter: text cannot hold a NUL character (\\u0000), as"),
    ]  # fmt: skip
    for params, message in sent:
        response = await api.client.get(
            "/graphql", params={"query": "{ tiers { key } }", **params}, headers=headers
        )
        assert response.status_code == 400, params
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert error["message"].startswith(message), error


async def test_an_unknown_fragment_is_a_validation_error(api: Api, token: str) -> None:
    # The depth rule looked the fragment up before any rule reported it: KeyError, whose text
    # ("'F'") was the answer.
    for query in (
        "{ ...F }",
        "{ tiers { ...F } }",
        "{ tiers { ...F } } fragment G on Tier { key }",
    ):
        response = await api.post(query, auth=token, headers=SPEC)
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["message"] == "Unknown fragment 'F'."


async def test_deep_documents_through_fragments_still_meet_the_depth_limit(
    make_api: MakeApi, token: str
) -> None:
    query = """{ tiers { ...B } } fragment B on Tier { benefits { benefit { ...O } } }
      fragment O on Benefit { outcome { key } }"""
    async with make_api(max_depth=3) as api:
        body = (await api.post(query, auth=token)).json()

    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


async def test_request_errors_have_no_data_entry(api: Api, token: str) -> None:
    # The GraphQL over HTTP spec: a request that never executed answers without `data`.
    for query, variables in (
        ("{ tiers { key ", None),  # syntax
        ("{ tiers { nope } }", None),  # validation
        ("query($id: ID!) { account(id: $id) { __typename } }", {"id": {"x": 1}}),  # variables
    ):
        for headers in (SPEC, {}):
            body = (await api.post(query, variables, auth=token, headers=headers)).json()
            assert "data" not in body and body["errors"], (query, headers)
    executed = (await api.post("{ tiers { key } }", auth=token)).json()
    assert "data" in executed


async def test_schema_names_are_suggested_only_in_development_mode(
    make_api: MakeApi, token: str
) -> None:
    # Field suggestions were off, but types, arguments and enum values still named schema
    # members ("Unknown type 'Tierx'. Did you mean 'Tier'?").
    documents = [
        ("{ tiers { key } ... on Tierx { key } }", None),
        ('{ account(idd: "x") { __typename } }', None),
        ("{ tiers { kye } }", None),
        (
            """query($b: UsageBucket!) { usageSeries(accountId: "x", metric: "m",
              from: "2026-01-01", to: "2026-01-02", bucket: $b) { __typename } }""",
            {"b": "DAYY"},
        ),
    ]
    for dev_mode in (False, True):
        async with make_api(dev_mode=dev_mode) as api:
            for query, variables in documents:
                response = await api.post(query, variables, auth=token)
                assert response.json()["errors"], query
                assert ("Did you mean" in response.text) is dev_mode, (query, response.text)


async def test_empty_selection_sets_are_measured_not_a_crash(make_api: MakeApi, token: str) -> None:
    # Found by the request fuzzer: graphql-core 3.3 parses empty selection sets, and the
    # depth rule took the maximum over none (ValueError, "Unexpected error.").
    async with make_api(max_depth=3) as api:
        empty = await api.post("{}", auth=token, headers=SPEC)
        nested = await api.post("{ tiers { } }", auth=token, headers=SPEC)
        deep = await api.post(
            "{ tiers { benefits { benefit { outcome { } } } } }", auth=token, headers=SPEC
        )

    assert empty.status_code == 200 and empty.json() == {"data": {}}
    assert nested.status_code == 200 and "errors" not in nested.json()
    assert "exceeds maximum operation depth of 3" in deep.json()["errors"][0]["message"]


async def test_a_streamed_body_above_the_limit_is_413_with_its_request_id(
    api: Api, token: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it is read
        yield b'{"query": "{ tiers { key } }", "pad": "'
        for _ in range(12):
            yield b" " * 100_000
        yield b'"}'

    response = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_every_answer_of_the_edge_is_marked_logged_and_counted(api: Api, token: str) -> None:
    """`/graphql` reaches the view without the router, other paths and methods through it:
    both carry one request id, write one access line (in the request's log context) and
    count in the same series."""
    counted = metrics.child(metrics.HTTP_REQUESTS, "/graphql", "405")
    before = counted._value.get()
    lines: list[tuple[str | None, int]] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((request_id.get(), record.status))  # type: ignore[attr-defined]

    access = logging.getLogger("benefitgate.access")
    handler, level = Lines(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        answered = await api.post("{ tiers { key } }", auth=token, headers={"x-request-id": "a-1"})
        head = await api.client.head("/graphql", headers={"x-request-id": "a-2"})
        refused = await api.client.put("/graphql", content=b"{}", headers={"x-request-id": "a-3"})
        health = await api.client.get("/healthz", headers={"x-request-id": "a-4"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)

    assert [answered.status_code, refused.status_code, health.status_code] == [200, 405, 200]
    assert head.status_code != 405  # HEAD goes with GET, to the view
    for response, rid in ((answered, "a-1"), (head, "a-2"), (refused, "a-3"), (health, "a-4")):
        assert response.headers.get_list("x-request-id") == [rid]
    assert lines == [("a-1", 200), ("a-2", head.status_code), ("a-3", 405), ("a-4", 200)]
    assert counted._value.get() == before + 1


async def test_several_operations_without_an_operation_name_run_none_of_them(
    api: Api, conn: asyncpg.Connection
) -> None:
    key = await api_key(conn)
    document = """
      mutation A { partnerCreate(name: "A", idempotencyKey: "a") { __typename } }
      mutation B { partnerCreate(name: "B", idempotencyKey: "b") { __typename } }
      query C { __typename }"""
    headers = {"authorization": f"Bearer {key}", **SPEC}
    unnamed = await api.client.post("/graphql", json={"query": document}, headers=headers)
    # Was mutation A run, and answered as if it had been asked for by name.
    assert unnamed.status_code == 400
    assert unnamed.json() == {
        "errors": [
            {"message": "Must provide operation name if query contains multiple operations."}
        ]
    }
    assert await conn.fetchval("select count(*) from partners") == 0
    named = {"query": document, "operationName": "B"}
    chosen = await api.client.post("/graphql", json=named, headers=headers)
    assert chosen.json()["data"]["partnerCreate"]["__typename"] == "PartnerCreated"
    assert await conn.fetchval("select name from partners") == "B"
    single = await api.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert single.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("DELETE", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
        ("OPTIONS", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/no-such-path", 404, "NOT_FOUND"),
        ("POST", "/graphql/x", 404, "NOT_FOUND"),
    ],
)
async def test_the_routers_refusals_are_json_errors_with_a_code(
    api: Api, method: str, path: str, status: int, code: str
) -> None:
    """A path or a method no route takes was a plain-text 404 or 405, the only answers of
    the service without the JSON error shape."""
    response = await api.client.request(method, path)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code
    if status == 405:
        assert method not in response.headers["allow"]
        assert f"{method} is not allowed here" in response.json()["errors"][0]["message"]
