"""What an HTTP request is told about what it sent and how: a subscription sent over HTTP
is refused by name, pointing at the WebSocket endpoint (by GET it was "mutations must be
sent with POST", 405); and `Accept` is read with its qualities, so a media type refused
with `q=0` is never sent (`application/graphql-response+json;q=0` got that media type),
on every path an answer takes: executed, a request error, a response cache hit by POST
(the quick path) and by GET, and the IDE's page."""

from __future__ import annotations

from uuid import uuid4

import pytest

from benefitgate.graphql.responses import GRAPHQL_RESPONSE
from tests.conftest import Api, MakeApi, frontend_token

JSON = "application/json"
SUBSCRIPTION = "subscription { events { __typename } }"


@pytest.fixture
def bearer() -> dict[str, str]:
    return {"authorization": f"Bearer {frontend_token(uuid4())}"}


async def test_a_subscription_over_http_is_refused_by_name_by_get_and_by_post(
    api: Api, bearer: dict[str, str]
) -> None:
    by_get = await api.client.get("/graphql", params={"query": SUBSCRIPTION}, headers=bearer)
    by_post = await api.client.post("/graphql", json={"query": SUBSCRIPTION}, headers=bearer)
    mutation = await api.client.get("/graphql", params={"query": "mutation { x }"}, headers=bearer)

    for response in (by_get, by_post):
        assert response.status_code == 400, response.text
        assert "allow" not in response.headers  # no other method takes it either
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert error["message"].startswith("subscriptions are not served over HTTP"), error
        assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]
        assert "mutation" not in error["message"]
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
    assert "mutations must be sent with POST" in mutation.text


# Accept -> the media type answered (None: application/json, the status of a request
# error 200; else application/graphql-response+json and 400).
ACCEPTS: list[tuple[str, bool]] = [
    (GRAPHQL_RESPONSE, True),
    (f"{GRAPHQL_RESPONSE};q=0", False),
    (f"{GRAPHQL_RESPONSE}; q=0.000", False),
    (f"{GRAPHQL_RESPONSE};Q=0, {JSON}", False),
    (f"{JSON}, {GRAPHQL_RESPONSE};q=0", False),
    (f"{GRAPHQL_RESPONSE};q=0, */*", False),
    (f"{GRAPHQL_RESPONSE};q=0.001", True),
    (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", True),
    (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", False),  # the client prefers JSON
    (f"{JSON}, {GRAPHQL_RESPONSE}", True),  # a tie: the spec's own
    (f"{GRAPHQL_RESPONSE};q=x", True),  # an unreadable quality is ignored
    (f"*/*;q=0.1, {GRAPHQL_RESPONSE};q=0.2", True),
    (JSON, False),
    ("*/*", False),
    # Media ranges and parameter names are case-insensitive (RFC 9110, 8.3.1 and 12.5.1).
    (GRAPHQL_RESPONSE.upper(), True),
    ("Application/GraphQL-Response+JSON; Q=0.5, application/json; q=0.1", True),
    (f"{GRAPHQL_RESPONSE.upper()};Q=0, {JSON}", False),
]


@pytest.mark.parametrize(("accept", "graphql_response"), ACCEPTS)
async def test_accept_qualities_choose_the_media_type_of_a_request_error(
    api: Api, bearer: dict[str, str], accept: str, graphql_response: bool
) -> None:
    response = await api.post("{ tiers { key ", headers={**bearer, "accept": accept})

    media = GRAPHQL_RESPONSE if graphql_response else JSON
    assert response.headers["content-type"].startswith(media), accept
    assert response.status_code == (400 if graphql_response else 200), accept
    assert "Syntax Error" in response.json()["errors"][0]["message"]


async def test_q_0_is_honoured_executed_and_from_the_response_cache_by_post_and_get(
    make_api: MakeApi, bearer: dict[str, str]
) -> None:
    refused = {**bearer, "accept": f"{GRAPHQL_RESPONSE};q=0, {JSON}"}
    wanted = {**bearer, "accept": GRAPHQL_RESPONSE}
    body = {"query": "{ tiers { key } }"}
    async with make_api(response_cache=True) as api:
        posted = [await api.client.post("/graphql", json=body, headers=refused) for _ in range(3)]
        asked = await api.client.post("/graphql", json=body, headers=wanted)
        got = [await api.client.get("/graphql", params=body, headers=refused) for _ in range(2)]
    for response in (*posted, *got):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == JSON, response.headers
    assert asked.headers["content-type"] == GRAPHQL_RESPONSE


async def test_an_upper_case_accept_gets_its_media_type_executed_and_from_the_cache(
    make_api: MakeApi, bearer: dict[str, str]
) -> None:
    """`APPLICATION/GRAPHQL-RESPONSE+JSON` names the spec's media type (RFC 9110, 8.3.1):
    it got application/json, on every path."""
    wanted = {**bearer, "accept": GRAPHQL_RESPONSE.upper()}
    body = {"query": "{ tiers { key } }"}
    async with make_api(response_cache=True) as api:
        posted = [await api.client.post("/graphql", json=body, headers=wanted) for _ in range(3)]
        got = [await api.client.get("/graphql", params=body, headers=wanted) for _ in range(2)]
    for response in (*posted, *got):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == GRAPHQL_RESPONSE, response.headers


async def test_a_browser_that_refuses_html_does_not_get_the_ide(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    shouted = await api.client.get("/graphql", headers={"accept": "TEXT/HTML"})
    refused = await api.client.get("/graphql", headers={"accept": "text/html;q=0, */*"})

    assert page.headers["content-type"].startswith("text/html")
    assert shouted.headers["content-type"].startswith("text/html"), shouted.text
    assert not refused.headers.get("content-type", "").startswith("text/html"), refused.text
