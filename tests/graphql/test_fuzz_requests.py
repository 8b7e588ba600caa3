"""Generated HTTP requests to `/graphql` over a real connection to `benefitgate serve`: GET
and POST with any content type, any bytes or any JSON as the body (an object whose
`query`, `variables`, `operationName`, `extensions` and `documentId` hold any JSON, or
something else), and any query string. Every answer is a JSON GraphQL response with a
typed outcome (see `check_graphql_response`). `FUZZ_REQUESTS` examples (100 by default).
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.fuzz import JSON_VALUES, Target, check_graphql_response

EXAMPLES = int(os.environ.get("FUZZ_REQUESTS", "100"))

_QUERIES = st.sampled_from(
    [
        "{ tiers { key } }",
        "query($id: ID) { account(id: $id) { __typename ... on Error { code } } }",
        "mutation { usageRecord(events: []) { __typename } }",
        "subscription { events { __typename } }",
        "query A { tiers { key } } query B { milestones { key } }",
        "{ tiers { ",
    ]
)
_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "query": _QUERIES | JSON_VALUES,
        "variables": st.dictionaries(st.sampled_from(["id", "x"]), JSON_VALUES) | JSON_VALUES,
        "operationName": st.sampled_from(["A", "B", ""]) | JSON_VALUES,
        "extensions": JSON_VALUES,
        "documentId": st.text() | JSON_VALUES,
    },
)
_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql-response+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "",
    ]
)
_ACCEPTS = st.sampled_from(
    ["application/graphql-response+json", "application/json", "*/*", "application/xml", ""]
)
_BODIES = st.one_of(
    _PARAMS.map(lambda p: json.dumps(p).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@st.composite
def _requests(draw: st.DrawFn) -> dict[str, Any]:
    headers = {"accept": draw(_ACCEPTS)}
    if draw(st.booleans()):
        params = draw(_PARAMS)
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return {"method": "GET", "params": query, "headers": headers}
    content_type = draw(_CONTENT_TYPES)
    if content_type:
        headers["content-type"] = content_type
    return {"method": "POST", "content": draw(_BODIES), "headers": headers}


def test_generated_http_requests_get_typed_answers(target: Target) -> None:
    auth = {"authorization": f"Bearer {target.credentials['admin']}"}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(request=_requests())
    def answer_is_typed(request: dict[str, Any]) -> None:
        request["headers"] = {**request["headers"], **auth}
        response = client.request(url="/graphql", **request)
        media_type = response.headers.get("content-type", "")
        if media_type.startswith("text/html"):  # GraphiQL, for a GET without a query
            assert request["method"] == "GET" and not request["params"].get("query")
            return
        assert "json" in media_type, response.text
        check_graphql_response(response.status_code, response.json(), media_type)

    with httpx.Client(base_url=f"http://127.0.0.1:{target.port}", timeout=60) as client:
        answer_is_typed()
